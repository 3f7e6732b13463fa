import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bootstrapTokenExpiration } from "@khw/addons";
import {
  ADMIN_PKI_DIR,
  applyPkiPlan,
  CA_ID,
  type Catalogue,
  catalogueFromCluster,
  type PkiDecision,
  PkiError,
  type PkiMaterial,
  type PkiWarning,
  readPkiState,
  reconcilePki,
} from "@khw/pki";
import type { Cluster } from "@khw/spec/core";
import { CliError, fsErrorToCliError } from "../errors";
import {
  assertNoLinkInside,
  type FileToWrite,
  lstatIfAny,
  removeStaleTemps,
  symlinkRefusal,
  writeFilesAtomic,
} from "../fs-atomic";
import { currentSeams, type Seams } from "./seams";

/**
 * The working directory is the user's state, beside cluster.yaml:
 *
 *   pki/<id>.crt, pki/<id>.key   the CA and every certificate (keys 0600)
 *   pki/encryption-key           32 random bytes, base64: the aescbc key of encryption-config.yaml (0600)
 *   pki/bootstrap-token          `<id>.<secret>` for tls-bootstrap workers (0600)
 *   .khw/state.json              what `khw up` finished (see up/state.ts)
 *   .khw/logs/                   one log per `khw up` run (never secrets)
 */
export interface WorkdirPaths {
  root: string;
  pki: string;
  encryptionKey: string;
  bootstrapToken: string;
  /** RFC 3339 expiry of the bootstrap token's Secret. */
  bootstrapTokenExpires: string;
  khw: string;
  state: string;
  logs: string;
  /** The admin's own kubeconfig written by `khw up` (the `admin` phase). */
  adminKubeconfig: string;
}

export function workdirPaths(root: string): WorkdirPaths {
  const pki = join(root, ADMIN_PKI_DIR);
  const khw = join(root, ".khw");
  return {
    root,
    pki,
    encryptionKey: join(pki, "encryption-key"),
    bootstrapToken: join(pki, "bootstrap-token"),
    bootstrapTokenExpires: join(pki, "bootstrap-token.expires"),
    khw,
    state: join(khw, "state.json"),
    logs: join(khw, "logs"),
    adminKubeconfig: join(root, "admin.kubeconfig"),
  };
}

/** Everything secret a cluster's artifacts are made from. */
export interface WorkdirSecrets {
  /** The whole PKI by certificate id (PEM). */
  material: PkiMaterial;
  /** base64 of 32 bytes. */
  encryptionKey: string;
  /** `<6>.<16>` lower-case alphanumerics. */
  bootstrapToken: string;
  /** When the token's Secret expires (RFC 3339); renewed by `syncWorkdir` when less than an hour is left. */
  bootstrapTokenExpires: string;
}

/** What `syncWorkdir` did, for the user to read. */
export interface WorkdirReport {
  /** Every certificate's decision (keep / issue / reissue) with reasons. */
  decisions: PkiDecision[];
  warnings: PkiWarning[];
  /** Ids of certificates issued or re-issued, in catalogue order. */
  changed: string[];
  /** Ids of certificates that existed before and were re-issued (subset of `changed`). */
  reissued: string[];
  encryptionKeyCreated: boolean;
  bootstrapTokenCreated: boolean;
  /** The token's expiry was set or moved forward (the tls-bootstrap manifest changes). */
  bootstrapTokenRenewed: boolean;
}

export interface WorkdirState extends WorkdirSecrets {
  paths: WorkdirPaths;
  catalogue: Catalogue;
  report: WorkdirReport;
}

const TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** A bootstrap token `<6>.<16>` from the given randomness (rejection sampling: no modulo bias). */
export function newBootstrapToken(random: (n: number) => Uint8Array): string {
  const chars: string[] = [];
  while (chars.length < 22) {
    for (const b of random(32)) {
      if (b < 252 && chars.length < 22) chars.push(TOKEN_ALPHABET[b % 36]!);
    }
  }
  return `${chars.slice(0, 6).join("")}.${chars.slice(6).join("")}`;
}

const TOKEN_RE = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
/** The bootstrap token's Secret lives this long, and is renewed when less than TOKEN_RENEW_MS is left. */
export const TOKEN_TTL_HOURS = 24;
const TOKEN_RENEW_MS = 3_600_000;

/** Runs a read; an ordinary file error (EACCES, ENOTDIR, …) becomes a CliError naming the path. */
function reading<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw fsErrorToCliError(e) ?? e;
  }
}

