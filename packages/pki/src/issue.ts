import { createHash, createPublicKey, type KeyObject, randomBytes, sign } from "node:crypto";
import forge from "node-forge";
import { concatBytes, positiveIntegerContents, subjectPublicKeyBits, tlv, toPem } from "./_der";
import { OID, parseCertificatePem } from "./_x509";
import type { CertificateSpec, Subject } from "./catalogue";
import { PkiError } from "./errors";
import { keyAlgorithmOf, privateKeyObject } from "./keys";

const { asn1 } = forge;
// Exported by node-forge but missing from @types/node-forge.
const certificateExtensionsToAsn1 = (
  forge.pki as unknown as { certificateExtensionsToAsn1(e: unknown[]): forge.asn1.Asn1 }
).certificateExtensionsToAsn1;

/** Returns `n` random bytes. Inject a seeded one for byte-stable output; the default is Node's CSPRNG. */
export type RandomSource = (n: number) => Uint8Array;

export const defaultRandom: RandomSource = (n) => randomBytes(n);

/** notBefore is set this far before `now`, so hosts with a slightly late clock accept new certificates. */
export const DEFAULT_BACKDATE_SECONDS = 300;

/** The issuing CA: its certificate and private key (PEM or KeyObject). */
export interface Issuer {
  cert: string;
  key: string | KeyObject;
}

export interface IssueCertificateOptions {
  spec: CertificateSpec;
  /** The subject's private key; the certificate carries its public half. */
  key: string | KeyObject;
  /** The signing CA (plain or prepared once with prepareIssuer); omit for a self-signed CA. */
  issuer?: Issuer | PreparedIssuer;
  /** The clock: validity starts `backdateSeconds` before it and lasts `spec.validityDays`. */
  now: Date;
  random?: RandomSource;
  backdateSeconds?: number;
}

/** 128 random bits as a positive DER INTEGER (never zero). */
export function randomSerial(random: RandomSource): Uint8Array {
  const bytes = random(16);
  if (bytes.length !== 16) throw new RangeError("random source must return the number of bytes asked for");
  return bytes.every((b) => b === 0) ? Uint8Array.of(1) : positiveIntegerContents(bytes);
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. */
export function subjectKeyIdentifier(publicKey: KeyObject): Uint8Array {
  const spki = publicKey.export({ type: "spki", format: "der" });
  return createHash("sha1").update(subjectPublicKeyBits(spki)).digest();
}

function bin(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("binary");
}

function derOf(node: forge.asn1.Asn1): Uint8Array {
  return Uint8Array.from(Buffer.from(asn1.toDer(node).getBytes(), "binary"));
}

function nameDer(subject: Subject): Uint8Array {
  // UTF8String throughout: ':' (system:masters) is not a PrintableString character.
  const utf8 = asn1.Type.UTF8 as unknown as forge.asn1.Class;
  const attrs: forge.pki.CertificateField[] = [
    { type: OID.commonName, value: subject.CN, valueTagClass: utf8 },
  ];
  for (const o of subject.O ?? []) attrs.push({ type: OID.organizationName, value: o, valueTagClass: utf8 });
  const cert = forge.pki.createCertificate();
  cert.setSubject(attrs);
  return derOf(forge.pki.distinguishedNameToAsn1(cert.subject));
}

function timeDer(date: Date): Uint8Array {
  const y = date.getUTCFullYear();
  return y >= 1950 && y < 2050
    ? tlv(0x17, Buffer.from(asn1.dateToUtcTime(date), "binary"))
    : tlv(0x18, Buffer.from(asn1.dateToGeneralizedTime(date), "binary"));
}

function algorithmIdentifier(key: KeyObject, subject: string): { der: Uint8Array; kind: "rsa" | "ec" } {
  const alg = keyAlgorithmOf(key);
  if (alg === "rsa-2048" || alg === "rsa-4096" || key.asymmetricKeyType === "rsa") {
    // sha256WithRSAEncryption, parameters NULL
    return {
      der: tlv(
        0x30,
        concatBytes([
          derOf(
            asn1.create(
              asn1.Class.UNIVERSAL,
              asn1.Type.OID,
              false,
              asn1.oidToDer(OID.sha256WithRSAEncryption).getBytes(),
            ),
          ),
          Uint8Array.of(0x05, 0x00),
        ]),
      ),
      kind: "rsa",
    };
  }
  if (alg === "ecdsa-p256") {
    // ecdsa-with-SHA256, parameters absent (RFC 5758)
    return {
      der: tlv(
        0x30,
        derOf(
          asn1.create(
            asn1.Class.UNIVERSAL,
            asn1.Type.OID,
            false,
            asn1.oidToDer(OID.ecdsaWithSHA256).getBytes(),
          ),
        ),
      ),
      kind: "ec",
    };
  }
  throw new PkiError(
    "UNSUPPORTED_KEY",
    subject,
    `signing key is ${key.asymmetricKeyType} ${JSON.stringify(key.asymmetricKeyDetails)}, which this package does not sign with`,
    "use an RSA or ECDSA P-256 CA key",
  );
}

/**
 * A CA made ready to sign many certificates: its key parsed once, its name and key identifier read
 * once from its certificate. Make one with {@link prepareIssuer}; {@link issueCertificate} takes
 * either this or a plain {@link Issuer}.
 */
export interface PreparedIssuer {
  readonly kind: "prepared-issuer";
  readonly cert: string;
  readonly key: KeyObject;
  /** The CA's subject Name, DER — the leaves' issuer field. */
  readonly subjectDer: Uint8Array;
  /** The CA's subjectKeyIdentifier — the leaves' authorityKeyIdentifier. */
  readonly keyIdentifier: Uint8Array;
  readonly signatureAlgorithm: { der: Uint8Array; kind: "rsa" | "ec" };
}

/** Parses a CA's certificate and key once for issuing many certificates. */
export function prepareIssuer(issuer: Issuer | PreparedIssuer, label = "issuer"): PreparedIssuer {
  if ("kind" in issuer && issuer.kind === "prepared-issuer") return issuer;
  const ca = parseCertificatePem(issuer.cert, `${label}.crt`);
  const key = privateKeyObject(issuer.key, `${label}.key`);
  const signatureAlgorithm = algorithmIdentifier(key, label);
  return {
    kind: "prepared-issuer",
    cert: issuer.cert,
    key,
    subjectDer: ca.subjectDer,
    keyIdentifier: ca.subjectKeyIdentifier
      ? Uint8Array.from(Buffer.from(ca.subjectKeyIdentifier, "hex"))
      : subjectKeyIdentifier(createPublicKey(key)),
    signatureAlgorithm,
  };
}

/**
 * Signs with OpenSSL through `node:crypto`: RSA PKCS#1 v1.5 (deterministic by construction) or ECDSA
 * P-256 / SHA-256 (DER-encoded; a fresh random nonce per signature, as OpenSSL draws it, so two
 * signatures of the same certificate differ while everything they sign is byte-identical). No
 * signature arithmetic is done in this package. Reproducible working directories come from reconcile:
 * an unchanged certificate is never signed again.
 */
function signBytes(data: Uint8Array, key: KeyObject): Uint8Array {
  return sign("sha256", data, key);
}

function extensions(spec: CertificateSpec, ski: Uint8Array, aki: Uint8Array | undefined): Uint8Array {
  const exts: Record<string, unknown>[] = [
    { name: "basicConstraints", critical: true, cA: spec.isCA },
    { name: "keyUsage", critical: true, ...Object.fromEntries(spec.keyUsage.map((u) => [u, true])) },
  ];
  if (spec.extKeyUsage.length > 0) {
    exts.push({ name: "extKeyUsage", ...Object.fromEntries(spec.extKeyUsage.map((u) => [u, true])) });
  }
  exts.push({
    name: "subjectKeyIdentifier",
    value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bin(ski)),
  });
  if (aki) {
    exts.push({
      name: "authorityKeyIdentifier",
      value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, bin(aki)),
      ]),
    });
  }
  const altNames = [
    ...spec.sans.dns.map((value) => ({ type: 2, value })),
    ...spec.sans.ips.map((ip) => ({ type: 7, ip })),
  ];
  if (altNames.length > 0) exts.push({ name: "subjectAltName", altNames });
  const cert = forge.pki.createCertificate();
  try {
    cert.setExtensions(exts);
  } catch (err) {
    throw new PkiError(
      "INVALID_SAN",
      `${spec.id}.sans`,
      `cannot encode the extensions (${(err as Error).message})`,
      "check that every IP SAN is an IPv4/IPv6 address and every DNS SAN a DNS name",
    );
  }
  return derOf(certificateExtensionsToAsn1(cert.extensions));
}

