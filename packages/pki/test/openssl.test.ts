// Every certificate of the default and an unusual spec, checked by the OpenSSL CLI and Node's X509Certificate.
import { X509Certificate } from "node:crypto";
import {
  type CertificateSpec,
  catalogueFromCluster,
  issueCertificate,
  issuePki,
  type KeyAlgorithm,
  type PkiMaterial,
} from "@khw/pki";
import type { Cluster } from "@khw/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  defaultCluster,
  fixtureKey,
  NOW,
  openssl,
  opensslText,
  scratchDir,
  seededRandom,
  signedAndSignature,
  testKeys,
  unusualCluster,
  writeFile,
} from "./helpers";

const KU_TEXT = {
  digitalSignature: "Digital Signature",
  keyEncipherment: "Key Encipherment",
  keyCertSign: "Certificate Sign",
  cRLSign: "CRL Sign",
} as const;
const EKU_TEXT = {
  serverAuth: "TLS Web Server Authentication",
  clientAuth: "TLS Web Client Authentication",
} as const;

const split = (v: string | undefined) =>
  v
    ? v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .sort()
    : [];
const rfc2253 = (s: CertificateSpec["subject"]) =>
  [`CN=${s.CN}`, ...(s.O ?? []).map((o) => `O=${o}`)].reverse().join(",");
const ATTIME = String(Math.floor(NOW.getTime() / 1000) + 3600);

const cases: [string, (a: KeyAlgorithm) => Cluster, KeyAlgorithm][] = [
  ["default spec, RSA-2048", defaultCluster, "rsa-2048"],
  ["default spec, ECDSA P-256", defaultCluster, "ecdsa-p256"],
  ["unusual spec, RSA-2048", unusualCluster, "rsa-2048"],
  ["unusual spec, ECDSA P-256", unusualCluster, "ecdsa-p256"],
  ["default spec, RSA-4096", defaultCluster, "rsa-4096"],
];

