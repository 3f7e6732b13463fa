import { base64Values } from "./base64";
import { AddonsError } from "./errors";
import {
  type ClusterRoleBinding,
  type Complete,
  MANAGED_BY_LABEL,
  RBAC_API_GROUP,
  type Secret,
} from "./objects";

/** `<id>.<secret>`: 6 and 16 characters of [a-z0-9], as the apiserver's bootstrap authenticator requires. */
export const BOOTSTRAP_TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
export const BOOTSTRAP_TOKEN_ID_PATTERN = /^[a-z0-9]{6}$/;
export const BOOTSTRAP_TOKEN_SECRET_PATTERN = /^[a-z0-9]{16}$/;
/** The Secret type the bootstrap authenticator reads. */
export const BOOTSTRAP_TOKEN_SECRET_TYPE = "bootstrap.kubernetes.io/token";
/** Every bootstrap token authenticates as a member of this group. */
export const BOOTSTRAPPERS_GROUP = "system:bootstrappers";
/** The extra group khw's token carries (extra groups must start with `system:bootstrappers:`). */
export const WORKER_BOOTSTRAPPERS_GROUP = "system:bootstrappers:worker";
export const NODES_GROUP = "system:nodes";

export interface BootstrapToken {
  /** 6 characters of [a-z0-9]; public (names the Secret `bootstrap-token-<id>`). */
  id: string;
  /** 16 characters of [a-z0-9]; the credential. */
  secret: string;
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
/** 252 = 7 × 36: bytes at or above it are dropped so every character is equally likely. */
const UNBIASED_LIMIT = 252;

/** `n` characters of [a-z0-9] from a random source, without modulo bias. */
function randomChars(n: number, randomBytes: (size: number) => Uint8Array): string {
  let out = "";
  for (let rounds = 0; out.length < n; rounds++) {
    if (rounds > 64) {
      throw new AddonsError(
        "BAD_RANDOM_SOURCE",
        "randomBytes",
        "the random source keeps returning bytes ≥ 252",
        "pass crypto.randomBytes (node:crypto)",
      );
    }
    const bytes = randomBytes(n * 2);
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
      throw new AddonsError(
        "BAD_RANDOM_SOURCE",
        "randomBytes",
        "the random source returned no bytes",
        "pass crypto.randomBytes (node:crypto)",
      );
    }
    for (const b of bytes) {
      if (b < UNBIASED_LIMIT && out.length < n) out += ALPHABET[b % ALPHABET.length];
    }
  }
  return out;
}

/**
 * A new bootstrap token from an injected random source (e.g. `crypto.randomBytes`): 6 + 16
 * characters of [a-z0-9], uniformly drawn. The caller keeps it across runs (it is state: the
 * worker's bootstrap kubeconfig and the Secret must carry the same one).
 */
export function generateBootstrapToken(randomBytes: (size: number) => Uint8Array): BootstrapToken {
  return { id: randomChars(6, randomBytes), secret: randomChars(16, randomBytes) };
}

/** True for a well-formed `<id>.<secret>` token. */
export function isBootstrapToken(token: string): boolean {
  return BOOTSTRAP_TOKEN_PATTERN.test(token);
}

/** `<id>.<secret>` → its parts; throws AddonsError INVALID_BOOTSTRAP_TOKEN naming what is wrong. */
export function parseBootstrapToken(token: string, field = "bootstrapToken"): BootstrapToken {
  const m = BOOTSTRAP_TOKEN_PATTERN.exec(token);
  if (!m) {
    throw new AddonsError(
      "INVALID_BOOTSTRAP_TOKEN",
      field,
      "is not a bootstrap token of the form <6 chars>.<16 chars> from [a-z0-9]",
      "generate one with generateBootstrapToken(crypto.randomBytes)",
    );
  }
  return { id: m[1]!, secret: m[2]! };
}

/** `<id>.<secret>`, after checking both parts. */
export function formatBootstrapToken(token: BootstrapToken): string {
  checkBootstrapToken(token);
  return `${token.id}.${token.secret}`;
}

