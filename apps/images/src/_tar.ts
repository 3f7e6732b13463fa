/** One entry of a tar archive: a regular file, a directory or a symbolic link. */
export interface TarEntry {
  /** `/`-separated, relative; directories end with `/`. */
  path: string;
  mode: number;
  type: "file" | "dir" | "symlink";
  data?: Buffer;
  /** Target of a symbolic link. */
  linkname?: string;
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
      throw new Error(`tar path too long: ${entry.path}`);
    }
  }
  const size = entry.type === "file" ? (entry.data?.length ?? 0) : 0;
  h.write(name, 0, 100, "utf8");
  h.write(octal(entry.mode & 0o7777, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(mtime, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(entry.type === "file" ? "0" : entry.type === "dir" ? "5" : "2", 156, "ascii");
  if (entry.type === "symlink") h.write(entry.linkname ?? "", 157, 100, "utf8");
  h.write("ustar\u000000", 257, "ascii");
  h.write("root", 265, "ascii");
  h.write("root", 297, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return h;
}

/** A deterministic, uncompressed ustar archive: entries in the given order, owner root:root, a fixed mtime. */
export function createTar(entries: TarEntry[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e, mtime));
    if (e.type === "file" && e.data && e.data.length > 0) {
      parts.push(e.data);
      const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** Reads an uncompressed ustar archive (the subset createTar writes). */
export function readTar(tar: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  while (off + BLOCK <= tar.length) {
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const str = (s: number, n: number) => h.toString("utf8", s, s + n).replace(/\0.*$/s, "");
    const name = str(0, 100);
    const prefix = str(345, 155);
    const size = Number.parseInt(str(124, 12).trim() || "0", 8);
    const mode = Number.parseInt(str(100, 8).trim() || "0", 8);
    const flag = str(156, 1);
    const path = prefix ? `${prefix}/${name}` : name;
    off += BLOCK;
    if (flag === "5") out.push({ path, mode, type: "dir" });
    else if (flag === "2") out.push({ path, mode, type: "symlink", linkname: str(157, 100) });
    else out.push({ path, mode, type: "file", data: Buffer.from(tar.subarray(off, off + size)) });
    off += Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}
