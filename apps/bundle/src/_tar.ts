import { gunzipSync, gzipSync } from "node:zlib";
import { BundleError } from "./errors";

/** One regular file or directory of a tar archive. */
export interface TarEntry {
  /** `/`-separated; directories end with `/`. */
  path: string;
  mode: number;
  data: Buffer;
  type: "file" | "dir";
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function header(entry: TarEntry, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  let name = entry.path;
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 155);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) {
      throw new BundleError("TAR_INVALID", `tar path too long: ${entry.path}`, "Keep archive paths short.");
    }
  }
  h.write(name, 0, 100, "utf8");
  h.write(octal(entry.mode & 0o7777, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii"); // uid
  h.write(octal(0, 8), 116, "ascii"); // gid
  h.write(octal(entry.type === "file" ? entry.data.length : 0, 12), 124, "ascii");
  h.write(octal(mtime, 12), 136, "ascii");
  h.write("        ", 148, "ascii"); // checksum placeholder
  h.write(entry.type === "file" ? "0" : "5", 156, "ascii");
  h.write("ustar\u000000", 257, "ascii");
  h.write("root", 265, "ascii");
  h.write("root", 297, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return h;
}

/** A deterministic gzip'ed ustar archive: entries in the given order, owner root, a fixed mtime. */
export function createTarGz(entries: TarEntry[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(header(entry, mtime));
    if (entry.type === "file") {
      parts.push(entry.data);
      const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return gzipSync(Buffer.concat(parts), { level: 9 });
}

function readString(buf: Buffer, start: number, length: number): string {
  const raw = buf.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString("utf8");
}

function readOctal(buf: Buffer, start: number, length: number, what: string): number {
  const text = readString(buf, start, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) {
    throw new BundleError(
      "TAR_INVALID",
      `tar header has a bad ${what} field "${text}"`,
      "The archive is corrupt; fetch or build it again.",
    );
  }
  return Number.parseInt(text, 8);
}

/** Reads the regular files and directories of a .tar.gz (ustar, GNU long names and pax paths). */
export function readTarGz(gz: Buffer): TarEntry[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(gz);
  } catch (cause) {
    throw new BundleError(
      "TAR_INVALID",
      "the archive is not valid gzip",
      "Fetch or build the bundle again.",
      { cause },
    );
  }
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= tar.length) {
    const h = tar.subarray(offset, offset + BLOCK);
    if (h.every((b) => b === 0)) break;
    const size = readOctal(h, 124, 12, "size");
    const type = String.fromCharCode(h[156] ?? 48);
    const dataStart = offset + BLOCK;
    const data = tar.subarray(dataStart, dataStart + size);
    if (data.length !== size) {
      throw new BundleError("TAR_INVALID", "the archive is truncated", "Fetch or build the bundle again.");
    }
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L") {
      longName = readString(data, 0, data.length);
      continue;
    }
    if (type === "x") {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString("utf8"));
      if (m) longName = m[1];
      continue;
    }
    if (type === "g") continue;
    const prefix = readString(h, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${readString(h, 0, 100)}` : readString(h, 0, 100));
    longName = undefined;
    const mode = readOctal(h, 100, 8, "mode");
    if (type === "0" || type === "\0")
      entries.push({ path: name, mode, data: Buffer.from(data), type: "file" });
    else if (type === "5") entries.push({ path: name, mode, data: Buffer.alloc(0), type: "dir" });
  }
  return entries;
}
