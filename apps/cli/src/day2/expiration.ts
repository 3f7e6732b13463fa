import {
  type Catalogue,
  type CertificateInfo,
  checkExpiry,
  type ExistingPki,
  type ExpiryStatus,
  inspectCertificate,
  PkiError,
  verifyChain,
} from "@khw/pki";

export type CertStatus = ExpiryStatus | "missing" | "unreadable" | "wrong-signer";

/** One row of `khw certs check-expiration`. */
export interface CertExpiry {
  id: string;
  description: string;
  /** The catalogue's signer id, or null for a CA. */
  signer: string | null;
  /** The subject CN actually in the certificate. */
  subject?: string;
  /** The issuer CN actually in the certificate. */
  issuer?: string;
  notAfter?: string;
  daysLeft?: number;
  status: CertStatus;
  /** Why, for every status but valid. */
  problem?: string;
}

export interface ExpirationReport {
  now: string;
  warnDays: number;
  certificates: CertExpiry[];
  /** True when every certificate is present, signed by its CA and valid beyond warnDays. */
  ok: boolean;
}

/**
 * Checks every certificate of the catalogue in the working directory's pki/: present, readable,
 * signed by its catalogue signer, and how long it stays valid. Pure: contents and clock passed in.
 */
export function expirationReport(
  catalogue: Catalogue,
  existing: ExistingPki,
  now: Date,
  warnDays: number,
): ExpirationReport {
  const infos = new Map<string, CertificateInfo>();
  const certificates: CertExpiry[] = catalogue.map((spec) => {
    const base = { id: spec.id, description: spec.description, signer: spec.signer };
    const pem = existing[spec.id]?.cert;
    if (pem === undefined) {
      return { ...base, status: "missing", problem: `pki/${spec.id}.crt does not exist` };
    }
    let info: CertificateInfo;
    try {
      info = inspectCertificate(pem, `${spec.id}.crt`);
    } catch (e) {
      return { ...base, status: "unreadable", problem: e instanceof PkiError ? e.message : String(e) };
    }
    infos.set(spec.id, info);
    const expiry = checkExpiry(info, now, warnDays);
    const row: CertExpiry = {
      ...base,
      subject: info.subject.CN ?? info.subject.text,
      issuer: info.issuer.CN ?? info.issuer.text,
      notAfter: info.notAfter.toISOString(),
      daysLeft: expiry.daysLeft,
      status: expiry.status,
    };
    if (spec.signer !== null) {
      const caPem = existing[spec.signer]?.cert;
      if (caPem !== undefined && infos.has(spec.signer)) {
        const chain = verifyChain(pem, caPem);
        const broken = chain.problems.filter(
          (p) => p.code === "bad-signature" || p.code === "issuer-name-mismatch",
        );
        if (broken.length > 0) {
          return { ...row, status: "wrong-signer", problem: broken.map((p) => p.message).join("; ") };
        }
      }
    }
    if (expiry.status === "expired") row.problem = `expired ${-expiry.daysLeft} day(s) ago`;
    else if (expiry.status === "expiring") row.problem = `expires within ${warnDays} days`;
    else if (expiry.status === "not-yet-valid") {
      row.problem = `not valid before ${info.notBefore.toISOString()} (is this machine's clock right?)`;
    }
    return row;
  });
  return {
    now: now.toISOString(),
    warnDays,
    certificates,
    ok: certificates.every((c) => c.status === "valid"),
  };
}
