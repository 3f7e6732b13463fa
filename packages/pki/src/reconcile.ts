import type { KeyObject } from "node:crypto";
import { type ParsedCertificate, parseCertificatePem } from "./_x509";
import { assertValidCatalogue, type CertificateSpec, canonicalIp } from "./catalogue";
import { PkiError } from "./errors";
import { certificateMatchesKey, verifyChain } from "./inspect";
import {
  DEFAULT_BACKDATE_SECONDS,
  issueCertificate,
  type PreparedIssuer,
  prepareIssuer,
  type RandomSource,
} from "./issue";
import { type KeyProvider, keyAlgorithmOf, nativeKeyProvider, privateKeyObject, privateKeyPem } from "./keys";

/** A certificate and its private key, as PEM text (what `<id>.crt` and `<id>.key` hold). */
export interface CertificateMaterial {
  cert: string;
  key: string;
}

/** The PKI by certificate id. */
export type PkiMaterial = Record<string, CertificateMaterial>;

/** What exists already (read by the caller from its `pki/` directory); either half may be missing. */
export type ExistingPki = Record<string, { cert?: string; key?: string }>;

export type ReasonCode =
  | "missing"
  | "forced"
  | "cert-unreadable"
  | "key-missing"
  | "key-mismatch"
  | "key-algorithm-changed"
  | "signed-by-other-ca"
  | "signer-reissued"
  | "subject-changed"
  | "sans-changed"
  | "usages-changed"
  | "validity-changed"
  | "expired"
  | "expires-soon";

export interface Reason {
  code: ReasonCode;
  message: string;
}

export interface PkiDecision {
  id: string;
  action: "keep" | "issue" | "reissue";
  reasons: Reason[];
  /** Whether apply generates a new private key (else the existing key is reused). */
  newKey: boolean;
}

export type CaWarningCode =
  | "ca-expired"
  | "ca-expires-soon"
  | "ca-subject-changed"
  | "ca-key-algorithm-changed";

/** Something wrong with a kept CA that only `forceCa` would change. */
export interface PkiWarning {
  id: string;
  code: CaWarningCode;
  message: string;
  hint: string;
}

export interface PkiPlan {
  decisions: PkiDecision[];
  warnings: PkiWarning[];
}

export interface ReconcileOptions {
  catalogue: readonly CertificateSpec[];
  /** What exists, by certificate id. */
  existing?: ExistingPki;
  /** A CA brought by the caller for the catalogue's root (signer null); overrides `existing[rootId]`. */
  ca?: { cert: string; key: string };
  now: Date;
  /** Leaves expiring within this many days are re-issued (default 30). */
  renewWithinDays?: number;
  /** Regenerate the CA (new key) and so re-issue everything it signs. Never done otherwise. */
  forceCa?: boolean;
}

const DAY = 86_400_000;

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((v) => sb.has(v));
}

