import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fixedKeyProvider, type KeyAlgorithm, type KeyProvider, type RandomSource } from "@khw/pki";
import {
  type Cluster,
  type ClusterSpecInput,
  ClusterSpecSchema,
  defaultClusterSpecInput,
  resolveCluster,
} from "@khw/spec";

import { deriveSpec, unusualSpec } from "@khw/test-kit/fixtures";
import { readTlv } from "../src/_der";

const here = dirname(fileURLToPath(import.meta.url));

/** The fixed clock of every unit test. */
export const NOW = new Date("2026-03-01T12:00:00Z");

export function fixtureKey(name: string): string {
  return readFileSync(join(here, "fixtures", "keys", `${name}.pem`), "utf8");
}

/** Byte-stable "randomness": SHA-256 of a seed and a counter. */
export function seededRandom(seed = "khw"): RandomSource {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let o = 0; o < n; o += 32) {
      const block = createHash("sha256").update(`${seed}:${counter++}`).digest();
      out.set(block.subarray(0, Math.min(32, n - o)), o);
    }
    return out;
  };
}

const PREFIX: Record<KeyAlgorithm, string> = { "rsa-2048": "rsa", "rsa-4096": "rsa4096", "ecdsa-p256": "ec" };

/** Fixed keys: the CA gets `<alg>-ca`, leaves share three leaf keys, picked by id. */
export function testKeys(algorithm: KeyAlgorithm = "rsa-2048"): KeyProvider {
  const p = PREFIX[algorithm];
  if (algorithm === "rsa-4096")
    return fixedKeyProvider({ "rsa-4096": fixtureKey("rsa4096-leaf-1"), ca: fixtureKey("rsa-ca") });
  const leaves = [1, 2, 3].map((i) => fixtureKey(`${p}-leaf-${i}`));
  const ca = fixtureKey(`${p}-ca`);
  return async ({ id }) =>
    id === "ca" ? ca : leaves[[...id].reduce((n, ch) => n + ch.charCodeAt(0), 0) % 3]!;
}

export function clusterOf(input: ClusterSpecInput): Cluster {
  return resolveCluster(ClusterSpecSchema.parse(input)).cluster;
}

/** The default spec (the Vagrant lab: 2 masters, worker-1 with a certificate, worker-2 bootstrapping, an LB). */
export function defaultCluster(algorithm: KeyAlgorithm = "rsa-2048"): Cluster {
  const input = defaultClusterSpecInput();
  return clusterOf({ ...input, pki: { ...input.pki, keyAlgorithm: algorithm } });
}

/** The kit's unusual spec with a certificate worker, other names, addresses, CIDRs and domain, and extra apiserver SANs. */
export function unusualCluster(algorithm: KeyAlgorithm = "rsa-2048"): Cluster {
  return clusterOf(
    deriveSpec(unusualSpec(), {
      name: "odd",
      rename: { "node-1": "node-x", "api-lb": "lb" },
      address: (i) => `10.20.0.${[11, 12, 13, 21, 30][i]}`,
      node: (n) => (n.role === "worker" ? { ...n, kubelet: { credentials: "certificate" } } : n),
      versions: defaultClusterSpecInput().versions,
      network: {
        podCIDR: "172.20.0.0/16",
        serviceCIDR: "10.32.0.0/24",
        clusterDomain: "corp.example",
        nodePortRange: "30000-32767",
        nodeCIDRMaskSize: 24,
      },
      pki: {
        keyAlgorithm: algorithm,
        caValidityDays: 1000,
        validityDays: 90,
        extraApiserverSANs: ["api.corp.example", "203.0.113.7"],
      },
    }),
  );
}

/** A scratch directory; call the returned function to delete it. */
export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "khw-pki-test-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function openssl(args: string[], input?: string): string {
  return execFileSync("openssl", args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

export function writeFile(dir: string, name: string, contents: string): string {
  const path = join(dir, name);
  writeFileSync(path, contents);
  return path;
}

/** `openssl x509 -text -noout` parsed into the facts the tests compare against the catalogue. */
export interface OpensslFacts {
  subject: string;
  issuer: string;
  version: string;
  signatureAlgorithm: string;
  publicKeyAlgorithm: string;
  extensions: Record<string, { critical: boolean; value: string }>;
}

export function opensslText(pem: string): OpensslFacts {
  const text = openssl(["x509", "-noout", "-text", "-nameopt", "RFC2253"], pem);
  const lines = text.split("\n");
  const field = (name: string) => {
    const line = lines.find((l) => l.trim().startsWith(`${name}:`));
    if (!line) throw new Error(`openssl output has no ${name}:\n${text}`);
    return line
      .trim()
      .slice(name.length + 1)
      .trim();
  };
  const extensions: OpensslFacts["extensions"] = {};
  const start = lines.findIndex((l) => l.trim() === "X509v3 extensions:");
  if (start >= 0) {
    for (let i = start + 1; i < lines.length; i++) {
      const m = /^\s{12}(X509v3 [^:]+):\s*(critical)?\s*$/.exec(lines[i]!);
      if (m) extensions[m[1]!] = { critical: m[2] === "critical", value: lines[i + 1]!.trim() };
      if (/^\s{4}Signature Algorithm/.test(lines[i]!)) break;
    }
  }
  return {
    subject: field("Subject"),
    issuer: field("Issuer"),
    version: field("Version"),
    signatureAlgorithm: field("Signature Algorithm"),
    publicKeyAlgorithm: field("Public Key Algorithm"),
    extensions,
  };
}

/**
 * A certificate split into what is signed (tbsCertificate + signatureAlgorithm, hex) and the
 * signature (hex): ECDSA signatures carry OpenSSL's random nonce, everything they sign is byte-stable.
 */
export function signedAndSignature(pem: string): { signed: string; signature: string } {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
  const der = new X509Certificate(pem).raw;
  const outer = readTlv(der, 0);
  const tbs = readTlv(der, outer.start);
  const alg = readTlv(der, tbs.end);
  return {
    signed: Buffer.from(der.subarray(outer.start, alg.end)).toString("hex"),
    signature: Buffer.from(der.subarray(alg.end, outer.end)).toString("hex"),
  };
}
