import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { catalogueFromCluster, issuePki } from "@khw/pki";
import type { Cluster } from "@khw/spec";
import { goldenFile } from "@khw/test-kit/golden";
import { pinnedBinaries, prerequisiteSkip } from "@khw/test-kit/pinned";
import { apiBackendHealth } from "../src/index";

export { defaultCluster, unusualCluster } from "@khw/test-kit/fixtures";

import { waitFor } from "@khw/test-kit/processes";

export { freePort, Processes, waitFor } from "@khw/test-kit/processes";

export const testDir = dirname(fileURLToPath(import.meta.url));

/** Compares with test/golden/<name>; `UPDATE_GOLDEN=1` rewrites the file instead. */
export const expectGolden = goldenFile(join(testDir, "golden"));

/** `haproxy -c -f file`: exit code and output. Fails loudly when haproxy is not installed. */
export function haproxyCheck(file: string): { ok: boolean; output: string } {
  const r = spawnSync("haproxy", ["-c", "-f", file], { encoding: "utf8" });
  if (r.error) {
    throw new Error(`cannot run haproxy (${r.error.message}): install the Debian package haproxy`);
  }
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
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