/** Throws AddonsError INVALID_BOOTSTRAP_TOKEN when the id or secret is malformed. */
export function checkBootstrapToken(token: BootstrapToken, field = "bootstrapToken"): void {
  if (!BOOTSTRAP_TOKEN_ID_PATTERN.test(token.id)) {
    throw new AddonsError(
      "INVALID_BOOTSTRAP_TOKEN",
      `${field}.id`,
      `'${token.id}' is not 6 characters of [a-z0-9]`,
      "generate one with generateBootstrapToken(crypto.randomBytes)",
    );
  }
  if (!BOOTSTRAP_TOKEN_SECRET_PATTERN.test(token.secret)) {
    throw new AddonsError(
      "INVALID_BOOTSTRAP_TOKEN",
      `${field}.secret`,
      "is not 16 characters of [a-z0-9]",
      "generate one with generateBootstrapToken(crypto.randomBytes)",
    );
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 UTC timestamp without fractions, e.g. `2026-11-28T14:00:00Z`. */
export function rfc3339(date: Date): string {
  if (Number.isNaN(date.getTime())) {
    throw new AddonsError("INVALID_EXPIRATION", "expiration", "is an invalid Date");
  }
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The expiry `ttlHours` after `now` (an injected clock reading), RFC 3339. */
export function bootstrapTokenExpiration(now: Date, ttlHours = 24): string {
  if (!(Number.isFinite(ttlHours) && ttlHours > 0)) {
    throw new AddonsError("INVALID_EXPIRATION", "ttlHours", `${ttlHours} is not a positive number of hours`);
  }
  return rfc3339(new Date(now.getTime() + Math.round(ttlHours * 3_600_000)));
}

function expirationText(expiration: string | Date, field: string): string {
  if (expiration instanceof Date) return rfc3339(expiration);
  if (!RFC3339.test(expiration) || Number.isNaN(Date.parse(expiration))) {
    throw new AddonsError(
      "INVALID_EXPIRATION",
      field,
      `'${expiration}' is not an RFC 3339 timestamp`,
      "write it like 2026-11-28T14:00:00Z, or pass a Date",
    );
  }
  return expiration;
}

export interface TlsBootstrapInput {
  token: BootstrapToken;
  /** When the token stops working: RFC 3339 text or a Date (from the caller's clock). */
  expiration: string | Date;
  /** Extra groups of the token; default [system:bootstrappers:worker]. Each must start with `system:bootstrappers:`. */
  extraGroups?: string[];
  description?: string;
}

/**
 * The bootstrap token Secret `bootstrap-token-<id>` in kube-system. Written as `data` (base64), not
 * `stringData`: the apiserver stores only `data`, so with `stringData` every later `kubectl apply`
 * would report the Secret as changed.
 */
export function bootstrapTokenSecret(input: TlsBootstrapInput): Complete<Secret> {
  checkBootstrapToken(input.token, "token");
  const groups = input.extraGroups ?? [WORKER_BOOTSTRAPPERS_GROUP];
  groups.forEach((g, i) => {
    if (!/^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/.test(g)) {
      throw new AddonsError(
        "INVALID_INPUT",
        `extraGroups[${i}]`,
        `'${g}' is not a bootstrap group`,
        "extra groups must look like system:bootstrappers:<name>",
      );
    }
  });
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: `bootstrap-token-${input.token.id}`,
      namespace: "kube-system",
      labels: { ...MANAGED_BY_LABEL },
    },
    type: BOOTSTRAP_TOKEN_SECRET_TYPE,
    data: base64Values({
      description: input.description ?? "khw: TLS bootstrapping of kubelets",
      "token-id": input.token.id,
      "token-secret": input.token.secret,
      expiration: expirationText(input.expiration, "expiration"),
      "usage-bootstrap-authentication": "true",
      "usage-bootstrap-signing": "true",
      "auth-extra-groups": groups.join(","),
    }),
  };
}

function binding(name: string, clusterRole: string, group: string): Complete<ClusterRoleBinding> {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name, labels: { ...MANAGED_BY_LABEL } },
    roleRef: { apiGroup: RBAC_API_GROUP, kind: "ClusterRole", name: clusterRole },
    subjects: [{ apiGroup: RBAC_API_GROUP, kind: "Group", name: group }],
  };
}

/**
 * The three bindings of TLS bootstrapping: bootstrappers may create CSRs, their node-client CSRs
 * are approved automatically, and nodes may renew their own client certificates. (The kubelet's
 * serving CSR, signer kubernetes.io/kubelet-serving, is not covered: it must be approved by the caller.)
 */
export function tlsBootstrapBindings(): Complete<ClusterRoleBinding>[] {
  return [
    binding("create-csrs-for-bootstrapping", "system:node-bootstrapper", BOOTSTRAPPERS_GROUP),
    binding(
      "auto-approve-csrs-for-group",
      "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
      BOOTSTRAPPERS_GROUP,
    ),
    binding(
      "auto-approve-renewals-for-nodes",
      "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
      NODES_GROUP,
    ),
  ];
}

/** The token Secret, then the three bindings. */
export function tlsBootstrapObjects(
  input: TlsBootstrapInput,
): (Complete<Secret> | Complete<ClusterRoleBinding>)[] {
  return [bootstrapTokenSecret(input), ...tlsBootstrapBindings()];
}
