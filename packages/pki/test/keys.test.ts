import { createPrivateKey, createPublicKey, sign, verify, X509Certificate } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  catalogueFromCluster,
  fixedKeyProvider,
  generatePrivateKey,
  generatePrivateKeyObject,
  inspectCertificate,
  issueCertificate,
  issuePki,
  type KeyAlgorithm,
  keyAlgorithmOf,
  prepareIssuer,
  privateKeyObject,
  publicKeyPem,
  randomSerial,
  verifyChain,
} from "@khw/pki";
import { describe, expect, it } from "vitest";
import {
  defaultCluster,
  fixtureKey,
  NOW,
  openssl,
  scratchDir,
  seededRandom,
  signedAndSignature,
  writeFile,
} from "./helpers";

describe("native key generation", () => {
  // RSA-4096 generation can take seconds on a busy 2-core machine: generous timeouts, no timing asserted.
  it.each<KeyAlgorithm>(["rsa-2048", "ecdsa-p256", "rsa-4096"])(
    "%s: PKCS#8 PEM that OpenSSL reads as that algorithm",
    async (alg) => {
      const pem = await generatePrivateKey(alg);
      expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(keyAlgorithmOf(createPrivateKey(pem))).toBe(alg);
      const text = openssl(["pkey", "-noout", "-text"], pem);
      expect(text).toContain(
        alg === "ecdsa-p256" ? "NIST CURVE: P-256" : `Private-Key: (${alg.slice(4)} bit`,
      );
      expect(openssl(["pkey", "-check", "-noout"], pem)).toContain("Key is valid");
      if (alg !== "rsa-4096") expect(keyAlgorithmOf(await generatePrivateKeyObject(alg))).toBe(alg);
    },
    120_000,
  );

  it("RSA and ECDSA keys generated many at once (OpenSSL's own key generation) pass OpenSSL's checks and sign", async () => {
    const rsa = await Promise.all([1, 2, 3, 4].map(() => generatePrivateKey("rsa-2048")));
    const ec = await Promise.all([1, 2, 3, 4].map(() => generatePrivateKey("ecdsa-p256")));
    expect(new Set([...rsa, ...ec]).size).toBe(8);
    for (const pem of rsa) {
      expect(openssl(["rsa", "-check", "-noout"], pem)).toContain("RSA key ok");
      expect(openssl(["pkey", "-noout", "-text"], pem)).toContain("publicExponent: 65537 (0x10001)");
    }
    for (const pem of [...rsa, ...ec]) {
      expect(openssl(["pkey", "-check", "-noout"], pem)).toContain("Key is valid");
      const sig = sign("sha256", Buffer.from("data"), pem);
      expect(verify("sha256", Buffer.from("data"), createPublicKey(pem), sig)).toBe(true);
    }
    // The option of earlier versions is accepted and changes nothing.
    const legacy = await generatePrivateKey("rsa-2048", { rsa: "primes" });
    expect(openssl(["rsa", "-check", "-noout"], legacy)).toContain("RSA key ok");
  }, 120_000);

  it("the package holds no key-generation or signature arithmetic of its own", () => {
    const srcDir = join(dirname(fileURLToPath(import.meta.url)), "..", "src");
    const offending: string[] = [];
    for (const name of readdirSync(srcDir).filter((n) => n.endsWith(".ts"))) {
      readFileSync(join(srcDir, name), "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (/\bBigInt\b|\bbigint\b|\b\d+n\b|generatePrime|modInverse|createECDH/.test(line))
            offending.push(`src/${name}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offending).toEqual([]);
  });

  it("ECDSA certificates: the same inputs give the same bytes but for the signature (OpenSSL's random nonce); each verifies with OpenSSL and Node", () => {
    const catalogue = catalogueFromCluster(defaultCluster("ecdsa-p256"));
    const caKey = fixtureKey("ec-ca");
    const ca = issueCertificate({ spec: catalogue[0]!, key: caKey, now: NOW, random: seededRandom() });
    const spec = catalogue.find((c) => c.id === "kube-apiserver")!;
    const issue = () =>
      issueCertificate({
        spec,
        key: fixtureKey("ec-leaf-1"),
        issuer: { cert: ca, key: caKey },
        now: NOW,
        random: seededRandom("leaf"),
      });
    const leaf = issue();
    const again = issue();
    expect(signedAndSignature(again).signed).toBe(signedAndSignature(leaf).signed);
    expect(signedAndSignature(again).signature).not.toBe(signedAndSignature(leaf).signature);
    for (const pem of [leaf, again])
      expect(new X509Certificate(pem).verify(new X509Certificate(ca).publicKey)).toBe(true);
    const { dir, cleanup } = scratchDir();
    try {
      const out = openssl([
        "verify",
        "-CAfile",
        writeFile(dir, "ca.crt", ca),
        writeFile(dir, "leaf.crt", leaf),
      ]);
      expect(out).toContain("leaf.crt: OK");
    } finally {
      cleanup();
    }
  });

  it("rejects an unknown algorithm with a typed error", async () => {
    await expect(generatePrivateKey("dsa-1024" as KeyAlgorithm)).rejects.toMatchObject({
      code: "UNSUPPORTED_KEY",
    });
    await expect(generatePrivateKeyObject("dsa-1024" as KeyAlgorithm)).rejects.toMatchObject({
      code: "UNSUPPORTED_KEY",
    });
  });

  it("issuePki with the default provider (fresh native keys, real randomness) gives a valid, distinct PKI", async () => {
    const catalogue = catalogueFromCluster(defaultCluster("ecdsa-p256"));
    const a = await issuePki({ catalogue, now: NOW });
    const b = await issuePki({ catalogue, now: NOW });
    for (const c of catalogue.slice(1)) expect(verifyChain(a[c.id]!.cert, a.ca!.cert).ok, c.id).toBe(true);
    const keys = new Set(catalogue.map((c) => a[c.id]!.key));
    expect(keys.size).toBe(catalogue.length);
    expect(a.ca!.key).not.toBe(b.ca!.key);
    expect(inspectCertificate(a.admin!.cert).serialNumber).not.toBe(
      inspectCertificate(b.admin!.cert).serialNumber,
    );
  });
});

describe("keys in, errors out", () => {
  it("fixedKeyProvider hands out by id, then by algorithm, else a typed error naming the certificate", async () => {
    const p = fixedKeyProvider({ ca: "CA", "rsa-2048": "ANY" });
    expect(await p({ id: "ca", algorithm: "rsa-2048" })).toBe("CA");
    expect(await p({ id: "admin", algorithm: "rsa-2048" })).toBe("ANY");
    await expect(p({ id: "admin", algorithm: "ecdsa-p256" })).rejects.toThrow(/^admin: no fixed key/);
  });

  it("privateKeyObject names the field when the PEM is not a key; public keys are refused", () => {
    expect(() => privateKeyObject("nope", "pki/admin.key")).toThrow(
      /^pki\/admin.key: is not a readable private key/,
    );
    const pub = createPrivateKey(fixtureKey("ec-ca"));
    expect(() => privateKeyObject(publicKeyPem(pub) as never)).toThrow();
    expect(keyAlgorithmOf(pub)).toBe("ecdsa-p256");
  });

  it("issuing under a CA whose key type is not supported is a typed error", () => {
    const ed = openssl(["genpkey", "-algorithm", "ED25519"]);
    const catalogue = catalogueFromCluster(defaultCluster());
    expect(() => issueCertificate({ spec: catalogue[0]!, key: ed, now: NOW })).toThrow(
      expect.objectContaining({ code: "UNSUPPORTED_KEY" }),
    );
  });
});

describe("issuing details", () => {
  const catalogue = catalogueFromCluster(defaultCluster());
  const ca = {
    cert: issueCertificate({
      spec: catalogue[0]!,
      key: fixtureKey("rsa-ca"),
      now: NOW,
      random: seededRandom(),
    }),
    key: fixtureKey("rsa-ca"),
  };

  it("a prepared issuer gives the same bytes as a plain one", () => {
    const spec = catalogue.find((c) => c.id === "kube-apiserver")!;
    const plain = issueCertificate({
      spec,
      key: fixtureKey("rsa-leaf-1"),
      issuer: ca,
      now: NOW,
      random: seededRandom("s"),
    });
    const prepared = issueCertificate({
      spec,
      key: fixtureKey("rsa-leaf-1"),
      issuer: prepareIssuer(ca),
      now: NOW,
      random: seededRandom("s"),
    });
    expect(prepared).toBe(plain);
  });

  it("serials are 128 random bits as a positive, minimal DER INTEGER", () => {
    expect(Buffer.from(randomSerial(() => new Uint8Array(16).fill(0xff))).toString("hex")).toBe(
      `00${"ff".repeat(16)}`,
    );
    expect(
      Buffer.from(randomSerial(() => Uint8Array.of(0, 0, ...new Uint8Array(13).fill(0), 5))).toString("hex"),
    ).toBe("05");
    expect(Buffer.from(randomSerial(() => new Uint8Array(16))).toString("hex")).toBe("01");
    expect(() => randomSerial(() => new Uint8Array(8))).toThrow(RangeError);
    const serial = openssl(["x509", "-noout", "-serial"], ca.cert).trim();
    expect(serial).toMatch(/^serial=[0-9A-F]{30,32}$/);
  });

  it("notBefore is backdated 5 minutes, notAfter is now + validityDays, to the second", () => {
    const at = new Date("2026-03-01T12:00:00.789Z");
    const info = inspectCertificate(
      issueCertificate({ spec: catalogue[1]!, key: fixtureKey("rsa-leaf-1"), issuer: ca, now: at }),
    );
    expect(info.notBefore.toISOString()).toBe("2026-03-01T11:55:00.000Z");
    expect(info.notAfter.toISOString()).toBe("2027-03-01T12:00:00.000Z");
  });

  it("dates from 2050 on are GeneralizedTime, which OpenSSL reads", () => {
    const pem = issueCertificate({
      spec: { ...catalogue[0]!, validityDays: 36500 },
      key: fixtureKey("rsa-ca"),
      now: NOW,
    });
    expect(inspectCertificate(pem).notAfter.getUTCFullYear()).toBe(2126);
    expect(openssl(["x509", "-noout", "-enddate"], pem).trim()).toBe("notAfter=Feb  5 12:00:00 2126 GMT");
  });
});