function setDiff(want: readonly string[], have: readonly string[]): string {
  const added = want.filter((v) => !have.includes(v));
  const removed = have.filter((v) => !want.includes(v));
  return [
    added.length ? `missing ${added.join(", ")}` : "",
    removed.length ? `unexpected ${removed.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join("; ");
}

function tryParse(pem: string, label: string): ParsedCertificate | undefined {
  try {
    return parseCertificatePem(pem, label);
  } catch {
    return undefined;
  }
}

function readableKey(pem: string | undefined, label: string): KeyObject | undefined {
  if (pem === undefined) return undefined;
  try {
    return privateKeyObject(pem, label);
  } catch {
    return undefined;
  }
}

/** What differs between an existing certificate and its catalogue entry (content only, not the chain). */
function contentReasons(
  spec: CertificateSpec,
  cert: ParsedCertificate,
  now: Date,
  renewWithinDays: number,
): Reason[] {
  const reasons: Reason[] = [];
  const wantO = spec.subject.O ?? [];
  if (cert.subject.CN !== spec.subject.CN || !sameList(cert.subject.O, wantO)) {
    reasons.push({
      code: "subject-changed",
      message: `subject is '${cert.subject.text}', the catalogue wants CN=${spec.subject.CN}${wantO.map((o) => `, O=${o}`).join("")}`,
    });
  }
  const wantIps = spec.sans.ips.map(canonicalIp);
  if (!sameSet(cert.sans.dns, spec.sans.dns) || !sameSet(cert.sans.ips, wantIps)) {
    const d = [setDiff(spec.sans.dns, cert.sans.dns), setDiff(wantIps, cert.sans.ips)].filter(Boolean);
    reasons.push({ code: "sans-changed", message: `SANs differ: ${d.join("; ")}` });
  }
  const ku = cert.keyUsage?.usages ?? [];
  const eku = cert.extKeyUsage?.usages ?? [];
  const isCA = cert.basicConstraints?.isCA ?? false;
  if (!sameSet(ku, spec.keyUsage) || !sameSet(eku, spec.extKeyUsage) || isCA !== spec.isCA) {
    reasons.push({
      code: "usages-changed",
      message: `usages are [${ku.join(", ")}] / [${eku.join(", ")}]${isCA ? " CA" : ""}, the catalogue wants [${spec.keyUsage.join(", ")}] / [${spec.extKeyUsage.join(", ")}]${spec.isCA ? " CA" : ""}`,
    });
  }
  const left = cert.notAfter.getTime() - now.getTime();
  if (left <= 0) reasons.push({ code: "expired", message: `expired on ${cert.notAfter.toISOString()}` });
  else if (left <= renewWithinDays * DAY) {
    reasons.push({
      code: "expires-soon",
      message: `expires on ${cert.notAfter.toISOString()}, within ${renewWithinDays} days`,
    });
  } else if (cert.notAfter.getTime() - cert.notBefore.getTime() > (spec.validityDays + 1) * DAY) {
    reasons.push({
      code: "validity-changed",
      message: `valid until ${cert.notAfter.toISOString()}, longer than the catalogue's ${spec.validityDays} days`,
    });
  }
  return reasons;
}

function rootDecision(
  spec: CertificateSpec,
  have: { cert?: string; key?: string },
  options: ReconcileOptions,
  warnings: PkiWarning[],
): PkiDecision {
  const id = spec.id;
  if (options.forceCa) {
    const exists = have.cert !== undefined || have.key !== undefined;
    return {
      id,
      action: exists ? "reissue" : "issue",
      reasons: [
        exists
          ? { code: "forced", message: "forceCa: a new CA key and certificate" }
          : { code: "missing", message: "no CA yet" },
      ],
      newKey: true,
    };
  }
  if (have.cert === undefined && have.key === undefined) {
    return { id, action: "issue", reasons: [{ code: "missing", message: "no CA yet" }], newKey: true };
  }
  if (have.key === undefined) {
    throw new PkiError(
      "CA_KEY_MISSING",
      id,
      `the CA certificate exists but its key (${id}.key) does not; nothing can be signed`,
      `restore ${id}.key, or pass forceCa to create a new CA (every certificate is then re-issued)`,
    );
  }
  const key = readableKey(have.key, `${id}.key`);
  if (!key) {
    throw new PkiError(
      "INVALID_KEY",
      `${id}.key`,
      "is not a readable private key",
      `restore ${id}.key from a backup, or pass forceCa`,
    );
  }
  if (have.cert === undefined) {
    return {
      id,
      action: "issue",
      reasons: [{ code: "missing", message: "CA certificate missing; re-created from the existing key" }],
      newKey: false,
    };
  }
  const cert = tryParse(have.cert, `${id}.crt`);
  if (!cert) {
    throw new PkiError(
      "INVALID_PEM",
      `${id}.crt`,
      "is not a readable certificate",
      `restore ${id}.crt, or pass forceCa`,
    );
  }
  if (!certificateMatchesKey(have.cert, key, id)) {
    throw new PkiError(
      "CA_KEY_MISMATCH",
      id,
      `${id}.crt does not belong to ${id}.key (different public keys)`,
      `put the matching pair back in place, or pass forceCa to create a new CA (every certificate is then re-issued)`,
    );
  }
  const hint =
    "pass forceCa to create a new CA; every certificate it signed is then re-issued and must be redistributed";
  const left = cert.notAfter.getTime() - options.now.getTime();
  if (left <= 0)
    warnings.push({
      id,
      code: "ca-expired",
      message: `the CA expired on ${cert.notAfter.toISOString()}`,
      hint,
    });
  else if (left <= (options.renewWithinDays ?? 30) * DAY) {
    warnings.push({
      id,
      code: "ca-expires-soon",
      message: `the CA expires on ${cert.notAfter.toISOString()}`,
      hint,
    });
  }
  if (cert.subject.CN !== spec.subject.CN || !sameList(cert.subject.O, spec.subject.O ?? [])) {
    warnings.push({
      id,
      code: "ca-subject-changed",
      message: `the CA's subject is '${cert.subject.text}', the catalogue wants CN=${spec.subject.CN}`,
      hint,
    });
  }
  const alg = keyAlgorithmOf(key);
  if (alg !== spec.keyAlgorithm) {
    warnings.push({
      id,
      code: "ca-key-algorithm-changed",
      message: `the CA key is ${alg ?? key.asymmetricKeyType}, the catalogue wants ${spec.keyAlgorithm}`,
      hint,
    });
  }
  return { id, action: "keep", reasons: [], newKey: false };
}

