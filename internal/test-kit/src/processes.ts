// A process supervisor for tests that run real daemons (etcd, kube-apiserver, haproxy, …): every child
// is tracked and stopped by PID whatever happens; plus a free-port finder and a polling wait.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Children started by a test, stopped by PID whatever happens. */
export class Processes {
  private readonly live = new Set<ChildProcess>();
  private readonly outputs = new Map<ChildProcess, () => string>();

  /** The last 50 kB of a child's stdout and stderr. */
  output(child: ChildProcess): string {
    return this.outputs.get(child)?.() ?? "";
  }

  /**
   * Spawns a process; resolves once `ready` matches its stdout (or at once without `ready`), rejects
   * when it exits first.
   */
  start(cmd: string, args: string[], ready?: RegExp): Promise<ChildProcess> {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.live.add(child);
    child.once("exit", () => this.live.delete(child));
    let output = "";
    this.outputs.set(child, () => output);
    return new Promise((resolve, reject) => {
      const onData = (d: Buffer) => {
        output = (output + d.toString()).slice(-50_000);
        if (ready?.test(output)) resolve(child);
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", (d: Buffer) => {
        output = (output + d.toString()).slice(-50_000);
      });
      child.once("error", reject);
      child.once("exit", (code, signal) =>
        reject(new Error(`${cmd} exited (${code ?? signal}) before it was ready:\n${output}`)),
      );
      if (!ready) child.once("spawn", () => resolve(child));
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs` if it has not exited; resolves when it is gone. */
  async stop(child: ChildProcess, graceMs = 5000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(graceMs === 0 ? "SIGKILL" : "SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }

  async stopAll(graceMs = 5000): Promise<void> {
    await Promise.all([...this.live].map((c) => this.stop(c, graceMs)));
  }

  get pids(): number[] {
    return [...this.live].map((c) => c.pid!).filter(Boolean);
  }
}

/** Polls `probe` until it reports done; fails with `what` and the last observation after `deadlineMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<{ done: boolean; seen: string }> | { done: boolean; seen: string },
  deadlineMs = 30_000,
): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const r = await Promise.resolve()
      .then(probe)
      .catch((e: unknown) => ({ done: false, seen: String(e) }));
    if (r.done) return;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}; last seen: ${r.seen}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}
