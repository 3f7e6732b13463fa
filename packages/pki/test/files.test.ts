import {
  type CertificateSpec,
  catalogueFromCluster,
  issuePki,
  type PkiMaterial,
  pkiFiles,
  pkiFilesFromCluster,
} from "@khw/pki";
import { ADMIN_HOST } from "@khw/spec";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultCluster, NOW, seededRandom, testKeys, unusualCluster } from "./helpers";

describe.each([
  ["default", defaultCluster()],
  ["unusual", unusualCluster()],
])("files of the %s spec", (_name, cluster) => {
  const catalogue = catalogueFromCluster(cluster);
  let material: PkiMaterial;
  beforeAll(async () => {
    material = await issuePki({ catalogue, now: NOW, random: seededRandom(), keys: testKeys() });
  });

  it("the CA key never reaches a worker or the load balancer; it does reach masters and the admin", () => {
    const files = pkiFilesFromCluster(cluster, catalogue, material);
    const caKeyHosts = files.filter((f) => f.contents === material.ca!.key).map((f) => f.host);
    const forbidden = [...cluster.workers.map((w) => w.name), cluster.loadBalancer!.name];
    for (const host of forbidden) expect(caKeyHosts).not.toContain(host);
    expect([...new Set(caKeyHosts)].sort()).toEqual(
      [...cluster.controlPlanes.map((n) => n.name), ADMIN_HOST].sort(),
    );
    // and no key file of any kind reaches the load balancer
    expect(files.filter((f) => f.host === cluster.loadBalancer!.name)).toEqual([]);
  });

  it("a kubelet's key reaches only its own worker", () => {
    for (const w of cluster.workers.filter((x) => x.kubeletCredentials === "certificate")) {
      const hosts = pkiFilesFromCluster(cluster, catalogue, material)
        .filter((f) => f.path.endsWith(`/${w.name}.key`))
        .map((f) => f.host);
      expect(hosts).toEqual([w.name]);
    }
  });

  it("is ordered and free of duplicate (host, path) pairs", () => {
    const files = pkiFilesFromCluster(cluster, catalogue, material);
    const keys = files.map((f) => `${f.host}:${f.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(pkiFilesFromCluster(cluster, catalogue, material)).toEqual(files);
  });
});

it("pkiFiles works on a hand-made catalogue and host list, and demands material for every entry", () => {
  const entry: CertificateSpec = {
    id: "root",
    description: "",
    signer: null,
    isCA: true,
    subject: { CN: "root" },
    keyUsage: ["keyCertSign"],
    extKeyUsage: [],
    sans: { dns: [], ips: [] },
    validityDays: 1,
    keyAlgorithm: "ecdsa-p256",
    destinations: [
      { hosts: [{ role: "etcd" }, { host: "bastion" }], certPath: "/etc/x/root.crt" },
      { hosts: [{ role: "worker" }], certPath: "/w/root.crt", keyPath: "/w/root.key" },
    ],
  };
  const hosts = [
    { name: "cp", role: "controlplane" as const },
    { name: "w1", role: "worker" as const },
  ];
  const files = pkiFiles([entry], { root: { cert: "C", key: "K" } }, hosts);
  expect(files).toEqual([
    { host: "cp", path: "/etc/x/root.crt", mode: 0o644, contents: "C" },
    { host: "bastion", path: "/etc/x/root.crt", mode: 0o644, contents: "C" },
    { host: "w1", path: "/w/root.crt", mode: 0o644, contents: "C" },
    { host: "w1", path: "/w/root.key", mode: 0o600, contents: "K", secret: true },
  ]);
  expect(() => pkiFiles([entry], {}, hosts)).toThrow(
    expect.objectContaining({ code: "UNKNOWN_CERTIFICATE", subject: "root" }),
  );
});
