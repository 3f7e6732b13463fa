import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { catalogueFromCluster, issuePki } from "@khw/pki";
import { type Cluster, defaultClusterSpecInput, loadCluster } from "@khw/spec";
import { expect } from "vitest";

export const testDir = dirname(fileURLToPath(import.meta.url));

/** The default spec: the Vagrant lab (2 masters, 2 workers, a load balancer). */
export function defaultCluster(): Cluster {
  return loadCluster(defaultClusterSpecInput()).cluster;
}

/** 3 masters, 1 worker, custom CIDRs and domain, the load balancer on another network. */
export function unusualCluster(): Cluster {
  const input = defaultClusterSpecInput();
  return loadCluster({
    ...input,
    name: "edge-lab",
    nodes: [
      { name: "cp-a", role: "controlplane", address: "172.20.0.11" },
      { name: "cp-b", role: "controlplane", address: "172.20.0.12" },
      { name: "cp-c", role: "controlplane", address: "172.20.0.13" },
      { name: "node-1", role: "worker", address: "172.20.0.21" },
      { name: "api-lb", role: "loadbalancer", address: "172.20.0.100" },
    ],
    network: {
      podCIDR: "10.200.0.0/16",
      serviceCIDR: "10.32.0.0/24",
      clusterDomain: "lab.example",
      nodePortRange: "30000-32767",
      nodeCIDRMaskSize: 24,
    },
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

/** `haproxy -c -f file`: exit code and output. Fails loudly when haproxy is not installed. */
export function haproxyCheck(file: string): { ok: boolean; output: string } {
  const r = spawnSync("haproxy", ["-c", "-f", file], { encoding: "utf8" });
  if (r.error) {
    throw new Error(`cannot run haproxy (${r.error.message}): install the Debian package haproxy`);
  }
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
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

/**
 * The cluster's CA and its kube-apiserver certificate (CN kube-apiserver, the apiserver SANs of the
 * cluster, 127.0.0.1 among them), issued by @khw/pki and written to `dir`.
 */
export async function makeApiserverCert(
  dir: string,
  cluster: Cluster,
): Promise<{ ca: string; cert: string; key: string }> {
  const catalogue = catalogueFromCluster(cluster).filter((c) => c.id === "ca" || c.id === "kube-apiserver");
  const material = await issuePki({ catalogue, now: new Date() });
  const files = {
    ca: join(dir, "ca.crt"),
    cert: join(dir, "kube-apiserver.crt"),
    key: join(dir, "kube-apiserver.key"),
  };
  writeFileSync(files.ca, material["ca"]!.cert);
  writeFileSync(files.cert, material["kube-apiserver"]!.cert);
  writeFileSync(files.key, material["kube-apiserver"]!.key, { mode: 0o600 });
  return files;
}

/** Children started by a test, stopped by PID whatever happens. */
export class Processes {
  private readonly live = new Set<ChildProcess>();

  /** Spawns a process and resolves once `ready` matches its stdout (or rejects when it exits first). */
  start(cmd: string, args: string[], ready: RegExp | undefined): Promise<ChildProcess> {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.live.add(child);
    child.once("exit", () => this.live.delete(child));
    let output = "";
    return new Promise((resolve, reject) => {
      const onData = (d: Buffer) => {
        output += d.toString();
        if (ready?.test(output)) resolve(child);
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", (d: Buffer) => {
        output += d.toString();
      });
      child.once("error", reject);
      child.once("exit", (code, signal) =>
        reject(new Error(`${cmd} exited (${code ?? signal}) before it was ready:\n${output}`)),
      );
      if (!ready) child.once("spawn", () => resolve(child));
    });
  }

  /** SIGTERM, then SIGKILL if it has not exited; resolves when it is gone. */
  async stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((c) => this.stop(c)));
  }

  get pids(): number[] {
    return [...this.live].map((c) => c.pid!).filter(Boolean);
  }
}

/** Polls `probe` until it returns true; fails with `what` and the last observation after `deadlineMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<{ done: boolean; seen: string }>,
  deadlineMs = 30_000,
): Promise<void> {
  const end = Date.now() + deadlineMs;
  let seen = "";
  for (;;) {
    const r = await probe().catch((e: unknown) => ({ done: false, seen: String(e) }));
    seen = r.seen;
    if (r.done) return;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}; last seen: ${seen}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}
