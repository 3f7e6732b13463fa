import { createHash, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { type DistinguishedName, OID, type ParsedCertificate, parseCertificatePem } from "./_x509";
import type { ExtKeyUsage, KeyUsage, SubjectAltNames } from "./catalogue";
import { PkiError } from "./errors";
import { type KeyAlgorithm, keyAlgorithmOf, privateKeyObject } from "./keys";

export type { DistinguishedName } from "./_x509";

/** Everything a person or `khw certs check-expiration` wants to know about one certificate. */
export interface CertificateInfo {
  subject: DistinguishedName;
  issuer: DistinguishedName;
  /** Lower-case hex, no separators, leading zero bytes dropped. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  selfSigned: boolean;
  keyUsage: KeyUsage[];
  extKeyUsage: ExtKeyUsage[];
  /** Extended key usage OIDs other than serverAuth/clientAuth. */
  otherExtKeyUsages: string[];
  sans: SubjectAltNames;
  /** rsa-2048 / rsa-4096 / ecdsa-p256, or a description such as `rsa-3072`, `ec-secp384r1`, `ed25519`. */
  keyAlgorithm: KeyAlgorithm | string;
  signatureAlgorithm: "sha256WithRSAEncryption" | "ecdsa-with-SHA256" | string;
  subjectKeyIdentifier?: string;
  authorityKeyIdentifier?: string;
  /** SHA-256 of the DER, upper-case hex pairs joined by ':' (as `openssl x509 -fingerprint -sha256`). */
  fingerprintSha256: string;
}

function describeKey(pub: KeyObject): string {
  const known = keyAlgorithmOf(pub);
  if (known) return known;
  const d = pub.asymmetricKeyDetails;
  if (pub.asymmetricKeyType === "rsa") return `rsa-${d?.modulusLength ?? "?"}`;
  if (pub.asymmetricKeyType === "ec") return `ec-${d?.namedCurve ?? "?"}`;
  return pub.asymmetricKeyType ?? "unknown";
}

function describeSignature(oid: string): string {
  if (oid === OID.sha256WithRSAEncryption) return "sha256WithRSAEncryption";
  if (oid === OID.ecdsaWithSHA256) return "ecdsa-with-SHA256";
  return oid;
}

function toInfo(parsed: ParsedCertificate, x509: X509Certificate): CertificateInfo {
  const fp = createHash("sha256").update(parsed.der).digest("hex").toUpperCase();
  return {
    subject: parsed.subject,
    issuer: parsed.issuer,
    serialNumber: parsed.serialHex.toLowerCase(),
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
    isCA: parsed.basicConstraints?.isCA ?? false,
    selfSigned: Buffer.compare(parsed.subjectDer, parsed.issuerDer) === 0 && x509.verify(x509.publicKey),
    keyUsage: parsed.keyUsage?.usages ?? [],
    extKeyUsage: parsed.extKeyUsage?.usages ?? [],
    otherExtKeyUsages: parsed.extKeyUsage?.otherOids ?? [],
    sans: parsed.sans,
    keyAlgorithm: describeKey(x509.publicKey),
    signatureAlgorithm: describeSignature(parsed.signatureAlgorithmOid),
    ...(parsed.subjectKeyIdentifier ? { subjectKeyIdentifier: parsed.subjectKeyIdentifier } : {}),
    ...(parsed.authorityKeyIdentifier ? { authorityKeyIdentifier: parsed.authorityKeyIdentifier } : {}),
    fingerprintSha256: fp.match(/../g)!.join(":"),
  };
}

function nodeCertificate(pem: string, label: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new PkiError(
      "INVALID_PEM",
      label,
      `is not a readable certificate (${(err as Error).message})`,
      "pass a PEM certificate (-----BEGIN CERTIFICATE-----)",
    );
  }
}

/** Reads any PEM certificate (RSA, EC, Ed25519 keys; any issuer). Throws PkiError INVALID_PEM. */
export function inspectCertificate(pem: string, label = "certificate"): CertificateInfo {
  const parsed = parseCertificatePem(pem, label);
  return toInfo(parsed, nodeCertificate(pem, label));
}

export type ExpiryStatus = "valid" | "expiring" | "expired" | "not-yet-valid";

export interface ExpiryCheck {
  status: ExpiryStatus;
  notBefore: Date;
  notAfter: Date;
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number;
}

/** Where a certificate stands at `now`: expiring means within `withinDays` (default 30) of notAfter. */
export function checkExpiry(cert: string | CertificateInfo, now: Date, withinDays = 30): ExpiryCheck {
  const info = typeof cert === "string" ? inspectCertificate(cert) : cert;
  const msLeft = info.notAfter.getTime() - now.getTime();
  const daysLeft = Math.floor(msLeft / 86_400_000);
  let status: ExpiryStatus = "valid";
  if (now.getTime() < info.notBefore.getTime()) status = "not-yet-valid";
  else if (msLeft <= 0) status = "expired";
  else if (msLeft <= withinDays * 86_400_000) status = "expiring";
  return { status, notBefore: info.notBefore, notAfter: info.notAfter, daysLeft };
}

