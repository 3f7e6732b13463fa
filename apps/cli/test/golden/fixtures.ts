// Fixed keys, clock and randomness for byte-stable gen/up tests, and the unusual spec of the golden tests.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fixedKeyProvider } from "@khw/pki";
import { type Seams, seededRandom, setSeamsForTests } from "../../src/workdir";

export const GOLDEN_DIR = import.meta.dirname ?? new URL(".", import.meta.url).pathname;

const KEYS = JSON.parse(readFileSync(join(GOLDEN_DIR, "fixed-keys.json"), "utf8")) as Record<string, string>;

export const FIXED_NOW = new Date("2026-01-15T12:00:00Z");

/** The same keys, clock and random stream on every run. */
export function fixedSeams(seed = "khw-golden"): Seams {
  return { now: () => FIXED_NOW, random: seededRandom(seed), keys: fixedKeyProvider(KEYS) };
}

export function useFixedSeams(seed?: string): void {
  setSeamsForTests(fixedSeams(seed));
}

/** 3 control planes, 1 worker, an LB, custom CIDRs, domain and SANs, bridge-routes pod network. */
export const UNUSUAL_SPEC = `apiVersion: khw/v1alpha1
kind: Cluster
name: lab-east
nodes:
  - { name: cp-1, role: controlplane, address: 10.10.0.11 }
  - { name: cp-2, role: controlplane, address: 10.10.0.12 }
  - { name: cp-3, role: controlplane, address: 10.10.0.13 }
  - { name: node-1, role: worker, address: 10.10.0.21 }
  - { name: extra-lb, role: loadbalancer, address: 10.10.0.30 }
network:
  podCIDR: 172.20.0.0/16
  serviceCIDR: 10.32.0.0/20
  dnsServiceIP: 10.32.0.53
  clusterDomain: k8s.internal
  nodeCIDRMaskSize: 26
pki:
  extraApiserverSANs: [api.lab-east.example, 203.0.113.10]
addons:
  podNetwork: bridge-routes
`;
