import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { PassThrough, type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { extract, type Headers, pack } from "tar-stream";

/** One entry to write into a tar archive: a regular file (bytes, or a file read as a stream), a directory or a symbolic link. */
export type TarInput =
  | { path: string; mode: number; type: "file"; data: Uint8Array }
  | { path: string; mode: number; type: "file"; file: string; size: number }
  | { path: string; mode: number; type: "dir" }
  | { path: string; mode: number; type: "symlink"; linkname: string };

/** One entry read from a tar archive. */
export interface TarEntry {
  /** As stored: `/`-separated, directories end with `/` when the writer wrote them so. */
  path: string;
  mode: number;
  type: "file" | "dir" | "symlink";
  /** A regular file's contents (empty for other types, or when read with `data: false`). */
  data: Buffer;
  linkname?: string;
}

/** An archive that cannot be read: not gzip, truncated, or a bad header. */
export class TarError extends Error {
  readonly code = "TAR_INVALID";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TarError";
  }
}

export interface TarWriteOptions {
  /** Gzip the archive (level 9). */
  gzip?: boolean;
  /** Every entry's mtime, in seconds (default 0): archives are byte-identical for the same input. */
  mtime?: number;
}

/**
 * A deterministic ustar archive as a stream: entries in the given order, owner root:root (uid/gid 0),
 * one mtime; file entries given as paths are streamed from disk, never held whole in memory.
 */
export function tarStream(entries: Iterable<TarInput>, options: TarWriteOptions = {}): Readable {
  const p = pack();
  const mtime = new Date((options.mtime ?? 0) * 1000);
  const fill = async () => {
    for (const e of entries) {
      const base = {
        name: e.path,
        mode: e.mode & 0o7777,
        mtime,
        uid: 0,
        gid: 0,
        uname: "root",
        gname: "root",
      };
      if (e.type === "dir") p.entry({ ...base, type: "directory" });
      else if (e.type === "symlink") p.entry({ ...base, type: "symlink", linkname: e.linkname });
      else if ("data" in e) p.entry({ ...base, type: "file", size: e.data.length }, Buffer.from(e.data));
      else {
        const sink = p.entry({ ...base, type: "file", size: e.size });
        await pipeline(createReadStream(e.file), sink);
      }
    }
    p.finalize();
  };
  fill().catch((error: unknown) => p.destroy(error as Error));
  if (!options.gzip) return p as unknown as Readable;
  const gz = createGzip({ level: 9 });
  pipeline(p as unknown as Readable, gz).catch((error: unknown) => gz.destroy(error as Error));
  return gz;
}

/**
 * Streams {@link tarStream} into `path` through a temporary name and a rename (nothing half-written
 * is ever at `path`), hashing on the way. Resolves to the archive's SHA-256 (hex) and size.
 */
export async function writeTar(
  path: string,
  entries: Iterable<TarInput>,
  options: TarWriteOptions = {},
): Promise<{ sha256: string; size: number }> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const hash = createHash("sha256");
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(tarStream(entries, options), tap, createWriteStream(tmp, { mode: 0o644 }));
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return { sha256: hash.digest("hex"), size };
}

/** The whole archive in memory: for small archives only (an image layer, a test fixture). */
export async function tarBuffer(entries: Iterable<TarInput>, options: TarWriteOptions = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of tarStream(entries, options)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface TarReadOptions {
  /** The archive is gzip'ed. */
  gzip?: boolean;
  /** Keep regular files' contents (default true); with false only names, modes and types are read. */
  data?: boolean;
}

const TYPES: Partial<Record<NonNullable<Headers["type"]>, TarEntry["type"]>> = {
  file: "file",
  "contiguous-file": "file",
  directory: "dir",
  symlink: "symlink",
};

/**
 * Reads the regular files, directories and symbolic links of an archive (a file path or bytes),
 * streaming: ustar, GNU long names and pax paths. Other entry types are skipped.
 */
export async function readTar(
  source: string | Uint8Array,
  options: TarReadOptions = {},
): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const keepData = options.data ?? true;
  const x = extract();
  x.on("entry", (header, stream, next) => {
    const type = TYPES[header.type ?? "file"];
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => {
      if (keepData && type === "file") chunks.push(c);
    });
    stream.on("end", () => {
      if (type !== undefined) {
        const entry: TarEntry = {
          path: header.name,
          mode: header.mode ?? 0,
          type,
          data: Buffer.concat(chunks),
        };
        if (type === "symlink") entry.linkname = header.linkname ?? "";
        out.push(entry);
      }
      next();
    });
    stream.resume();
  });
  const input: Readable =
    typeof source === "string" ? createReadStream(source) : PassThrough.from([Buffer.from(source)]);
  try {
    if (options.gzip) await pipeline(input, createGunzip(), x);
    else await pipeline(input, x);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "EACCES") throw cause;
    const what =
      code === "Z_DATA_ERROR" || code === "Z_BUF_ERROR" ? "not valid gzip" : (cause as Error).message;
    throw new TarError(`the archive is ${what === "not valid gzip" ? what : `unreadable: ${what}`}`, {
      cause,
    });
  }
  return out;
}