describe.each(cases)("%s", (_name, makeCluster, algorithm) => {
  const cluster = makeCluster(algorithm);
  const catalogue = catalogueFromCluster(cluster);
  let material: PkiMaterial;
  const scratch = scratchDir();
  let caFile: string;

  beforeAll(async () => {
    material = await issuePki({ catalogue, now: NOW, random: seededRandom(), keys: testKeys(algorithm) });
    caFile = writeFile(scratch.dir, "ca.crt", material.ca!.cert);
  });
  afterAll(() => scratch.cleanup());

  it("openssl verify -CAfile accepts every certificate (at the fixed clock)", () => {
    const files = catalogue.map((c) => writeFile(scratch.dir, `${c.id}.crt`, material[c.id]!.cert));
    const out = openssl(["verify", "-attime", ATTIME, "-CAfile", caFile, ...files]);
    expect(out.trim().split("\n")).toEqual(files.map((f) => `${f}: OK`));
  });

  it("openssl verify rejects them under another CA with the same name, and with a leaf as anchor", () => {
    const otherCa = issueCertificate({
      spec: catalogue[0]!,
      key: fixtureKey(algorithm === "ecdsa-p256" ? "ec-other-ca" : "rsa-other-ca"),
      now: NOW,
      random: seededRandom(),
    });
    const otherFile = writeFile(scratch.dir, "other-ca.crt", otherCa);
    const leaf = writeFile(scratch.dir, "leaf.crt", material["kube-apiserver"]!.cert);
    expect(() => openssl(["verify", "-attime", ATTIME, "-CAfile", otherFile, leaf])).toThrow(
      /verification failed|signature failure|error/,
    );
    const admin = writeFile(scratch.dir, "admin-as-anchor.crt", material.admin!.cert);
    expect(() => openssl(["verify", "-attime", ATTIME, "-CAfile", admin, leaf])).toThrow();
  });

  it.each(catalogue.map((c) => [c.id, c] as const))(
    "%s: openssl x509 -text matches the catalogue",
    (_id, spec) => {
      const facts = opensslText(material[spec.id]!.cert);
      expect(facts.version).toBe("3 (0x2)");
      expect(facts.subject).toBe(rfc2253(spec.subject));
      expect(facts.issuer).toBe("O=Kubernetes,CN=KUBERNETES-CA");
      expect(facts.signatureAlgorithm).toBe(
        algorithm === "ecdsa-p256" ? "ecdsa-with-SHA256" : "sha256WithRSAEncryption",
      );
      expect(facts.publicKeyAlgorithm).toBe(algorithm === "ecdsa-p256" ? "id-ecPublicKey" : "rsaEncryption");
      const ext = facts.extensions;
      expect(ext["X509v3 Basic Constraints"]).toEqual({
        critical: true,
        value: spec.isCA ? "CA:TRUE" : "CA:FALSE",
      });
      expect(ext["X509v3 Key Usage"]?.critical).toBe(true);
      expect(split(ext["X509v3 Key Usage"]?.value)).toEqual(spec.keyUsage.map((u) => KU_TEXT[u]).sort());
      expect(split(ext["X509v3 Extended Key Usage"]?.value)).toEqual(
        spec.extKeyUsage.map((u) => EKU_TEXT[u]).sort(),
      );
      expect(split(ext["X509v3 Subject Alternative Name"]?.value)).toEqual(
        [...spec.sans.dns.map((d) => `DNS:${d}`), ...spec.sans.ips.map((i) => `IP Address:${i}`)].sort(),
      );
      expect(ext["X509v3 Subject Key Identifier"]?.value).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
      if (spec.isCA) expect(ext["X509v3 Authority Key Identifier"]).toBeUndefined();
      else
        expect(ext["X509v3 Authority Key Identifier"]?.value).toBe(
          opensslText(material.ca!.cert).extensions["X509v3 Subject Key Identifier"]!.value,
        );
      const modulus = (pem: string, kind: "x509" | "pkey") =>
        openssl(kind === "x509" ? ["x509", "-noout", "-pubkey"] : ["pkey", "-pubout"], pem);
      expect(modulus(material[spec.id]!.key, "pkey")).toBe(modulus(material[spec.id]!.cert, "x509"));
      const dates = openssl(
        ["x509", "-noout", "-startdate", "-enddate", "-dateopt", "iso_8601"],
        material[spec.id]!.cert,
      );
      const notAfter = new Date(NOW.getTime() + spec.validityDays * 86_400_000);
      expect(dates).toContain(`notAfter=${notAfter.toISOString().replace("T", " ").replace(".000", "")}`);
    },
  );

  it("Node's X509Certificate accepts the apiserver's names and IPs and refuses others", () => {
    const x = new X509Certificate(material["kube-apiserver"]!.cert);
    const domain = cluster.network.clusterDomain;
    for (const host of [
      "kubernetes",
      "kubernetes.default",
      "kubernetes.default.svc",
      `kubernetes.default.svc.${domain}`,
    ]) {
      expect(x.checkHost(host), host).toBe(host);
    }
    const ips = [
      cluster.network.apiServiceIP,
      ...cluster.controlPlanes.map((n) => n.address),
      cluster.loadBalancer!.address,
      "127.0.0.1",
    ];
    for (const ip of ips) expect(x.checkIP(ip), ip).toBe(ip);
    for (const extra of cluster.spec.pki.extraApiserverSANs) {
      expect(/^\d/.test(extra) ? x.checkIP(extra) : x.checkHost(extra), extra).toBe(extra);
    }
    expect(x.checkIP("10.0.2.15")).toBeUndefined(); // the VirtualBox NAT address must not be there
    expect(x.checkHost("evil.example")).toBeUndefined();
    for (const w of cluster.workers) expect(x.checkIP(w.address)).toBeUndefined();
  });

  it("Node's X509Certificate accepts every etcd member's IP and name on etcd-server", () => {
    const x = new X509Certificate(material["etcd-server"]!.cert);
    for (const m of cluster.etcd.members) {
      expect(x.checkIP(m.address)).toBe(m.address);
      expect(x.checkHost(m.name)).toBe(m.name);
    }
    expect(x.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(x.checkIP(cluster.loadBalancer!.address)).toBeUndefined();
  });

  it("each kubelet certificate names exactly its own worker", () => {
    const certWorkers = cluster.workers.filter((w) => w.kubeletCredentials === "certificate");
    expect(certWorkers.length).toBeGreaterThan(0);
    for (const w of certWorkers) {
      const x = new X509Certificate(material[w.name]!.cert);
      expect(x.subject).toBe(`CN=system:node:${w.name}\nO=system:nodes`);
      expect(x.checkHost(w.name)).toBe(w.name);
      expect(x.checkIP(w.address)).toBe(w.address);
      for (const other of cluster.nodes.filter((n) => n.name !== w.name))
        expect(x.checkIP(other.address)).toBeUndefined();
    }
    for (const w of cluster.workers.filter((w) => w.kubeletCredentials === "tls-bootstrap"))
      expect(material[w.name]).toBeUndefined();
  });

  it("is byte-identical when issued again with the same keys, clock and randomness (ECDSA: but for the signatures)", async () => {
    const again = await issuePki({ catalogue, now: NOW, random: seededRandom(), keys: testKeys(algorithm) });
    if (algorithm === "ecdsa-p256") {
      // OpenSSL draws a fresh nonce per ECDSA signature: what is signed is byte-identical, and each verifies.
      expect(Object.keys(again)).toEqual(Object.keys(material));
      for (const [id, m] of Object.entries(material)) {
        expect(again[id]!.key, id).toBe(m.key);
        expect(signedAndSignature(again[id]!.cert).signed, id).toBe(signedAndSignature(m.cert).signed);
        expect(signedAndSignature(again[id]!.cert).signature, id).not.toBe(
          signedAndSignature(m.cert).signature,
        );
        expect(
          new X509Certificate(again[id]!.cert).verify(new X509Certificate(material.ca!.cert).publicKey),
        ).toBe(true);
      }
    } else expect(again).toEqual(material);
    const other = await issuePki({
      catalogue,
      now: NOW,
      random: seededRandom("other"),
      keys: testKeys(algorithm),
    });
    expect(other.admin!.cert).not.toBe(material.admin!.cert);
  });
});
