import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, link, mkdir, readdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/** The SHA-256 of a file, hex, read as a stream. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes through a temporary name and a rename, so a reader never sees half a file. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
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

/** Whether a process exists (EPERM: it exists, owned by someone else). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes `<name>.partial-<pid>` directories left by runs that died. */
export async function removeStalePartials(root: string, name: string): Promise<void> {
  const entries = await readdir(root).catch(() => [] as string[]);
  for (const entry of entries) {
    const m = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.partial-(\\d+)$`).exec(entry);
    if (m && !alive(Number(m[1]))) await rm(join(root, entry), { recursive: true, force: true });
  }
}
