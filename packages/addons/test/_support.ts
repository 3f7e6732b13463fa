import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