export type ChainProblem =
  | "issuer-name-mismatch"
  | "bad-signature"
  | "ca-not-a-ca"
  | "ca-cannot-sign-certificates"
  | "key-identifier-mismatch"
  | "expired"
  | "not-yet-valid"
  | "ca-expired"
  | "ca-not-yet-valid";

export interface ChainVerification {
  ok: boolean;
  problems: { code: ChainProblem; message: string }[];
}

/**
 * Checks that `certPem` was issued by `caPem`: names, the signature with the CA's key, the CA's
 * basicConstraints/keyUsage, the key identifiers, and (when `now` is given) both validity windows.
 */
export function verifyChain(certPem: string, caPem: string, options: { now?: Date } = {}): ChainVerification {
  const leaf = parseCertificatePem(certPem, "certificate");
  const ca = parseCertificatePem(caPem, "ca");
  const leafX = nodeCertificate(certPem, "certificate");
  const caX = nodeCertificate(caPem, "ca");
  const problems: ChainVerification["problems"] = [];
  if (Buffer.compare(leaf.issuerDer, ca.subjectDer) !== 0) {
    problems.push({
      code: "issuer-name-mismatch",
      message: `issuer '${leaf.issuer.text}' is not the CA's subject '${ca.subject.text}'`,
    });
  }
  if (!leafX.verify(caX.publicKey)) {
    problems.push({
      code: "bad-signature",
      message: "the signature does not verify with the CA's public key",
    });
  }
  if (!ca.basicConstraints?.isCA) {
    problems.push({
      code: "ca-not-a-ca",
      message: `'${ca.subject.text}' is not a CA (basicConstraints CA:FALSE)`,
    });
  }
  if (ca.keyUsage && !ca.keyUsage.usages.includes("keyCertSign")) {
    problems.push({ code: "ca-cannot-sign-certificates", message: "the CA's keyUsage lacks keyCertSign" });
  }
  if (
    leaf.authorityKeyIdentifier &&
    ca.subjectKeyIdentifier &&
    leaf.authorityKeyIdentifier !== ca.subjectKeyIdentifier
  ) {
    problems.push({
      code: "key-identifier-mismatch",
      message: `authorityKeyIdentifier ${leaf.authorityKeyIdentifier} is not the CA's subjectKeyIdentifier ${ca.subjectKeyIdentifier}`,
    });
  }
  const now = options.now;
  if (now) {
    if (now < leaf.notBefore)
      problems.push({ code: "not-yet-valid", message: `not valid before ${leaf.notBefore.toISOString()}` });
    if (now > leaf.notAfter)
      problems.push({ code: "expired", message: `expired ${leaf.notAfter.toISOString()}` });
    if (now < ca.notBefore)
      problems.push({
        code: "ca-not-yet-valid",
        message: `CA not valid before ${ca.notBefore.toISOString()}`,
      });
    if (now > ca.notAfter)
      problems.push({ code: "ca-expired", message: `CA expired ${ca.notAfter.toISOString()}` });
  }
  return { ok: problems.length === 0, problems };
}

/** True when `keyPem` is the private key of the certificate's public key. */
export function certificateMatchesKey(
  certPem: string,
  key: string | KeyObject,
  label = "certificate",
): boolean {
  const x = nodeCertificate(certPem, label);
  const priv = privateKeyObject(key, `${label}.key`);
  const a = x.publicKey.export({ type: "spki", format: "der" });
  const b = createPublicKey(priv).export({ type: "spki", format: "der" });
  return Buffer.compare(a, b) === 0;
}

/** One line of an expiry report, e.g. for `khw certs check-expiration`. */
export interface ExpiryReportRow extends ExpiryCheck {
  id: string;
  subject: string;
  /** Whether it is a CA (a CA's expiry needs forceCa and a redistribution, not a plain renewal). */
  isCA: boolean;
}

/**
 * Every certificate of a PKI (`{ id: { cert } }`, e.g. readPkiState's result) at `now`, soonest
 * expiry first. Unreadable certificates throw PkiError INVALID_PEM naming `<id>.crt`.
 */
export function expiryReport(
  pki: Record<string, { cert?: string }>,
  now: Date,
  withinDays = 30,
): ExpiryReportRow[] {
  const rows: ExpiryReportRow[] = [];
  for (const [id, entry] of Object.entries(pki)) {
    if (entry.cert === undefined) continue;
    const info = inspectCertificate(entry.cert, `${id}.crt`);
    rows.push({ id, subject: info.subject.text, isCA: info.isCA, ...checkExpiry(info, now, withinDays) });
  }
  return rows.sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime() || a.id.localeCompare(b.id));
}