/**
 * Builds and signs one X.509 v3 certificate; returns PEM. node-forge encodes the names and
 * extensions, the signature is OpenSSL's (`node:crypto`) — see README. Same inputs (keys, `now`,
 * `random`) → the same bytes for RSA; for ECDSA the same bytes but for the signature (a random nonce).
 */
export function issueCertificate(options: IssueCertificateOptions): string {
  const { spec, now } = options;
  const random = options.random ?? defaultRandom;
  const subjectKey = privateKeyObject(options.key, `${spec.id}.key`);
  const spki = createPublicKey(subjectKey).export({ type: "spki", format: "der" });
  const ski = createHash("sha1").update(subjectPublicKeyBits(spki)).digest();
  const subjectDer = nameDer(spec.subject);
  let signingKey: KeyObject;
  let issuerNameDer: Uint8Array;
  let aki: Uint8Array | undefined;
  let alg: PreparedIssuer["signatureAlgorithm"];
  if (options.issuer) {
    const ca = prepareIssuer(options.issuer, spec.signer ?? "issuer");
    signingKey = ca.key;
    issuerNameDer = ca.subjectDer;
    aki = ca.keyIdentifier;
    alg = ca.signatureAlgorithm;
  } else {
    signingKey = subjectKey;
    issuerNameDer = subjectDer;
    aki = spec.isCA ? undefined : ski;
    alg = algorithmIdentifier(signingKey, spec.id);
  }
  const notBeforeMs =
    Math.floor(now.getTime() / 1000) * 1000 - (options.backdateSeconds ?? DEFAULT_BACKDATE_SECONDS) * 1000;
  const notAfterMs = Math.floor(now.getTime() / 1000) * 1000 + spec.validityDays * 86_400_000;
  const tbs = tlv(
    0x30,
    concatBytes([
      Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02), // [0] version v3
      tlv(0x02, randomSerial(random)),
      alg.der,
      issuerNameDer,
      tlv(0x30, concatBytes([timeDer(new Date(notBeforeMs)), timeDer(new Date(notAfterMs))])),
      subjectDer,
      spki,
      extensions(spec, ski, aki),
    ]),
  );
  const signature = signBytes(tbs, signingKey);
  const certDer = tlv(
    0x30,
    concatBytes([tbs, alg.der, tlv(0x03, concatBytes([Uint8Array.of(0), signature]))]),
  );
  return toPem("CERTIFICATE", certDer);
}