function readOptional(path: string): string | undefined {
  return reading(() => (existsSync(path) ? readFileSync(path, "utf8") : undefined));
}

/** The certificate files in `pki/` (file name → text). */
export function readPkiDir(paths: WorkdirPaths): Record<string, string> {
  const dir = lstatIfAny(paths.pki);
  if (dir === undefined) return {};
  if (dir.isSymbolicLink()) throw symlinkRefusal(paths.pki, paths.root, WORKDIR_NAME);
  const out: Record<string, string> = {};
  for (const name of reading(() => readdirSync(paths.pki)).sort()) {
    if (!/\.(crt|key)$/.test(name)) continue;
    const p = join(paths.pki, name);
    const st = reading(() => lstatSync(p));
    if (st.isSymbolicLink()) throw symlinkRefusal(p, paths.root, WORKDIR_NAME);
    if (st.isFile()) out[name] = reading(() => readFileSync(p, "utf8"));
  }
  return out;
}

const WORKDIR_NAME = "the working directory";

/**
 * The working directory's changed files, written at the end of a sync as one batch (atomic per file,
 * one disk wait for all, nothing changed if a write fails before the renames); nothing below its root
 * is followed if it is a link.
 */
function writeState(paths: WorkdirPaths, files: readonly FileToWrite[]): void {
  writeFilesAtomic(files, { root: paths.root, rootName: WORKDIR_NAME, checkedDirs: new Set() });
}

function readEncryptionKey(paths: WorkdirPaths): string | undefined {
  const text = readOptional(paths.encryptionKey)?.trim();
  if (text === undefined) return undefined;
  if (Buffer.from(text, "base64").length !== 32) {
    throw new CliError(
      "ENCRYPTION_KEY_INVALID",
      `${paths.encryptionKey} does not hold 32 base64-encoded bytes`,
      "restore it from a backup (secrets already stored in etcd need it); delete it only for a new cluster",
    );
  }
  return text;
}

function readBootstrapToken(paths: WorkdirPaths): string | undefined {
  const text = readOptional(paths.bootstrapToken)?.trim();
  if (text === undefined) return undefined;
  if (!TOKEN_RE.test(text)) {
    throw new CliError(
      "BOOTSTRAP_TOKEN_INVALID",
      `${paths.bootstrapToken} is not a bootstrap token (<6>.<16> lower-case letters and digits)`,
      "delete the file; the next `khw gen` makes a new one",
    );
  }
  return text;
}

function pkiErrorToCli(e: unknown): never {
  if (e instanceof PkiError) {
    throw new CliError("PKI", e.message, (e as { hint?: string }).hint);
  }
  throw e;
}

/**
 * Brings `pki/`, the encryption key and the bootstrap token in line with the cluster: issues what is
 * missing, re-issues only what the spec change affects (pki's reconcile says which and why), keeps
 * everything else byte for byte. Writes changed files atomically (keys 0600). Never regenerates the CA.
 */
