import { readFileSync } from "node:fs";
import { cgroupLayout, findExecutable } from "./_paths";
import { LabError } from "./errors";

export interface Prerequisite {
  what: string;
  install: string;
}

interface Tool {
  bin: string;
  pkg: string;
}

const RUNTIME_TOOLS: Tool[] = [
  { bin: "systemd-nspawn", pkg: "systemd-container" },
  { bin: "ip", pkg: "iproute2" },
  { bin: "ssh", pkg: "openssh-client" },
  { bin: "ssh-keygen", pkg: "openssh-client" },
  { bin: "ssh-keyscan", pkg: "openssh-client" },
  { bin: "tar", pkg: "tar" },
  { bin: "mount", pkg: "mount" },
  { bin: "umount", pkg: "mount" },
];

/**
 * What this machine lacks to run a lab (empty when everything is there).
 * `needBaseBuild`: mmdebstrap is only needed when the base root filesystem is not cached yet.
 */
export function missingPrerequisites(options: { needBaseBuild?: boolean } = {}): Prerequisite[] {
  const missing: Prerequisite[] = [];
  if (process.platform !== "linux") {
    missing.push({
      what: `Linux (this is ${process.platform})`,
      install: "run the lab on a Linux machine or VM",
    });
    return missing;
  }
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    missing.push({ what: "root privileges", install: "run it as root (sudo khw lab …)" });
  }
  const tools = options.needBaseBuild
    ? [...RUNTIME_TOOLS, { bin: "mmdebstrap", pkg: "mmdebstrap" }]
    : RUNTIME_TOOLS;
  for (const tool of tools) {
    if (!findExecutable(tool.bin))
      missing.push({ what: tool.bin, install: `apt-get install -y ${tool.pkg}` });
  }
  let filesystems = "";
  try {
    filesystems = readFileSync("/proc/filesystems", "utf8");
  } catch {
    // reported below
  }
  if (!/\toverlay\n/.test(filesystems)) {
    missing.push({
      what: "the overlay filesystem",
      install: "modprobe overlay (kernel with CONFIG_OVERLAY_FS)",
    });
  }
  if (cgroupLayout().roots.length === 0) {
    missing.push({
      what: "a cgroup hierarchy for systemd (/sys/fs/cgroup/systemd or cgroup v2 at /sys/fs/cgroup)",
      install: "boot with cgroups mounted (any systemd-based distribution has them)",
    });
  }
  return missing;
}

/** Throws one LabError naming everything that is missing and how to get it. */
export function assertPrerequisites(options: { needBaseBuild?: boolean } = {}): void {
  const missing = missingPrerequisites(options);
  if (missing.length > 0) throw prerequisitesError(missing);
}

/** One error for everything missing: what, and the single command (or step) that installs it. */
export function prerequisitesError(missing: readonly Prerequisite[]): LabError {
  const packages = [
    ...new Set(missing.filter((m) => m.install.startsWith("apt-get")).map((m) => m.install.split(" ").pop())),
  ];
  const list = missing.map((m) => m.what).join(", ");
  const hints = missing.filter((m) => !m.install.startsWith("apt-get")).map((m) => m.install);
  if (packages.length > 0) hints.push(`apt-get install -y ${packages.join(" ")}`);
  return new LabError("LAB_PREREQUISITES_MISSING", `the lab needs ${list}, which this machine lacks.`, {
    step: "preflight",
    hint: hints.join("; "),
  });
}
