// Someone issuing certificates for their own cluster, without a cluster.yaml (the README's example).
import { X509Certificate } from "node:crypto";
import {
  type CertificateSpec,
  issueCertificate,
  issuePki,
  pkiFiles,
  reconcilePki,
  verifyChain,
} from "@khw/pki";
import { afterAll, describe, expect, it } from "vitest";
import { fixtureKey, NOW, openssl, scratchDir, seededRandom, writeFile } from "./helpers";

const catalogue: CertificateSpec[] = [
  {
    id: "ca",
    description: "my CA",
    signer: null,
    isCA: true,
    subject: { CN: "My CA" },
    keyUsage: ["digitalSignature", "keyCertSign", "cRLSign"],
    extKeyUsage: [],
    sans: { dns: [], ips: [] },
    validityDays: 3650,
    keyAlgorithm: "ecdsa-p256",
    destinations: [],
  },
  {
    id: "api",
    description: "my apiserver",
    signer: "ca",
    isCA: false,
    subject: { CN: "kube-apiserver" },
    keyUsage: ["digitalSignature", "keyEncipherment"],
    extKeyUsage: ["serverAuth"],
    sans: { dns: ["kubernetes", "api.example.com"], ips: ["10.96.0.1", "203.0.113.10", "fd00::10"] },
    validityDays: 365,
    keyAlgorithm: "ecdsa-p256",
    destinations: [
      { hosts: [{ role: "controlplane" }], certPath: "/etc/k/api.crt", keyPath: "/etc/k/api.key" },
    ],
  },
];

describe("a hand-made catalogue", () => {
  const s = scratchDir();
  afterAll(() => s.cleanup());

  it("issues, verifies with openssl, carries IPv6 SANs, and is kept on the next reconcile", async () => {
    const material = await issuePki({ catalogue, now: NOW, random: seededRandom() });
    const ca = writeFile(s.dir, "ca.crt", material.ca!.cert);
    const api = writeFile(s.dir, "api.crt", material.api!.cert);
    const attime = String(Math.floor(NOW.getTime() / 1000) + 60);
    expect(openssl(["verify", "-attime", attime, "-CAfile", ca, api]).trim()).toBe(`${api}: OK`);
    const x = new X509Certificate(material.api!.cert);
    expect(x.checkIP("fd00::10")).toBe("fd00::10");
    expect(x.checkHost("api.example.com")).toBe("api.example.com");
    expect(x.subject).toBe("CN=kube-apiserver");
    const plan = reconcilePki({ catalogue, existing: material, now: NOW });
    expect(plan.decisions.map((d) => d.action)).toEqual(["keep", "keep"]);
    expect(
      pkiFiles(catalogue, material, [{ name: "cp1", role: "controlplane" }]).map(
        (f) => `${f.host}:${f.path}`,
      ),
    ).toEqual(["cp1:/etc/k/api.crt", "cp1:/etc/k/api.key"]);
  });

  it("issues under a CA the user already has (made by openssl)", async () => {
    const caKey = writeFile(s.dir, "own-ca.key", fixtureKey("rsa-other-ca"));
    const caCert = openssl([
      "req",
      "-x509",
      "-new",
      "-key",
      caKey,
      "-days",
      "30",
      "-subj",
      "/CN=Corp Root/O=Corp",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    const material = await issuePki({
      catalogue,
      now: new Date(),
      ca: { cert: caCert, key: fixtureKey("rsa-other-ca") },
    });
    expect(verifyChain(material.api!.cert, caCert, { now: new Date() })).toEqual({ ok: true, problems: [] });
    const api = writeFile(s.dir, "api2.crt", material.api!.cert);
    expect(openssl(["verify", "-CAfile", writeFile(s.dir, "own-ca.crt", caCert), api]).trim()).toBe(
      `${api}: OK`,
    );
    // the leaf keys follow the catalogue (ECDSA), the signature the CA's key (RSA)
    expect(openssl(["x509", "-noout", "-text"], material.api!.cert)).toMatch(
      /Signature Algorithm: sha256WithRSAEncryption[\s\S]*id-ecPublicKey/,
    );
    const one = issueCertificate({
      spec: catalogue[1]!,
      key: fixtureKey("ec-leaf-1"),
      issuer: { cert: caCert, key: fixtureKey("rsa-other-ca") },
      now: new Date(),
    });
    expect(verifyChain(one, caCert).ok).toBe(true);
  });
});
