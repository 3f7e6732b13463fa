import { existsSync, readdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { run } from "./_exec";

export { processAlive as isAlive } from "@khw/host-io";

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** All PIDs in a cgroup directory and its descendants. */
export function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    try {
      for (const line of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) {
        const pid = Number(line);
        if (line && Number.isInteger(pid)) pids.push(pid);
      }
    } catch {
      // vanished
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(dir);
  return pids;
}

/** Removes a cgroup directory tree depth-first; returns the directories that could not be removed. */
export function removeCgroupTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const failed: string[] = [];
  const walk = (d: string) => {
    let entries: import("node:fs").Dirent[] = [];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
    try {
      rmdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") failed.push(d);
    }
  };
  walk(dir);
  return failed;
}

/** Every mounted cgroup hierarchy directory (v1 controllers, name=systemd, unified / v2). */
export function cgroupHierarchies(): string[] {
  const roots: string[] = [];
  for (const m of mounts()) {
    if (m.fstype === "cgroup" || m.fstype === "cgroup2") roots.push(m.mountPoint);
  }
  return roots;
}

export interface MountInfo {
  mountPoint: string;
  fstype: string;
  source: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export function mounts(): MountInfo[] {
  let text = "";
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const l = left.split(" ");
    const r = right.split(" ");
    out.push({
      mountPoint: unescapeMount(l[4] ?? ""),
      fstype: r[0] ?? "",
      source: unescapeMount(r[1] ?? ""),
    });
  }
  return out;
}

export function isMountPoint(path: string): boolean {
  return mounts().some((m) => m.mountPoint === path);
}

export async function linkExists(name: string): Promise<boolean> {
  const r = await run("ip", ["link", "show", "dev", name]);
  return r.code === 0;
}

/** Interfaces holding an IPv4 address, as `{ ifname, address }`. */
export async function ipv4Addresses(): Promise<Array<{ ifname: string; address: string }>> {
  const r = await run("ip", ["-j", "-4", "addr", "show"]);
  if (r.code !== 0) return [];
  try {
    const links = JSON.parse(r.stdout) as Array<{ ifname: string; addr_info?: Array<{ local: string }> }>;
    return links.flatMap((l) => (l.addr_info ?? []).map((a) => ({ ifname: l.ifname, address: a.local })));
  } catch {
    return [];
  }
}

/** Proportional set size of a set of processes, in bytes (shared pages split between sharers). */
export function pssBytes(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // exited
    }
  }
  return total;
}
