import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { alive, linkTree, removeStalePartials } from "./_fs";
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
  await mkdir(dirname(dir), { recursive: true });
  let announced = false;
  for (;;) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: "wx" });
      return () => rm(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number((await readFile(lock, "utf8").catch(() => "")).trim());
    if (!Number.isInteger(owner) || owner <= 0 || !alive(owner)) {
      await rm(lock, { force: true });
      continue;
    }
    if (!announced) {
      log(`[bundle] waiting for process ${owner}, which is preparing the same bundle (${lock})`);
      announced = true;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