function leafDecision(
  spec: CertificateSpec,
  have: { cert?: string; key?: string },
  signer: { decision: PkiDecision; cert?: string },
  options: ReconcileOptions,
): PkiDecision {
  const id = spec.id;
  const key = readableKey(have.key, `${id}.key`);
  const keyOk = key !== undefined && keyAlgorithmOf(key) === spec.keyAlgorithm;
  if (have.cert === undefined) {
    return {
      id,
      action: "issue",
      reasons: [{ code: "missing", message: `no ${id}.crt yet` }],
      newKey: !keyOk,
    };
  }
  const reasons: Reason[] = [];
  let newKey = false;
  const cert = tryParse(have.cert, `${id}.crt`);
  if (!cert) reasons.push({ code: "cert-unreadable", message: `${id}.crt is not a readable certificate` });
  if (have.key === undefined || key === undefined) {
    reasons.push({
      code: "key-missing",
      message: have.key === undefined ? `no ${id}.key` : `${id}.key is not a readable private key`,
    });
    newKey = true;
  } else if (cert && !certificateMatchesKey(have.cert, key, id)) {
    reasons.push({ code: "key-mismatch", message: `${id}.crt does not belong to ${id}.key` });
    newKey = true;
  } else if (!keyOk) {
    reasons.push({
      code: "key-algorithm-changed",
      message: `the key is ${keyAlgorithmOf(key) ?? key.asymmetricKeyType}, the catalogue wants ${spec.keyAlgorithm}`,
    });
    newKey = true;
  }
  if (signer.decision.action !== "keep") {
    reasons.push({
      code: "signer-reissued",
      message: `its CA '${spec.signer}' is ${signer.decision.action === "issue" ? "new" : "re-issued"}`,
    });
  } else if (cert && signer.cert) {
    const chain = verifyChain(have.cert, signer.cert);
    const broken = chain.problems.filter(
      (p) => p.code === "bad-signature" || p.code === "issuer-name-mismatch",
    );
    if (broken.length > 0) {
      reasons.push({
        code: "signed-by-other-ca",
        message: `not signed by '${spec.signer}': ${broken.map((p) => p.message).join("; ")}`,
      });
    }
  }
  if (cert) reasons.push(...contentReasons(spec, cert, options.now, options.renewWithinDays ?? 30));
  return reasons.length === 0
    ? { id, action: "keep", reasons, newKey: false }
    : { id, action: "reissue", reasons, newKey };
}

/**
 * Decides, per certificate of the catalogue, whether to keep what exists, issue it, or re-issue it,
 * and why — as data; nothing is generated here. The CA is never regenerated unless `forceCa`; a CA
 * whose certificate and key do not match is an error (PkiError CA_KEY_MISMATCH).
 */
export function reconcilePki(options: ReconcileOptions): PkiPlan {
  assertValidCatalogue(options.catalogue);
  const existing = options.existing ?? {};
  const decisions: PkiDecision[] = [];
  const byId = new Map<string, PkiDecision>();
  const warnings: PkiWarning[] = [];
  for (const spec of options.catalogue) {
    let have = existing[spec.id] ?? {};
    if (spec.signer === null && options.ca) have = options.ca;
    let decision: PkiDecision;
    if (spec.signer === null) decision = rootDecision(spec, have, options, warnings);
    else {
      const signerSpec = options.catalogue.find((c) => c.id === spec.signer)!;
      const signerHave =
        signerSpec.signer === null && options.ca ? options.ca : (existing[spec.signer] ?? {});
      decision = leafDecision(
        spec,
        have,
        {
          decision: byId.get(spec.signer)!,
          ...(signerHave.cert !== undefined ? { cert: signerHave.cert } : {}),
        },
        options,
      );
    }
    decisions.push(decision);
    byId.set(spec.id, decision);
  }
  return { decisions, warnings };
}

