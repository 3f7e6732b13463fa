import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { linkTree, removeStalePartials } from "./_fs";
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

/** A fresh `<dir>.partial-<pid>` to assemble a bundle in; stale ones of dead runs are removed. */
export async function startPartial(dir: string): Promise<string> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const name = dir.slice(parent.length + 1);
  await removeStalePartials(parent, name);
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  return partial;
}

/** Replaces `dir` with the finished partial directory. */
export async function commitPartial(partial: string, dir: string): Promise<void> {
  const old = `${dir}.old-${process.pid}`;
  await rename(dir, old).catch(() => undefined);
  await rename(partial, dir);
  await rm(old, { recursive: true, force: true });
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
