import { run, sleep } from "./_exec";
import { cmdline, isAlive, linkExists, signal } from "./_system";
import { LabError } from "./errors";
import { type LabTarget, resolveLabHost } from "./lab-ssh";
import { launchHost, waitForSsh } from "./lab-up";
import { writeLabState } from "./state";

export interface LabHostActionResult {
  host: string;
  /** false: it already was in the asked state. */
  changed: boolean;
  seconds: number;
}

const isNspawn = (pid: number) => (cmdline(pid)[0] ?? "").endsWith("systemd-nspawn");
const running = (pid: number) => pid > 0 && isAlive(pid) && isNspawn(pid);

/**
 * Powers one lab host off, as `machinectl poweroff` would (which needs a system bus this kind of machine
 * lacks): SIGTERM to its systemd-nspawn makes the host's systemd shut down cleanly; SIGKILL after
 * `timeoutSeconds`. Its disk (the overlay's upper dir) stays, so `labStartHost` boots the same host again.
 */
export async function labStopHost(
  target: LabTarget & { timeoutSeconds?: number },
): Promise<LabHostActionResult> {
  const t0 = performance.now();
  const { host } = resolveLabHost(target);
  if (!running(host.pid)) return { host: host.name, changed: false, seconds: 0 };
  signal(host.pid, "SIGTERM");
  const deadline = Date.now() + (target.timeoutSeconds ?? 20) * 1000;
  while (isAlive(host.pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(host.pid)) {
    signal(host.pid, "SIGKILL");
    const killed = Date.now() + 5000;
    while (isAlive(host.pid) && Date.now() < killed) await sleep(50);
  }
  if (isAlive(host.pid)) {
    throw new LabError("LAB_COMMAND_FAILED", `${host.name} did not stop (pid ${host.pid}).`, {
      step: "stop",
      host: host.name,
      hint: "run `khw lab down` to remove the whole lab",
    });
  }
  return { host: host.name, changed: true, seconds: (performance.now() - t0) / 1000 };
}

/** Boots a stopped lab host again (same disk, same address, same SSH host keys) and waits for its sshd. */
export async function labStartHost(
  target: LabTarget & { readyTimeoutSeconds?: number },
): Promise<LabHostActionResult> {
  const t0 = performance.now();
  const { state, host } = resolveLabHost(target);
  if (running(host.pid)) return { host: host.name, changed: false, seconds: 0 };
  // The stopped host's veth (nspawn's vb-<name>) can outlive its launcher for a moment: a new nspawn then
  // fails with "Failed to add new veth interfaces: File exists" (found by the e2e). Remove it first.
  const veth = `vb-${host.name}`.slice(0, 15);
  if (await linkExists(veth)) await run("ip", ["link", "del", "dev", veth]);
  host.pid = launchHost(host, state);
  writeLabState(state);
  // The launcher is a shell that moves itself into the host's cgroup, then execs systemd-nspawn: wait
  // for the exec before judging the host by its launcher.
  const execDeadline = Date.now() + 5000;
  while (isAlive(host.pid) && !isNspawn(host.pid) && Date.now() < execDeadline) await sleep(20);
  await waitForSsh(host, (target.readyTimeoutSeconds ?? 60) * 1000);
  return { host: host.name, changed: true, seconds: (performance.now() - t0) / 1000 };
}