export async function syncWorkdir(
  root: string,
  cluster: Cluster,
  seams: Seams = currentSeams(),
): Promise<WorkdirState> {
  const paths = workdirPaths(root);
  const catalogue = catalogueFromCluster(cluster);
  // A run killed before (kill -9, a crash) may have left temp files, some holding private keys.
  removeStaleTemps(paths.pki);
  const existing = readPkiState(readPkiDir(paths));
  const now = seams.now();
  let decisions: PkiDecision[];
  let warnings: PkiWarning[];
  let material: PkiMaterial;
  let changed: string[];
  try {
    const plan = reconcilePki({ catalogue, existing, now });
    decisions = plan.decisions;
    warnings = plan.warnings;
    ({ material, changed } = await applyPkiPlan({
      plan,
      catalogue,
      existing,
      now,
      random: seams.random,
      keys: seams.keys,
    }));
  } catch (e) {
    pkiErrorToCli(e);
  }
  // Refuse a link anywhere on the way before writing anything (never a half-updated pki/).
  for (const p of [
    ...changed.flatMap((id) => [join(paths.pki, `${id}.key`), join(paths.pki, `${id}.crt`)]),
    paths.encryptionKey,
    paths.bootstrapToken,
    paths.bootstrapTokenExpires,
  ])
    assertNoLinkInside(paths.root, p, WORKDIR_NAME);
  const writes: FileToWrite[] = [];
  for (const id of changed) {
    const m = material[id]!;
    const keyPath = join(paths.pki, `${id}.key`);
    if (readOptional(keyPath) !== m.key) writes.push({ path: keyPath, contents: m.key, mode: 0o600 });
    writes.push({ path: join(paths.pki, `${id}.crt`), contents: m.cert, mode: 0o644 });
  }
  let encryptionKey = readEncryptionKey(paths);
  const encryptionKeyCreated = encryptionKey === undefined;
  if (encryptionKey === undefined) {
    encryptionKey = Buffer.from(seams.random(32)).toString("base64");
    writes.push({ path: paths.encryptionKey, contents: `${encryptionKey}\n`, mode: 0o600 });
  }
  let bootstrapToken = readBootstrapToken(paths);
  const bootstrapTokenCreated = bootstrapToken === undefined;
  if (bootstrapToken === undefined) {
    bootstrapToken = newBootstrapToken(seams.random);
    writes.push({ path: paths.bootstrapToken, contents: `${bootstrapToken}\n`, mode: 0o600 });
  }
  let bootstrapTokenExpires = readOptional(paths.bootstrapTokenExpires)?.trim();
  const expiresAt = bootstrapTokenExpires ? Date.parse(bootstrapTokenExpires) : Number.NaN;
  const bootstrapTokenRenewed =
    bootstrapTokenCreated || !Number.isFinite(expiresAt) || expiresAt - now.getTime() < TOKEN_RENEW_MS;
  if (bootstrapTokenRenewed || bootstrapTokenExpires === undefined) {
    bootstrapTokenExpires = bootstrapTokenExpiration(now, TOKEN_TTL_HOURS);
    writes.push({ path: paths.bootstrapTokenExpires, contents: `${bootstrapTokenExpires}\n`, mode: 0o644 });
  }
  writeState(paths, writes);
  const reissued = decisions.filter((d) => d.action === "reissue").map((d) => d.id);
  return {
    paths,
    catalogue,
    material,
    encryptionKey,
    bootstrapToken,
    bootstrapTokenExpires,
    report: {
      decisions,
      warnings,
      changed,
      reissued,
      encryptionKeyCreated,
      bootstrapTokenCreated,
      bootstrapTokenRenewed,
    },
  };
}

/**
 * Reads the working directory without changing anything (for day-2 commands). Throws a CliError
 * naming what is missing — run `khw gen` (or `khw up`) first.
 */
export function readWorkdir(root: string, cluster: Cluster): WorkdirState {
  const paths = workdirPaths(root);
  const catalogue = catalogueFromCluster(cluster);
  const existing = readPkiState(readPkiDir(paths));
  const material: PkiMaterial = {};
  const missing: string[] = [];
  for (const c of catalogue) {
    const have = existing[c.id];
    if (have?.cert === undefined || have.key === undefined) missing.push(c.id);
    else material[c.id] = { cert: have.cert, key: have.key };
  }
  const encryptionKey = readEncryptionKey(paths);
  const bootstrapToken = readBootstrapToken(paths);
  const bootstrapTokenExpires = readOptional(paths.bootstrapTokenExpires)?.trim() ?? "1970-01-01T00:00:00Z";
  if (missing.length > 0 || encryptionKey === undefined || bootstrapToken === undefined) {
    const what = [
      ...missing.map((id) => `pki/${id}.crt|key`),
      ...(encryptionKey === undefined ? ["pki/encryption-key"] : []),
      ...(bootstrapToken === undefined ? ["pki/bootstrap-token"] : []),
    ];
    throw new CliError(
      "WORKDIR_INCOMPLETE",
      `the working directory ${root} lacks ${what.join(", ")}`,
      "run `khw gen` (or `khw up`) in the directory of cluster.yaml first",
    );
  }
  return {
    paths,
    catalogue,
    material,
    encryptionKey,
    bootstrapToken,
    bootstrapTokenExpires,
    report: {
      decisions: catalogue.map((c) => ({ id: c.id, action: "keep", reasons: [], newKey: false })),
      warnings: [],
      changed: [],
      reissued: [],
      encryptionKeyCreated: false,
      bootstrapTokenCreated: false,
      bootstrapTokenRenewed: false,
    },
  };
}

/** One line per issued/re-issued certificate with its reasons, for the user. */
export function describePkiChanges(report: WorkdirReport): string[] {
  const lines: string[] = [];
  for (const d of report.decisions) {
    if (d.action === "keep") continue;
    const why = d.reasons.map((r) => r.message).join("; ");
    lines.push(
      `${d.action === "issue" ? "issued" : "re-issued"} ${d.id}${why ? ` (${why})` : ""}${d.id === CA_ID ? "" : ""}`,
    );
  }
  return lines;
}
