import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Cluster, defaultClusterSpecInput, loadCluster } from "@khw/spec";
import { expect } from "vitest";

export const testDir = dirname(fileURLToPath(import.meta.url));

/** A fixed token and expiry, so golden files are byte-stable. */
export const FIXED_TOKEN = { id: "07401b", secret: "f395accd246ae52d", expiration: "2026-12-01T00:00:00Z" };

/** The default spec: the Vagrant lab (2 masters, worker-1 with a certificate, worker-2 by TLS bootstrap, a LB). */
export function defaultCluster(): Cluster {
  return loadCluster(defaultClusterSpecInput()).cluster;
}

/** 3 masters, 1 worker (TLS bootstrap), custom CIDRs, DNS IP and cluster domain, newer CoreDNS. */
export function unusualCluster(): Cluster {
  const input = defaultClusterSpecInput();
  return loadCluster({
    ...input,
    name: "edge-lab",
    nodes: [
      { name: "cp-a", role: "controlplane", address: "172.20.0.11" },
      { name: "cp-b", role: "controlplane", address: "172.20.0.12" },
      { name: "cp-c", role: "controlplane", address: "172.20.0.13" },
      { name: "node-1", role: "worker", address: "172.20.0.21", kubelet: { credentials: "tls-bootstrap" } },
      { name: "api-lb", role: "loadbalancer", address: "172.20.0.100" },
    ],
    network: {
      podCIDR: "10.200.0.0/16",
      serviceCIDR: "10.32.0.0/24",
      dnsServiceIP: "10.32.0.53",
      clusterDomain: "lab.example",
      nodePortRange: "31000-31999",
      nodeCIDRMaskSize: 24,
    },
    versions: { ...input.versions, coredns: "1.12.1" },
  }).cluster;
}

/** Compares with test/golden/<name>; `UPDATE_GOLDEN=1` rewrites the file instead. */
export function expectGolden(name: string, actual: string): void {
  const file = join(testDir, "golden", name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.UPDATE_GOLDEN !== "1" && process.env.CI) {
      throw new Error(`golden file ${name} is missing; run with UPDATE_GOLDEN=1 and commit it`);
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, "utf8"));
}

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

  /** Spawns a process, collecting its output into `log` (for failure messages). */
  start(cmd: string, args: string[], log: { text: string }): ChildProcess {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.live.add(child);
    child.once("exit", () => this.live.delete(child));
    const keep = (d: Buffer) => {
      log.text = (log.text + d.toString()).slice(-20_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    return child;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
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

/** Polls `probe` until it returns true; fails with `what` and the last observation after `deadlineMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<{ done: boolean; seen: string }> | { done: boolean; seen: string },
  deadlineMs = 60_000,
): Promise<void> {
  const end = Date.now() + deadlineMs;
  let seen = "";
  for (;;) {
    const r = await Promise.resolve()
      .then(probe)
      .catch((e: unknown) => ({ done: false, seen: String(e) }));
    seen = r.seen;
    if (r.done) return;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}; last seen: ${seen}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}
