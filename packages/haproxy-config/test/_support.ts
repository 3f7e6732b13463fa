import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pinnedBinaries, prerequisiteSkip } from "@khw/bundle";
import { catalogueFromCluster, issuePki } from "@khw/pki";
import { type Cluster, defaultClusterSpecInput, loadCluster } from "@khw/spec";
import { expect } from "vitest";
import { apiBackendHealth } from "../src/index";

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
  private readonly outputs = new Map<ChildProcess, () => string>();

  /** The last 50 kB of a child's stdout and stderr. */
  output(child: ChildProcess): string {
    return this.outputs.get(child)?.() ?? "";
  }

  /** Spawns a process and resolves once `ready` matches its stdout (or rejects when it exits first). */
  start(cmd: string, args: string[], ready: RegExp | undefined): Promise<ChildProcess> {
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

/**
 * The pinned Kubernetes v1.34.4 and etcd v3.6.16 binaries of the bundle `khw bundle build` fills
 * (@khw/bundle's pinnedBinaries). `missing` is the skip reason locally; in CI a missing binary throws.
 */
export function kubeBinaries(): { apiserver: string; kubectl: string; etcd: string; missing: string[] } {
  const pinned = pinnedBinaries();
  const skip = prerequisiteSkip(pinned.missing);
  return {
    apiserver: pinned.kubeApiserver,
    kubectl: pinned.kubectl,
    etcd: pinned.etcd,
    missing: skip ? [skip] : [],
  };
}

/** HAProxy's stats page as CSV text. */
export function statsCsv(statsPort: number): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet({ host: "127.0.0.1", port: statsPort, path: "/stats;csv", agent: false }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => {
        body += d.toString();
      });
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

/** Each server of the API backend (read with the package's own apiBackendHealth): status and sessions. */
export async function serverStats(
  statsPort: number,
): Promise<Record<string, { status: string; sessions: number }>> {
  const health = apiBackendHealth(await statsCsv(statsPort));
  return Object.fromEntries(health.servers.map((s) => [s.name, { status: s.status, sessions: s.sessions }]));
}

/** name → status (UP, DOWN, "UP 1/2", …). */
export async function serverStatus(statsPort: number): Promise<Record<string, string>> {
  const s = await serverStats(statsPort);
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.status]));
}

/** Polls HAProxy's stats until `server` has exactly `status`. */
export async function waitForStatus(statsPort: number, server: string, status: "UP" | "DOWN"): Promise<void> {
  await waitFor(`${server} to be ${status}`, async () => {
    const s = await serverStatus(statsPort);
    return { done: s[server] === status, seen: JSON.stringify(s) };
  });
}
