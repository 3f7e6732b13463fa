import { closeSync, constants, existsSync, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { relative, resolve } from "node:path";
import { escapeControl, type LoadedCluster, quickParseClusterYaml } from "@khw/spec/quick";
import { CliError } from "./errors";

// Finding and reading the spec file, without @khw/spec's schema (zod): `khw validate` starts from here.

export const DEFAULT_SPEC_FILE = "cluster.yaml";
/** The largest spec khw reads: a real cluster.yaml is a few KiB; this bounds memory and parse time. */
export const MAX_SPEC_BYTES = 1024 * 1024;

function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

const READ_ERRORS: Record<string, [string, string]> = {
  EACCES: ["permission denied", "check the file's permissions, or run khw as a user who may read it"],
  EPERM: ["permission denied", "check the file's permissions, or run khw as a user who may read it"],
  ENOTDIR: ["a part of the path is not a directory", "check the path"],
  ELOOP: ["too many symbolic links", "check where the symbolic links point"],
  ENAMETOOLONG: ["the path is too long", "check the path"],
  ENOENT: ["it does not exist", "check the path"],
  EIO: ["an I/O error", "check the disk"],
};

/**
 * Reads a spec file, bounded: regular files only (a FIFO or a device such as /dev/zero is refused
 * without blocking: the open does not wait for a writer), at most MAX_SPEC_BYTES, text only. Every
 * failure is a CliError naming the file and the fix.
 */
export function readSpecText(path: string, displayName: string): string {
  const name = escapeControl(displayName);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    const [what, hint] = READ_ERRORS[code] ?? [(e as Error).message, "check the path"];
    throw new CliError("SPEC_UNREADABLE", `cannot read ${name}: ${what}`, hint);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new CliError(
        "SPEC_NOT_A_FILE",
        `${name} is ${kindOf(st)}, not a regular file`,
        "pass the path of a cluster spec file (cluster.yaml)",
      );
    }
    const tooLarge = () =>
      new CliError(
        "SPEC_TOO_LARGE",
        `${name} is larger than ${MAX_SPEC_BYTES} bytes (1 MiB), the most a cluster spec may hold`,
        "pass the cluster spec (a few KiB); `khw init` writes one",
      );
    if (st.size > MAX_SPEC_BYTES) throw tooLarge();
    // Read one byte past the limit: a file that grows while being read is caught too.
    const buf = Buffer.alloc(MAX_SPEC_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > MAX_SPEC_BYTES) throw tooLarge();
    }
    if (buf.subarray(0, n).includes(0)) {
      throw new CliError(
        "SPEC_NOT_TEXT",
        `${name} holds NUL bytes: it is a binary file, not YAML (content not shown)`,
        "pass the cluster spec (cluster.yaml); `khw init` writes one",
      );
    }
    return buf.toString("utf8", 0, n);
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? "";
    const [what, hint] = READ_ERRORS[code] ?? [(e as Error).message, "check the file"];
    throw new CliError("SPEC_UNREADABLE", `cannot read ${name}: ${what}`, hint);
  } finally {
    closeSync(fd);
  }
}

/** Where the spec is: its absolute path, the name to show in messages, and whether it exists. */
export interface SpecLocation {
  path: string;
  displayName: string;
  exists: boolean;
}

/**
 * Resolves `-f FILE` (or ./cluster.yaml) against cwd. A missing file is a CliError naming it and the fix,
 * unless no file was given and `allowDefault` is set (then `exists` is false).
 */
export function locateSpecFile(
  cwd: string,
  file: string | undefined,
  options: { allowDefault: boolean },
): SpecLocation {
  const path = resolve(cwd, file ?? DEFAULT_SPEC_FILE);
  // Relative to where khw runs, unless that climbs out of it (`-f /dev/zero` stays /dev/zero).
  const rel = relative(cwd, path);
  // Escaped once here, so every message that names the file (SpecError's included) is safe to print.
  const displayName = escapeControl(rel && !rel.startsWith("..") ? rel : path);
  if (existsSync(path)) return { path, displayName, exists: true };
  if (file === undefined && options.allowDefault) return { path, displayName, exists: false };
  throw new CliError(
    "SPEC_NOT_FOUND",
    `${displayName} does not exist`,
    file === undefined
      ? "run `khw init` to write the default spec, or pass -f FILE"
      : "check the path of the spec file (given with -f, or as FILE to `khw validate`)",
  );
}

/**
 * Parses and checks cluster.yaml text. A valid spec takes the quick path (@khw/spec/quick: the schema
 * check compiled at build time, no zod); only a spec with a problem loads @khw/spec, whose
 * parseClusterYaml throws the SpecError with every problem, as every command reports it.
 */
export async function parseSpecText(text: string, displayName: string): Promise<LoadedCluster> {
  return (
    quickParseClusterYaml(text, { file: displayName }) ??
    (await import("@khw/spec")).parseClusterYaml(text, { file: displayName })
  );
}
