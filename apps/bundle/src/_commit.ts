import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { acquirePidLock } from "@khw/host-io";
import { linkTree } from "./_fs";
import type { BundleLayout } from "./layout";
import { MANIFEST_FILE, parseManifest } from "./manifest";
import { type BundleVerification, verifyBundle } from "./verify";

/** Whether the cached bundle is there, for these versions, and passes the checksum checks. */
export async function cachedBundle(
  dir: string,
  layout: BundleLayout,
): Promise<BundleVerification | undefined> {
  const text = await readFile(`${dir}/${MANIFEST_FILE}`, "utf8").catch(() => undefined);
  if (text === undefined || parseManifest(text) === undefined) return undefined;
  const check = await verifyBundle(dir, layout, { runBinaries: false, requireManifest: true });
  return check.ok ? check : undefined;
}

/** Hard-links (or copies) the bundle's files and manifest into `out`, unless `out` is the cache itself. */
export async function materialize(
  cacheDir: string,
  out: string | undefined,
  layout: BundleLayout,
): Promise<string> {
  if (out === undefined || resolve(out) === resolve(cacheDir)) return cacheDir;
  await linkTree(cacheDir, out, [...layout.files, MANIFEST_FILE]);
  return resolve(out);
}

/**
 * Serializes builds and downloads of one bundle across processes: `<dir>.lock` holds the owner's pid.
 * A lock whose process is gone is taken over. Returns the release function.
 */
export async function lockBundle(
  dir: string,
  log: (line: string) => void,
  pollMs = 2000,
): Promise<() => Promise<void>> {
  const lock = `${dir}.lock`;
  const release = await acquirePidLock(lock, {
    pollMs,
    onWait: (holder) =>
      log(`[bundle] waiting for process ${holder.pid}, which is preparing the same bundle (${lock})`),
  });
  return async () => release?.();
}
