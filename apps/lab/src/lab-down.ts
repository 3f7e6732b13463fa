import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { run, sleep } from "./_exec";
import {
  cgroupHierarchies,
  cgroupPids,
  cmdline,
  isAlive,
  isMountPoint,
  linkExists,
  mounts,
  removeCgroupTree,
  signal,
} from "./_system";
import { LabError } from "./errors";
import {
  announcedLabs,
  DEFAULT_LAB_NAME,
  findLabState,
  labStateDir,
  readLabState,
  removeLabState,
} from "./state";
import { assertLabName, labNames } from "./topology";

export interface LabDownOptions {
  /** The directory `labUp` ran in (its `.khw-lab/state.json` names the lab). */
  workdir?: string;
  /** The lab's name, when the workdir is unknown (default "khw"). */
  labName?: string;
  onLog?: (line: string) => void;
  /** Seconds to wait for hosts to halt after SIGTERM before killing them (default 10). */
  stopTimeoutSeconds?: number;
}

export interface LabDownReport {
  labName: string;
  /** Whether a state record was found (false: cleaned up by name only). */
  hadState: boolean;
  /** Every host whose systemd-nspawn ran and is gone now (halted cleanly or killed). */
  stoppedHosts: string[];
  /** Those of stoppedHosts that did not halt within the timeout and were killed. */
  killedHosts: string[];
  killedProcesses: number;
  unmounted: string[];
  removedCgroups: string[];
  bridgeRemoved: boolean;
  mirrorStopped: boolean;
  seconds: number;
}

export const NSPAWN_RUN_DIR = "/run/systemd/nspawn";
export const NSPAWN_TMPFS_TAG = "khw-lab-nspawn";

/**
 * Stops every host and the mirror, unmounts every overlay, removes the cgroup dirs and the bridge.
 * Works from the state record, and also from names alone (after a crash or a lost state dir).
 * Throws LAB_CLEANUP_INCOMPLETE naming whatever could not be removed.
 */
