import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LabError } from "./errors";
import type { LabRole } from "./topology";

/**
 * Kernel limits every lab host shares with the machine (no user namespace: the hosts' processes all
 * count as the machine's root). A kubelet that cannot get an inotify instance exits with
 * `inotify_init: too many open files`, so a lab larger than the limit allows loses workers silently.
 */
export interface HostLimit {
  /** sysctl name, e.g. fs.inotify.max_user_instances */
  sysctl: string;
  current: number;
  /** What this lab needs on top of what the machine already uses (rounded up to a power of two). */
  needed: number;
  /** Already in use on the machine (inotify instances open now), when known. */
  inUse?: number;
}

/**
 * Inotify instances per lab host, measured on the default lab after \`khw up\` (systemd, journald,
 * networkd, logind, dbus, sshd and the components): control planes 13-18, workers 16-17 (containerd, the
 * kubelet, kube-proxy), the load balancer 8; rounded up, so a short limit is caught before a kubelet
 * exits with "too many open files" (the issue's 3 control planes + 3 workers fit 128, 3 + 10 did not).
 */
export const INOTIFY_INSTANCES_PER_HOST: Record<LabRole, number> = {
  controlplane: 16,
  loadbalancer: 8,
  worker: 20,
};
/** Inotify watches per host (the kubelet and containerd watch every pod's files). */
export const INOTIFY_WATCHES_PER_HOST = 8192;

const SYSCTL_FILES: Record<string, string> = {
  "fs.inotify.max_user_instances": "/proc/sys/fs/inotify/max_user_instances",
  "fs.inotify.max_user_watches": "/proc/sys/fs/inotify/max_user_watches",
};

function readNumber(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, "utf8").trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Inotify instances open on this machine now (every process's fds pointing at anon_inode:inotify). */
export function inotifyInstancesInUse(procDir = "/proc"): number {
  let count = 0;
  let pids: string[] = [];
  try {
    pids = readdirSync(procDir).filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(join(procDir, pid, "fd"));
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(join(procDir, pid, "fd", fd)) === "anon_inode:inotify") count++;
      } catch {
        // closed meanwhile
      }
    }
  }
  return count;
}

const nextPowerOfTwo = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

/** What a lab of these hosts needs of each limit (pure: current values and use passed in). */
export function hostLimitNeeds(
  roles: readonly LabRole[],
  current: { instances: number; watches: number; instancesInUse: number },
): HostLimit[] {
  const instances = roles.reduce((n, r) => n + INOTIFY_INSTANCES_PER_HOST[r], 0) + current.instancesInUse;
  const watches = roles.length * INOTIFY_WATCHES_PER_HOST;
  return [
    {
      sysctl: "fs.inotify.max_user_instances",
      current: current.instances,
      needed: nextPowerOfTwo(instances),
      inUse: current.instancesInUse,
    },
    { sysctl: "fs.inotify.max_user_watches", current: current.watches, needed: nextPowerOfTwo(watches) },
  ];
}

/** The limits this machine has too low for a lab of these hosts (empty when all are enough). */
export function shortHostLimits(roles: readonly LabRole[]): HostLimit[] {
  const instances = readNumber(SYSCTL_FILES["fs.inotify.max_user_instances"]!);
  const watches = readNumber(SYSCTL_FILES["fs.inotify.max_user_watches"]!);
  if (instances === undefined || watches === undefined) return [];
  return hostLimitNeeds(roles, { instances, watches, instancesInUse: inotifyInstancesInUse() }).filter(
    (l) => l.current < l.needed,
  );
}

/** The error that names every short limit, the value this lab needs and both ways to raise it. */
export function hostLimitsError(short: readonly HostLimit[], hosts: number): LabError {
  const what = short
    .map(
      (l) =>
        `${l.sysctl} is ${l.current}, a lab of ${hosts} hosts needs ${l.needed}${l.inUse ? ` (${l.inUse} already in use)` : ""}`,
    )
    .join("; ");
  return new LabError("LAB_HOST_LIMITS", `${what}: kubelets would fail with "too many open files".`, {
    step: "preflight",
    hint: `raise it: sysctl -w ${short.map((l) => `${l.sysctl}=${l.needed}`).join(" ")} (or pass --raise-limits to let khw lab up do it; persist it in /etc/sysctl.d/)`,
  });
}

/** Raises the given limits to what is needed (the machine's kernel settings: only on explicit request). */
export function raiseHostLimits(short: readonly HostLimit[]): string[] {
  const done: string[] = [];
  for (const l of short) {
    const file = SYSCTL_FILES[l.sysctl];
    if (!file) continue;
    writeFileSync(file, `${l.needed}\n`);
    done.push(`${l.sysctl}=${l.needed} (was ${l.current})`);
  }
  return done;
}
