import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { processAlive } from "./process";

/**
 * Cached directories are assembled in `<dir>.partial-<pid>` and committed by a rename, so a reader
 * sees the old directory or the whole new one, never half of one. `startPartial` removes the partial
 * directories of runs that died and returns a fresh one.
 */
export async function startPartial(dir: string): Promise<string> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  await removeStalePartials(parent, basename(dir));
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

/** Removes `<name>.partial-<pid>` directories in `root` left by runs that died. */
export async function removeStalePartials(root: string, name: string): Promise<void> {
  const entries = await readdir(root).catch(() => [] as string[]);
  const prefix = `${name}.partial-`;
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const pid = entry.slice(prefix.length);
    if (/^\d+$/.test(pid) && !processAlive(Number(pid))) {
      await rm(join(root, entry), { recursive: true, force: true });
    }
  }
}
