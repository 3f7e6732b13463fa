import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { khwCacheRoot, sha256File } from "@khw/host-io";
import { artifactLocation, type BinaryArtifact, type Cluster, NODE_DIRS } from "@khw/spec/core";
import { CliError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";

/**
 * Binaries: downloaded once on the admin machine into a cache in the official layout
 * (`<cache>/<official path>`, e.g. `~/.cache/khw/downloads/dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubelet`),
 * SHA-256 verified against the published checksum file, then uploaded (idempotently) to the hosts.
 * Hosts need no internet. The official origin, a mirror URL and a bundle directory serve the same
 * paths (`artifactLocation`), so online and offline installs share this one code path.
 */
export function defaultCacheDir(env: Record<string, string | undefined>): string {
  return join(khwCacheRoot(env), "downloads");
}

export interface FetchedArtifact {
  artifact: BinaryArtifact;
  /** The verified local file. */
  file: string;
  sha256: string;
  /** Whether it came from the cache (no download). */
  cached: boolean;
}

/** Reads an artifact path from wherever the spec says (URL or bundle file). */
async function fetchBytes(cluster: Cluster, path: string, baseDir: string): Promise<Buffer> {
  const loc = artifactLocation(cluster, path);
  if (loc.kind === "file") {
    const file = loc.path.startsWith("/") ? loc.path : join(baseDir, loc.path);
    if (!existsSync(file)) {
      throw new CliError(
        "BINARY_MISSING",
        `${file} is not in the bundle`,
        "build or fetch the bundle for these versions (`khw bundle build` / `khw bundle fetch`)",
      );
    }
    return readFileSync(file);
  }
  let res: Response;
  try {
    res = await fetch(loc.url, { redirect: "follow" });
  } catch (e) {
    throw new CliError(
      "DOWNLOAD_FAILED",
      `cannot download ${loc.url}: ${(e as Error).message}`,
      "check the admin machine's internet access, or use binaries.source: mirror or bundle",
    );
  }
  if (!res.ok) {
    throw new CliError(
      "DOWNLOAD_FAILED",
      `${loc.url} answered ${res.status} ${res.statusText}`,
      cluster.spec.binaries.source === "mirror"
        ? `the mirror lacks ${path}: add it to the mirror's directory (same layout as the official sites), or check the versions in cluster.yaml`
        : "check the versions in cluster.yaml (they must exist as official releases)",
    );
  }
  return Buffer.from(await res.arrayBuffer());
}

function expectedDigest(artifact: BinaryArtifact, checksumText: string): string | undefined {
  const c = artifact.checksum;
  if (c.kind === "digest-file") return /^([0-9a-f]{64})/i.exec(checksumText.trim())?.[1]?.toLowerCase();
  for (const line of checksumText.split("\n")) {
    const m = /^([0-9a-f]{64})\s+\*?(\S+)$/i.exec(line.trim());
    if (m && (m[2] === c.name || m[2]!.split("/").pop() === c.name)) return m[1]!.toLowerCase();
  }
  return undefined;
}

/**
 * Makes sure the artifact is in the cache and matches its published SHA-256. A cached file is
 * re-verified against the checksum file (kept beside it) on every run; a mismatch re-downloads.
 */
export async function ensureArtifact(
  cluster: Cluster,
  artifact: BinaryArtifact,
  options: { cacheDir: string; baseDir: string },
): Promise<FetchedArtifact> {
  const file = join(options.cacheDir, artifact.path);
  const sumFile = join(options.cacheDir, artifact.checksum.path);
  let sumText = existsSync(sumFile) ? readFileSync(sumFile, "utf8") : undefined;
  // A mirror or bundle can change under the same path (a rebuilt bundle, e.g. a new runc): its checksum
  // file (small) is read again on every run, the cached one only used when it cannot be. Official
  // release files never change, so their cached checksum file is kept.
  if (cluster.spec.binaries.source !== "official") {
    const fresh = await fetchBytes(cluster, artifact.checksum.path, options.baseDir).then(
      (b) => b.toString("utf8"),
      () => undefined,
    );
    if (fresh !== undefined && expectedDigest(artifact, fresh) !== undefined && fresh !== sumText) {
      sumText = fresh;
      writeFileAtomic(sumFile, fresh);
    }
  }
  if (sumText === undefined || expectedDigest(artifact, sumText) === undefined) {
    sumText = (await fetchBytes(cluster, artifact.checksum.path, options.baseDir)).toString("utf8");
    if (expectedDigest(artifact, sumText) === undefined) {
      throw new CliError(
        "CHECKSUM_MISSING",
        `${artifact.checksum.path} has no SHA-256 for ${artifact.path.split("/").pop()}`,
        "the release or mirror is incomplete; check the version in cluster.yaml",
      );
    }
    writeFileAtomic(sumFile, sumText);
  }
  const want = expectedDigest(artifact, sumText)!;
  if (existsSync(file)) {
    // Hashed once: later runs compare the size and mtime recorded then (a 100 MB file hashes in ~0.3 s).
    if (verifiedRecord(file) === `${want} ${statKey(file)}`)
      return { artifact, file, sha256: want, cached: true };
    if ((await sha256File(file)) === want) {
      rememberVerified(file, want);
      return { artifact, file, sha256: want, cached: true };
    }
  }
  const bytes = await fetchBytes(cluster, artifact.path, options.baseDir);
  const got = createHash("sha256").update(bytes).digest("hex");
  if (got !== want) {
    throw new CliError(
      "CHECKSUM_MISMATCH",
      `${artifact.path}: SHA-256 ${got} does not match the published ${want}`,
      "the download is corrupt or was tampered with; retry, or check the mirror/bundle",
    );
  }
  writeFileAtomic(file, bytes, 0o644);
  rememberVerified(file, want);
  return { artifact, file, sha256: want, cached: false };
}

/** Size, mtime (ns) and inode of a local file: what must not change for a recorded hash to hold. */
function statKey(file: string): string {
  const st = statSync(file, { bigint: true });
  return `${st.size} ${st.mtimeNs} ${st.ino}`;
}

/** Best effort: a cache the user cannot write to is hashed on every run instead. */
function rememberVerified(file: string, sha256: string): void {
  try {
    writeFileAtomic(`${file}.khw-verified`, `${sha256} ${statKey(file)}\n`, 0o644);
  } catch {}
}

function verifiedRecord(file: string): string | undefined {
  try {
    return readFileSync(`${file}.khw-verified`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Where the verified release file is kept on a host before installing. */
export function remoteCachePath(artifact: BinaryArtifact): string {
  return `/var/cache/khw/${artifact.path}`;
}

/**
 * Where a host records what khw installed from a release file: the file's SHA-256 and each installed
 * executable's size, mtime and inode. A re-run compares that with `stat` instead of hashing 100 MB on
 * both sides; a file replaced or touched by anyone else no longer matches, and is installed again.
 */
export function installedRecordPath(artifact: BinaryArtifact): string {
  return `${NODE_DIRS.khw}/installed/${artifact.id}`;
}

/** The record's text, for the destinations in "$@" (`sha` set): one line per file, "missing" if absent. */
const RECORD_TEXT =
  '{ echo "sha256 $sha"; for d in "$@"; do stat -c "%n %s %Y %i" -- "$d" 2>/dev/null || echo "missing $d"; done; }';

/**
 * A read-only POSIX sh script: prints `installed <sha256>` when the host's record says this release
 * file (that SHA-256) was installed and every destination is still the file installed then.
 */
export function installedCheckScript(
  artifact: BinaryArtifact,
  sha256: string,
): { script: string; args: string[] } {
  return {
    script: [
      'rec="$1"; sha="$2"; shift 2',
      '[ -f "$rec" ] || exit 0',
      `now=$(${RECORD_TEXT})`,
      'if [ "$(cat "$rec")" = "$now" ]; then echo "installed $sha"; fi',
    ].join("\n"),
    args: [installedRecordPath(artifact), sha256, ...Object.values(artifact.installAs)],
  };
}

/**
 * A POSIX sh script that installs the executables of an uploaded release file (`$1`): plain files
 * with `install -m 0755`, archives extracted to a temp dir first; a destination is only replaced
 * when its bytes differ (so re-runs change nothing). Prints `changed <dest>` for every replaced file.
 * Then records what is installed (`installedRecordPath`, written to a temp name and renamed).
 */
export function installScript(artifact: BinaryArtifact, sha256: string): { script: string; args: string[] } {
  const pairs = artifact.archive
    ? Object.entries(artifact.installAs).map(
        ([name, dest]) => [artifact.archive!.members[name]!, dest] as const,
      )
    : Object.values(artifact.installAs).map((dest) => ["", dest] as const);
  const lines = ["set -eu", 'src="$1"; rec="$2"; sha="$3"; shift 3', 'dests=""'];
  if (artifact.archive) {
    lines.push(
      "tmp=$(mktemp -d /var/cache/khw/.extract.XXXXXX); trap 'rm -rf \"$tmp\"' EXIT",
      'tar -xzf "$src" -C "$tmp"',
    );
  }
  lines.push(
    'while [ "$#" -gt 0 ]; do',
    '  member="$1"; dest="$2"; shift 2; dests="$dests $dest"',
    artifact.archive ? '  from="$tmp/$member"' : '  from="$src"',
    '  if ! cmp -s "$from" "$dest" 2>/dev/null; then',
    '    mkdir -p "$(dirname "$dest")"',
    '    install -m 0755 "$from" "$dest.khw-new" && mv -f "$dest.khw-new" "$dest"',
    '    echo "changed $dest"',
    "  fi",
    "done",
    // khw's destinations have no blanks or glob characters (/usr/local/bin/…, /opt/cni/bin/…)
    "set -f; set -- $dests",
    'mkdir -p "$(dirname "$rec")"',
    `${RECORD_TEXT} > "$rec.khw-new" && mv -f "$rec.khw-new" "$rec"`,
  );
  return { script: lines.join("\n"), args: [installedRecordPath(artifact), sha256, ...pairs.flat()] };
}