export interface ApplyOptions {
  plan: PkiPlan;
  catalogue: readonly CertificateSpec[];
  existing?: ExistingPki;
  ca?: { cert: string; key: string };
  now: Date;
  /** Serial numbers come from here (default: Node's CSPRNG). */
  random?: RandomSource;
  /** Private keys come from here (default: native generation, all in parallel). */
  keys?: KeyProvider;
  backdateSeconds?: number;
}

export interface ApplyResult {
  /** The whole PKI after the plan: kept material unchanged (same text), new material PEM. */
  material: PkiMaterial;
  /** Ids of certificates issued or re-issued, in catalogue order. */
  changed: string[];
}

/**
 * Carries out a plan: generates the new keys (all at once, spread over the cores by libuv's
 * thread pool), then signs in catalogue order (CAs first). Returns the complete material.
 */
export async function applyPkiPlan(options: ApplyOptions): Promise<ApplyResult> {
  const { plan, catalogue, now } = options;
  const existing = options.existing ?? {};
  const provider = options.keys ?? nativeKeyProvider;
  const specs = new Map(catalogue.map((c) => [c.id, c]));
  const haveOf = (spec: CertificateSpec) =>
    spec.signer === null && options.ca ? options.ca : (existing[spec.id] ?? {});
  // Start every key at once; signing below waits for each in turn.
  const pendingKeys = new Map<string, Promise<string | KeyObject>>();
  for (const d of plan.decisions) {
    if (d.action !== "keep" && d.newKey) {
      const spec = specs.get(d.id)!;
      const p = provider({ id: d.id, algorithm: spec.keyAlgorithm });
      p.catch(() => {}); // handled when awaited below
      pendingKeys.set(d.id, p);
    }
  }
  const material: PkiMaterial = {};
  const changed: string[] = [];
  const prepared = new Map<string, PreparedIssuer>();
  for (const d of plan.decisions) {
    const spec = specs.get(d.id);
    if (!spec) {
      throw new PkiError(
        "UNKNOWN_CERTIFICATE",
        d.id,
        "is in the plan but not in the catalogue",
        "reconcile with the same catalogue",
      );
    }
    const have = haveOf(spec);
    if (d.action === "keep") {
      material[d.id] = { cert: have.cert!, key: have.key! };
      continue;
    }
    const keyIn = d.newKey ? await pendingKeys.get(d.id)! : have.key;
    if (keyIn === undefined) {
      throw new PkiError(
        "INVALID_KEY",
        `${d.id}.key`,
        "the plan reuses a key that does not exist",
        "reconcile again with the same existing material",
      );
    }
    const key = privateKeyObject(keyIn, `${d.id}.key`);
    let issuer: PreparedIssuer | undefined;
    if (spec.signer !== null) {
      issuer = prepared.get(spec.signer);
      if (!issuer) {
        const m = material[spec.signer];
        if (!m) {
          throw new PkiError(
            "CA_MISSING",
            spec.signer,
            `is needed to sign '${d.id}' but is not available`,
            "list the CA before its leaves",
          );
        }
        issuer = prepareIssuer(m, spec.signer);
        prepared.set(spec.signer, issuer);
      }
    }
    const cert = issueCertificate({
      spec,
      key,
      ...(issuer ? { issuer } : {}),
      now,
      ...(options.random ? { random: options.random } : {}),
      backdateSeconds: options.backdateSeconds ?? DEFAULT_BACKDATE_SECONDS,
    });
    material[d.id] = { cert, key: typeof keyIn === "string" ? keyIn : privateKeyPem(key) };
    if (spec.isCA) prepared.set(d.id, prepareIssuer({ cert, key }, d.id));
    changed.push(d.id);
  }
  return { material, changed };
}

export interface IssuePkiOptions {
  catalogue: readonly CertificateSpec[];
  now: Date;
  /** Bring your own CA instead of generating one. */
  ca?: { cert: string; key: string };
  random?: RandomSource;
  keys?: KeyProvider;
  backdateSeconds?: number;
}

/** Issues a whole catalogue from scratch (or under a given CA): reconcile against nothing, then apply. */
export async function issuePki(options: IssuePkiOptions): Promise<PkiMaterial> {
  const plan = reconcilePki({
    catalogue: options.catalogue,
    now: options.now,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const { material } = await applyPkiPlan({ ...options, plan });
  return material;
}
