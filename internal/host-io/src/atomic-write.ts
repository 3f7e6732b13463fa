import { mkdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import writeFileAtomicLib from "write-file-atomic";

/**
 * Writes a file so a reader (or a crash) never sees half of it: the data goes to a temporary file
 * beside the target, is flushed to disk (fsync), then renamed over the target. Parent directories
 * are created. `mode` applies to the new file (default 0644).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomicLib(path, typeof data === "string" ? data : Buffer.from(data), { mode, fsync: true });
}

/** {@link writeFileAtomic}, synchronously. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomicLib.sync(path, typeof data === "string" ? data : Buffer.from(data), { mode, fsync: true });
}
