import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { khwCacheRoot } from "@khw/host-io";

/** Finds an executable in PATH plus the sbin directories (root's tools live there). */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function defaultCacheDir(): string {
  return join(khwCacheRoot(), "lab");
}

/** Where labs announce themselves so `labDown({ labName })` works from anywhere (tmpfs: gone after reboot, like the lab). */
export const RUN_DIR = "/run/khw-lab";

export interface CgroupLayout {
  /** Hierarchy roots in which the lab creates `<labCgroup>/<host>` directories. */
  roots: string[];
}

/** The cgroup hierarchies a launcher must be moved into (hybrid v1 `name=systemd` + unified, or pure v2). */
export function cgroupLayout(): CgroupLayout {
  if (existsSync("/sys/fs/cgroup/systemd/cgroup.procs")) {
    const roots = ["/sys/fs/cgroup/systemd"];
    if (existsSync("/sys/fs/cgroup/unified/cgroup.procs")) roots.push("/sys/fs/cgroup/unified");
    return { roots };
  }
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) return { roots: ["/sys/fs/cgroup"] };
  return { roots: [] };
}
