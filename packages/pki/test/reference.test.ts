// The catalogue of the default spec against REFERENCE.md's PKI table, written out literally here,
// so a wrong catalogue entry cannot hide behind "the certificate matches the catalogue".

import { catalogueFromCluster, issuePki, pkiFilesFromCluster } from "@khw/pki";
import { ADMIN_HOST } from "@khw/spec";
import { describe, expect, it } from "vitest";
import { defaultCluster, NOW, seededRandom, testKeys } from "./helpers";

const REFERENCE = [
  { id: "ca", CN: "KUBERNETES-CA", O: ["Kubernetes"], eku: [], sans: [] },
  { id: "admin", CN: "admin", O: ["system:masters"], eku: ["clientAuth"], sans: [] },
  {
    id: "kube-controller-manager",
    CN: "system:kube-controller-manager",
    O: ["system:kube-controller-manager"],
    eku: ["clientAuth"],
    sans: [],
  },
  {
    id: "kube-scheduler",
    CN: "system:kube-scheduler",
    O: ["system:kube-scheduler"],
    eku: ["clientAuth"],
    sans: [],
  },
  { id: "kube-proxy", CN: "system:kube-proxy", O: ["system:node-proxier"], eku: ["clientAuth"], sans: [] },
  {
    id: "kube-apiserver",
    CN: "kube-apiserver",
    O: ["Kubernetes"],
    eku: ["serverAuth"],
    sans: [
      "kubernetes",
      "kubernetes.default",
      "kubernetes.default.svc",
      "kubernetes.default.svc.cluster",
      "kubernetes.default.svc.cluster.local",
      "10.96.0.1",
      "192.168.56.11",
      "192.168.56.12",
      "192.168.56.30",
      "127.0.0.1",
    ],
  },
  {
    id: "apiserver-kubelet-client",
    CN: "kube-apiserver-kubelet-client",
    O: [],
    eku: ["clientAuth"],
    sans: [],
  },
  {
    id: "etcd-server",
    CN: "etcd-server",
    O: ["Kubernetes"],
    eku: ["serverAuth", "clientAuth"],
    sans: ["192.168.56.11", "192.168.56.12", "127.0.0.1", "master-1", "master-2", "localhost"],
  },
  { id: "service-account", CN: "service-accounts", O: ["Kubernetes"], eku: [], sans: [] },
  {
    id: "worker-1",
    CN: "system:node:worker-1",
    O: ["system:nodes"],
    eku: ["serverAuth", "clientAuth"],
    sans: ["worker-1", "192.168.56.21"],
  },
];

describe("the default catalogue is REFERENCE.md's PKI table", () => {
  const catalogue = catalogueFromCluster(defaultCluster());

  it("has exactly the reference certificates, in order (worker-2 bootstraps, so it has none)", () => {
    expect(catalogue.map((c) => c.id)).toEqual(REFERENCE.map((r) => r.id));
  });

  it.each(REFERENCE)("$id: CN, O, extended usages, SANs", (ref) => {
    const c = catalogue.find((e) => e.id === ref.id)!;
    expect(c.subject.CN).toBe(ref.CN);
    expect(c.subject.O ?? []).toEqual(ref.O);
    expect([...c.extKeyUsage].sort()).toEqual([...ref.eku].sort());
    expect([...c.sans.dns, ...c.sans.ips].sort()).toEqual([...ref.sans].sort());
    expect(c.keyAlgorithm).toBe("rsa-2048");
    expect(c.validityDays).toBe(ref.id === "ca" ? 3650 : 365);
  });

  it("the CA is a CA with keyCertSign and cRLSign; no leaf is", () => {
    for (const c of catalogue) {
      expect(c.isCA).toBe(c.id === "ca");
      expect(c.keyUsage.includes("keyCertSign")).toBe(c.id === "ca");
    }
    expect(catalogue[0]!.keyUsage).toEqual(expect.arrayContaining(["keyCertSign", "cRLSign"]));
  });

  it("puts the files where REFERENCE says, keys 0600 and secret", async () => {
    const cluster = defaultCluster();
    const material = await issuePki({ catalogue, now: NOW, random: seededRandom(), keys: testKeys() });
    const files = pkiFilesFromCluster(cluster, catalogue, material);
    const on = (host: string) =>
      files
        .filter((f) => f.host === host)
        .map((f) => f.path)
        .sort();
    const k8s = (names: string[]) =>
      names.flatMap((n) => [`/var/lib/kubernetes/pki/${n}.crt`, `/var/lib/kubernetes/pki/${n}.key`]);
    for (const master of ["master-1", "master-2"]) {
      expect(on(master)).toEqual(
        [
          ...k8s([
            "ca",
            "kube-apiserver",
            "apiserver-kubelet-client",
            "kube-controller-manager",
            "kube-scheduler",
            "service-account",
            "etcd-server",
          ]),
          "/etc/etcd/ca.crt",
          "/etc/etcd/etcd-server.crt",
          "/etc/etcd/etcd-server.key",
        ].sort(),
      );
    }
    expect(on("worker-1")).toEqual(
      ["/var/lib/kubernetes/pki/ca.crt", ...k8s(["kube-proxy", "worker-1"])].sort(),
    );
    expect(on("worker-2")).toEqual(["/var/lib/kubernetes/pki/ca.crt", ...k8s(["kube-proxy"])].sort());
    expect(on("loadbalancer")).toEqual([]);
    expect(on(ADMIN_HOST)).toEqual(["pki/admin.crt", "pki/admin.key", "pki/ca.crt", "pki/ca.key"]);
    for (const f of files) {
      const isKey = f.path.endsWith(".key");
      expect(f.mode).toBe(isKey ? 0o600 : 0o644);
      expect(f.secret === true).toBe(isKey);
      expect(f.contents).toMatch(isKey ? /^-----BEGIN PRIVATE KEY-----/ : /^-----BEGIN CERTIFICATE-----/);
    }
  });
});
