import { createPrivateKey, createPublicKey, createSign, createVerify } from "node:crypto";
import {
  catalogueFromCluster,
  checkExpiry,
  expiryReport,
  inspectCertificate,
  issueCertificate,
  issuePki,
  PkiError,
  type PkiMaterial,
  serviceAccountKeyPair,
  verifyChain,
} from "@khw/pki";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  defaultCluster,
  fixtureKey,
  NOW,
  openssl,
  scratchDir,
  seededRandom,
  testKeys,
  writeFile,
} from "./helpers";

const DAY = 86_400_000;
const catalogue = catalogueFromCluster(defaultCluster("ecdsa-p256"));
let m: PkiMaterial;
beforeAll(async () => {
  m = await issuePki({ catalogue, now: NOW, random: seededRandom(), keys: testKeys("ecdsa-p256") });
});

describe("inspectCertificate", () => {
  it("reads our apiserver certificate", () => {
    const info = inspectCertificate(m["kube-apiserver"]!.cert);
    expect(info).toMatchObject({
      subject: { CN: "kube-apiserver", O: ["Kubernetes"], text: "CN=kube-apiserver, O=Kubernetes" },
      issuer: { CN: "KUBERNETES-CA", O: ["Kubernetes"] },
      isCA: false,
      selfSigned: false,
      keyUsage: ["digitalSignature", "keyEncipherment"],
      extKeyUsage: ["serverAuth"],
      keyAlgorithm: "ecdsa-p256",
      signatureAlgorithm: "ecdsa-with-SHA256",
      notBefore: new Date(NOW.getTime() - 300_000),
      notAfter: new Date(NOW.getTime() + 365 * DAY),
    });
    expect(info.sans.ips).toContain("10.96.0.1");
    expect(info.authorityKeyIdentifier).toBe(inspectCertificate(m.ca!.cert).subjectKeyIdentifier);
    expect(info.serialNumber).toMatch(/^[0-9a-f]{1,32}$/);
  });

  describe("agrees with openssl on a certificate openssl made (EC P-384, OU, IPv6)", () => {
    const s = scratchDir();
    let pem: string;
    beforeAll(() => {
      const key = writeFile(
        s.dir,
        "k.pem",
        openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]),
      );
      pem = openssl([
        "req",
        "-x509",
        "-new",
        "-key",
        key,
        "-days",
        "30",
        "-subj",
        "/CN=ext.example/O=Org A/O=Org B/OU=Unit",
        "-addext",
        "subjectAltName=DNS:ext.example,IP:10.1.2.3,IP:fd00::1",
        "-addext",
        "keyUsage=critical,digitalSignature,keyCertSign",
        "-addext",
        "extendedKeyUsage=serverAuth,codeSigning",
      ]);
    });
    afterAll(() => s.cleanup());

    it("subject, SANs, usages, key, fingerprint, serial, dates", () => {
      const info = inspectCertificate(pem);
      expect(info.subject).toMatchObject({ CN: "ext.example", O: ["Org A", "Org B"] });
      expect(info.subject.attributes).toContainEqual(["OU", "Unit"]);
      expect(info.selfSigned).toBe(true);
      expect(info.sans).toEqual({ dns: ["ext.example"], ips: ["10.1.2.3", "fd00::1"] });
      expect(info.keyUsage).toEqual(["digitalSignature", "keyCertSign"]);
      expect(info.extKeyUsage).toEqual(["serverAuth"]);
      expect(info.otherExtKeyUsages).toEqual(["1.3.6.1.5.5.7.3.3"]);
      expect(info.keyAlgorithm).toBe("ec-secp384r1");
      expect(`sha256 Fingerprint=${info.fingerprintSha256}`).toBe(
        openssl(["x509", "-noout", "-fingerprint", "-sha256"], pem).trim(),
      );
      // openssl prints the serial's hex without leading zero digits; khw keeps whole bytes ("0c…")
      expect(`serial=${info.serialNumber.toUpperCase().replace(/^0+(?=.)/, "")}`).toBe(
        openssl(["x509", "-noout", "-serial"], pem)
          .trim()
          .replace(/=0+(?=.)/, "="),
      );
      const end = openssl(["x509", "-noout", "-enddate", "-dateopt", "iso_8601"], pem).trim();
      expect(end).toBe(`notAfter=${info.notAfter.toISOString().replace("T", " ").replace(".000", "")}`);
    });
  });

  it("throws a typed error naming the input for non-certificates", () => {
    expect(() => inspectCertificate("hello", "pki/admin.crt")).toThrow(PkiError);
    expect(() => inspectCertificate("hello", "pki/admin.crt")).toThrow(
      /^pki\/admin.crt: contains no PEM certificate/,
    );
    const broken = "-----BEGIN CERTIFICATE-----\nMIIBkzCCATmgAwIBAgIQ\n-----END CERTIFICATE-----\n";
    expect(() => inspectCertificate(broken)).toThrow(expect.objectContaining({ code: "INVALID_PEM" }));
  });
});