export async function labDown(options: LabDownOptions = {}): Promise<LabDownReport> {
  const started = performance.now();
  const log = options.onLog ?? (() => {});
  const state = findLabState(options);
  const labName = state?.labName ?? options.labName ?? DEFAULT_LAB_NAME;
  assertLabName(labName);
  // Asked from a directory that holds no lab, without a name: never tear down a lab another directory
  // (another engineer, a running test) started, just because it has the default name.
  if (
    options.workdir &&
    options.labName === undefined &&
    state &&
    resolve(state.workdir) !== resolve(options.workdir) &&
    state.hosts.some((h) => h.pid > 0 && isAlive(h.pid))
  ) {
    throw new LabError(
      "LAB_CONFLICT",
      `no lab was started in ${resolve(options.workdir)}; lab "${labName}" runs from ${state.workdir}.`,
      {
        step: "down",
        hint: `run \`khw lab down\` in ${state.workdir}, or name it: khw lab down --name ${labName}`,
      },
    );
  }
  const names = labNames(labName);
  const report: LabDownReport = {
    labName,
    hadState: state !== undefined,
    stoppedHosts: [],
    killedHosts: [],
    killedProcesses: 0,
    unmounted: [],
    removedCgroups: [],
    bridgeRemoved: false,
    mirrorStopped: false,
    seconds: 0,
  };
  const labCgroups = [
    ...new Set([...(state?.cgroups ?? []), ...cgroupHierarchies().map((h) => join(h, names.cgroup))]),
  ].filter((d) => existsSync(d));
  const pidsInLab = () => [...new Set(labCgroups.flatMap((d) => cgroupPids(d)))];

  // 1. Ask every launcher (and the mirror) to stop: SIGTERM makes nspawn halt its host cleanly.
  const launchers = new Map<number, string>();
  for (const host of state?.hosts ?? []) {
    if (host.pid > 0 && isAlive(host.pid) && isNspawn(host.pid)) launchers.set(host.pid, host.name);
  }
  for (const pid of pidsInLab()) {
    if (isNspawn(pid) && !launchers.has(pid)) launchers.set(pid, machineOf(pid) ?? `pid ${pid}`);
  }
  const mirrorPid = state?.mirror?.pid;
  const mirrorPids = new Set<number>();
  if (mirrorPid && isAlive(mirrorPid) && cmdline(mirrorPid).some((a) => a.endsWith("mirror.cjs"))) {
    mirrorPids.add(mirrorPid);
  }
  for (const pid of pidsInLab()) if (cmdline(pid).some((a) => a.endsWith("mirror.cjs"))) mirrorPids.add(pid);
  for (const [pid, name] of launchers) {
    log(`[down] stopping ${name}`);
    signal(pid, "SIGTERM");
  }
  for (const pid of mirrorPids) signal(pid, "SIGTERM");
  const deadline = Date.now() + (options.stopTimeoutSeconds ?? 10) * 1000;
  while (Date.now() < deadline && [...launchers.keys(), ...mirrorPids].some(isAlive)) await sleep(100);
  const halted = new Set([...launchers].filter(([pid]) => !isAlive(pid)).map(([, name]) => name));
  report.mirrorStopped = mirrorPids.size > 0 && [...mirrorPids].every((p) => !isAlive(p));

  // 2. Whatever is still in the lab's cgroups (a crashed launcher's orphaned host, a stuck mirror): kill it.
  for (let round = 0; round < 50; round++) {
    const left = pidsInLab().filter(isAlive);
    if (left.length === 0) break;
    if (round === 0) log(`[down] killing ${left.length} leftover process(es)`);
    for (const pid of left) if (signal(pid, "SIGKILL")) report.killedProcesses++;
    await sleep(100);
  }
  if (mirrorPids.size > 0 && [...mirrorPids].every((p) => !isAlive(p))) report.mirrorStopped = true;
  // Counted once every launcher is gone: a host that took longer than the timeout to halt was killed,
  // and is stopped all the same.
  for (const [pid, name] of launchers) {
    if (isAlive(pid)) continue;
    report.stoppedHosts.push(name);
    if (!halted.has(name)) report.killedHosts.push(name);
  }

  // 3. Unmount the hosts' overlays (found by their mount source tag) and the lab's nspawn tmpfs.
  const ours = (m: { source: string; mountPoint: string }) =>
    m.source === names.mountTag ||
    (state !== undefined && m.mountPoint.startsWith(join(state.stateDir, "hosts")));
  for (let round = 0; round < 3; round++) {
    const left = mounts().filter(ours);
    if (left.length === 0) break;
    for (const m of left.reverse()) {
      const r = await run("umount", round < 2 ? [m.mountPoint] : ["-l", m.mountPoint]);
      if (r.code === 0) report.unmounted.push(m.mountPoint);
    }
    if (mounts().some(ours)) await sleep(300);
  }
  const otherLabs = announcedLabs().filter((n) => n !== labName);
  if (otherLabs.length === 0 && isMountPoint(NSPAWN_RUN_DIR)) {
    const m = mounts().find((x) => x.mountPoint === NSPAWN_RUN_DIR);
    if (m?.source === NSPAWN_TMPFS_TAG) {
      const r = await run("umount", [NSPAWN_RUN_DIR]);
      if (r.code === 0) report.unmounted.push(NSPAWN_RUN_DIR);
    }
  }

  // 4. The cgroup dirs, depth-first.
  const cgroupFailures: string[] = [];
  for (const dir of labCgroups) {
    const failed = removeCgroupTree(dir);
    if (failed.length === 0) report.removedCgroups.push(dir);
    cgroupFailures.push(...failed);
  }

  // 5. The bridge.
  if (await linkExists(names.bridge)) {
    const r = await run("ip", ["link", "del", "dev", names.bridge]);
    report.bridgeRemoved = r.code === 0;
    if (r.code === 0) log(`[down] removed bridge ${names.bridge}`);
  }

  // 6. Host files and the state record (the lab key, known_hosts and cluster.yaml stay).
  // (Never another lab's: a workdir whose state names a different lab is left alone.)
  const workdirState = options.workdir ? readLabState({ workdir: options.workdir }) : undefined;
  const stateDir =
    state?.stateDir ??
    (options.workdir && (!workdirState || workdirState.labName === labName)
      ? labStateDir(options.workdir)
      : undefined);
  if (stateDir) {
    const hostsDir = join(stateDir, "hosts");
    const mounted = mounts().some(
      (m) => m.mountPoint === hostsDir || m.mountPoint.startsWith(`${hostsDir}/`),
    );
    if (!mounted) rmSync(hostsDir, { recursive: true, force: true });
  }
  removeLabState({ labName, ...(stateDir ? { stateDir } : {}) });

  const leftovers = await findLeftovers(labName, state?.stateDir);
  report.seconds = (performance.now() - started) / 1000;
  if (leftovers.length > 0 || cgroupFailures.length > 0) {
    throw new LabError(
      "LAB_CLEANUP_INCOMPLETE",
      `lab "${labName}" could not be fully removed: ${[...new Set([...leftovers, ...cgroupFailures])].join(", ")}.`,
      {
        step: "down",
        hint: "run `khw lab down` again; if it persists, stop those processes or unmount by hand",
      },
    );
  }
  return report;
}

/** What of a lab is still on this machine (processes, mounts, cgroup dirs, the bridge); empty when nothing. */
export async function findLeftovers(labName: string, stateDir?: string): Promise<string[]> {
  const names = labNames(labName);
  const out: string[] = [];
  for (const h of cgroupHierarchies()) {
    const dir = join(h, names.cgroup);
    if (!existsSync(dir)) continue;
    const pids = cgroupPids(dir).filter(isAlive);
    out.push(pids.length > 0 ? `cgroup ${dir} (processes ${pids.join(" ")})` : `cgroup dir ${dir}`);
  }
  for (const m of mounts()) {
    if (m.source === names.mountTag || (stateDir && m.mountPoint.startsWith(join(stateDir, "hosts")))) {
      out.push(`mount ${m.mountPoint}`);
    }
  }
  if (await linkExists(names.bridge)) out.push(`bridge ${names.bridge}`);
  return out;
}

function isNspawn(pid: number): boolean {
  const argv0 = cmdline(pid)[0] ?? "";
  return argv0.endsWith("systemd-nspawn");
}

function machineOf(pid: number): string | undefined {
  const argv = cmdline(pid);
  const i = argv.indexOf("-M");
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith("--machine="))?.slice(10);
}

/** Every lab this machine knows of (announced in /run/khw-lab or with a `khw-lab-*` cgroup). */
export function knownLabNames(): string[] {
  const found = new Set(announcedLabs());
  for (const h of cgroupHierarchies()) {
    try {
      for (const d of readdirSync(h)) if (d.startsWith("khw-lab-")) found.add(d.slice("khw-lab-".length));
    } catch {
      // not readable
    }
  }
  return [...found].sort();
}
