import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  assertValidCatalogue,
  type CertificateSpec,
  canonicalIp,
  catalogueEntry,
  catalogueFromCluster,
  catalogueIssues,
  catalogueTable,
  isIpAddress,
  PkiError,
} from "@khw/pki";
import { describe, expect, it } from "vitest";
import { defaultCluster, unusualCluster } from "./helpers";

const here = dirname(fileURLToPath(import.meta.url));

describe.each([
  ["default", defaultCluster("rsa-2048")],
  ["default ECDSA", defaultCluster("ecdsa-p256")],
  ["unusual", unusualCluster()],
])("catalogue invariants (%s spec)", (_name, cluster) => {
  const catalogue = catalogueFromCluster(cluster);

  it("holds every invariant", () => {
    expect(catalogueIssues(catalogue)).toEqual([]);
    expect(() => assertValidCatalogue(catalogue)).not.toThrow();
  });

  it("has unique ids", () => {
    expect(new Set(catalogue.map((c) => c.id)).size).toBe(catalogue.length);
  });

  it("lists every signer before what it signs, and every signer is a CA", () => {
    catalogue.forEach((c, i) => {
      if (c.signer === null) return;
      const j = catalogue.findIndex((s) => s.id === c.signer);
      expect(j, c.id).toBeGreaterThanOrEqual(0);
      expect(j, c.id).toBeLessThan(i);
      expect(catalogue[j]!.isCA).toBe(true);
    });
  });

  it("gives every leaf a key usage and every serving certificate SANs", () => {
    for (const c of catalogue.filter((e) => !e.isCA)) expect(c.keyUsage.length, c.id).toBeGreaterThan(0);
    const servers = catalogue.filter((e) => e.extKeyUsage.includes("serverAuth"));
    expect(servers.map((s) => s.id)).toEqual(expect.arrayContaining(["kube-apiserver", "etcd-server"]));
    for (const s of servers) expect(s.sans.dns.length + s.sans.ips.length, s.id).toBeGreaterThan(0);
  });

  it("uses the spec's key algorithm and validity everywhere", () => {
    for (const c of catalogue) {
      expect(c.keyAlgorithm).toBe(cluster.spec.pki.keyAlgorithm);
      expect(c.validityDays).toBe(c.isCA ? cluster.spec.pki.caValidityDays : cluster.spec.pki.validityDays);
    }
  });

  it("never sends the CA key to a worker or the load balancer", () => {
    const ca = catalogueEntry(catalogue, "ca");
    for (const d of ca.destinations.filter((x) => x.keyPath)) {
      for (const h of d.hosts) {
        expect("role" in h ? h.role : h.host).not.toMatch(/^(worker|loadbalancer)$/);
        if ("host" in h)
          expect(cluster.workers.map((w) => w.name).concat(cluster.loadBalancer?.name ?? [])).not.toContain(
            h.host,
          );
      }
    }
  });
});

const leaf = (over: Partial<CertificateSpec>): CertificateSpec => ({
  id: "x",
  description: "",
  signer: "root",
  isCA: false,
  subject: { CN: "x" },
  keyUsage: ["digitalSignature"],
  extKeyUsage: ["clientAuth"],
  sans: { dns: [], ips: [] },
  validityDays: 10,
  keyAlgorithm: "ecdsa-p256",
  destinations: [],
  ...over,
});
const root = leaf({ id: "root", signer: null, isCA: true, keyUsage: ["keyCertSign"], extKeyUsage: [] });

describe("catalogueIssues finds each broken invariant of a hand-made list", () => {
  it.each<[string, CertificateSpec[], string]>([
    ["duplicate-id", [root, leaf({}), leaf({})], "catalogue[2].id"],
    ["invalid-id", [root, leaf({ id: "../etc/passwd" })], "catalogue[1].id"],
    ["unknown-signer", [root, leaf({ signer: "nope" })], "catalogue[1].signer"],
    ["signer-after-leaf", [leaf({}), root], "catalogue[0].signer"],
    ["signer-not-ca", [root, leaf({ id: "a" }), leaf({ id: "b", signer: "a" })], "catalogue[2].signer"],
    ["ca-without-keycertsign", [{ ...root, keyUsage: ["digitalSignature"] }], "catalogue[0].keyUsage"],
    ["leaf-without-usage", [root, leaf({ keyUsage: [] })], "catalogue[1].keyUsage"],
    ["server-without-sans", [root, leaf({ extKeyUsage: ["serverAuth"] })], "catalogue[1].sans"],
    ["invalid-san", [root, leaf({ sans: { dns: [], ips: ["300.1.1.1"] } })], "catalogue[1].sans.ips[0]"],
    ["invalid-san", [root, leaf({ sans: { dns: ["bad name"], ips: [] } })], "catalogue[1].sans.dns[0]"],
    ["invalid-validity", [root, leaf({ validityDays: 0 })], "catalogue[1].validityDays"],
  ])("%s", (code, catalogue, path) => {
    expect(catalogueIssues(catalogue)).toEqual([expect.objectContaining({ code, path })]);
    expect(() => assertValidCatalogue(catalogue)).toThrow(PkiError);
  });

  it("accepts a minimal valid hand-made list", () => {
    expect(catalogueIssues([root, leaf({})])).toEqual([]);
  });

  it("catalogueEntry names the known ids when asked for an unknown one", () => {
    expect(() => catalogueEntry([root], "admin")).toThrow(
      /admin: is not in the catalogue \(fix: use one of root\)/,
    );
  });
});

it("canonicalIp", () => {
  expect(canonicalIp("10.0.0.1")).toBe("10.0.0.1");
  expect(canonicalIp("FD00:0:0::1")).toBe("fd00::1");
  expect(canonicalIp("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
  expect(canonicalIp("2001:0db8:0001:0000:0000:0000:0000:0000")).toBe("2001:db8:1::");
  expect(canonicalIp("::")).toBe("::");
  expect(canonicalIp("1:2:3:4:5:6:0:8")).toBe("1:2:3:4:5:6:0:8");
});

it("isIpAddress", () => {
  for (const ok of ["10.0.0.1", "255.255.255.255", "::1", "fd00::1", "2001:db8:0:0:0:0:0:1"])
    expect(isIpAddress(ok), ok).toBe(true);
  for (const bad of [
    "10.0.0",
    "256.0.0.1",
    "01.2.3.4x",
    "kubernetes",
    ":::",
    "1::2::3",
    "2001:db8:0:0:0:0:0:0:1",
  ]) {
    expect(isIpAddress(bad), bad).toBe(false);
  }
});

describe("README", () => {
  it("carries the catalogue table generated from the default spec's data (drift check)", () => {
    const readme = readFileSync(join(here, "..", "README.md"), "utf8");
    const m = /<!-- catalogue:start -->\n([\s\S]*?)<!-- catalogue:end -->/.exec(readme);
    expect(m, "README.md needs <!-- catalogue:start --> … <!-- catalogue:end -->").not.toBeNull();
    expect(m![1]).toBe(catalogueTable(catalogueFromCluster(defaultCluster())));
  });
});