describe("checkExpiry", () => {
  const cert = () => m.admin!.cert;
  it.each([
    [-1, "not-yet-valid"],
    [1, "valid"],
    [340, "expiring"],
    [366, "expired"],
  ] as const)("day %d: %s", (day, status) => {
    expect(checkExpiry(cert(), new Date(NOW.getTime() + day * DAY), 30).status).toBe(status);
  });
  it("counts whole days left", () => {
    expect(checkExpiry(cert(), new Date(NOW.getTime() + 100 * DAY)).daysLeft).toBe(265);
  });
});

describe("expiryReport", () => {
  it("lists every certificate, soonest first, with its status", () => {
    const rows = expiryReport(
      { ...m, extra: { cert: m.ca!.cert }, nothing: {} },
      new Date(NOW.getTime() + 340 * DAY),
    );
    expect(rows.map((r) => r.id)).toEqual(
      [...catalogue.slice(1).map((c) => c.id)].sort().concat(["ca", "extra"]),
    );
    expect(rows[0]).toMatchObject({
      id: "admin",
      status: "expiring",
      daysLeft: 25,
      isCA: false,
      subject: "CN=admin, O=system:masters",
    });
    expect(rows.at(-1)).toMatchObject({ id: "extra", status: "valid", isCA: true });
  });
  it("names the unreadable certificate", () => {
    expect(() => expiryReport({ broken: { cert: "x" } }, NOW)).toThrow(/^broken.crt: /);
  });
});

describe("verifyChain", () => {
  it("accepts a leaf under its CA, at a time inside both windows", () => {
    expect(verifyChain(m.admin!.cert, m.ca!.cert, { now: NOW })).toEqual({ ok: true, problems: [] });
  });
  it("names each problem", () => {
    const other = issueCertificate({
      spec: { ...catalogue[0]!, subject: { CN: "OTHER" } },
      key: fixtureKey("ec-other-ca"),
      now: NOW,
    });
    expect(verifyChain(m.admin!.cert, other).problems.map((p) => p.code)).toEqual([
      "issuer-name-mismatch",
      "bad-signature",
      "key-identifier-mismatch",
    ]);
    expect(verifyChain(m["kube-apiserver"]!.cert, m.admin!.cert).problems.map((p) => p.code)).toEqual(
      expect.arrayContaining(["ca-not-a-ca", "ca-cannot-sign-certificates", "bad-signature"]),
    );
    expect(
      verifyChain(m.admin!.cert, m.ca!.cert, { now: new Date(NOW.getTime() + 400 * DAY) }).problems.map(
        (p) => p.code,
      ),
    ).toEqual(["expired"]);
  });
});

describe("serviceAccountKeyPair", () => {
  it("gives the signing key, the certificate and the public key, which verify each other's signatures", () => {
    const sa = serviceAccountKeyPair(m);
    expect(sa.certificate).toBe(m["service-account"]!.cert);
    expect(sa.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const token = "header.payload";
    const sig = createSign("sha256").update(token).sign(createPrivateKey(sa.privateKey));
    expect(createVerify("sha256").update(token).verify(createPublicKey(sa.publicKey), sig)).toBe(true);
    expect(createVerify("sha256").update(token).verify(createPublicKey(sa.certificate), sig)).toBe(true);
    expect(openssl(["x509", "-noout", "-pubkey"], sa.certificate)).toBe(sa.publicKey);
  });
  it("refuses a pair that does not belong together", () => {
    const broken = { ...m, "service-account": { ...m["service-account"]!, key: fixtureKey("ec-other-ca") } };
    expect(() => serviceAccountKeyPair(broken)).toThrow(expect.objectContaining({ code: "INVALID_KEY" }));
  });
});
