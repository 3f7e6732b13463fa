import { type BundleArch, type BundleLayout, bundleLayout } from "./layout";

/** The manifest's file name, at the root of a bundle directory. */
export const MANIFEST_FILE = "khw-bundle.json";

/** What a bundle holds and how it was made. Deterministic: no timestamps. */
export interface BundleManifest {
  kind: "khw-bundle";
  schemaVersion: 1;
  kubernetesVersion: string;
  etcdVersion: string;
  arch: BundleArch;
  /** `go-modules`: built by `buildBundle`; `download`: fetched by `fetchBundle`. */
  source: "go-modules" | "download";
  /** The Go toolchain that built it (go-modules only), e.g. `go1.26.8`. */
  goVersion?: string;
  /** SHA-256 of every payload file (binaries and the etcd tarball), by layout path, sorted. */
  sha256: Record<string, string>;
}

/** The payload files of a layout: the ones with a digest (not the checksum files themselves). */
export function payloadPaths(layout: BundleLayout): string[] {
  return [...layout.kubernetes.map((b) => b.path), layout.etcd.tarball].sort();
}

export function createManifest(
  layout: BundleLayout,
  source: BundleManifest["source"],
  sha256: Record<string, string>,
  goVersion?: string,
): BundleManifest {
  const sorted: Record<string, string> = {};
  for (const path of payloadPaths(layout)) {
    const digest = sha256[path];
    if (digest === undefined) throw new Error(`internal: no digest for ${path}`);
    sorted[path] = digest;
  }
  const manifest: BundleManifest = {
    kind: "khw-bundle",
    schemaVersion: 1,
    kubernetesVersion: layout.kubernetesVersion,
    etcdVersion: layout.etcdVersion,
    arch: layout.arch,
    source,
    sha256: sorted,
  };
  if (goVersion !== undefined) manifest.goVersion = goVersion;
  return manifest;
}

export function renderManifest(manifest: BundleManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Parses a manifest; undefined when the text is not a khw bundle manifest. */
export function parseManifest(text: string): BundleManifest | undefined {
  try {
    const value = JSON.parse(text) as Partial<BundleManifest>;
    if (value.kind !== "khw-bundle" || value.schemaVersion !== 1) return undefined;
    if (typeof value.kubernetesVersion !== "string" || typeof value.etcdVersion !== "string")
      return undefined;
    if (typeof value.sha256 !== "object" || value.sha256 === null) return undefined;
    bundleLayout({ kubernetesVersion: value.kubernetesVersion, etcdVersion: value.etcdVersion });
    return value as BundleManifest;
  } catch {
    return undefined;
  }
}

/** Parses `<hex>  <filename>` lines (SHA256SUMS) into filename → digest. */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$/.exec(line);
    if (m) sums.set(m[2]!.replace(/^\.\//, ""), m[1]!.toLowerCase());
  }
  return sums;
}

/** Reads a dl.k8s.io `.sha256` file: the hex digest (a trailing file name is tolerated). */
export function parseSha256File(text: string): string | undefined {
  const m = /^\s*([0-9a-fA-F]{64})(\s|$)/.exec(text);
  return m ? m[1]!.toLowerCase() : undefined;
}
