import { copyFile, link, mkdir, rename, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Hard-links (or copies, across file systems) each relative path from one tree to another. */
export async function linkTree(from: string, to: string, paths: string[]): Promise<void> {
  for (const rel of paths) {
    const src = join(from, rel);
    const dst = join(to, rel);
    await mkdir(dirname(dst), { recursive: true });
    await unlink(dst).catch(() => undefined);
    try {
      await link(src, dst);
    } catch {
      const tmp = `${dst}.tmp-${process.pid}`;
      await copyFile(src, tmp);
      await rename(tmp, dst);
    }
  }
}
