// Local writes that are atomic (temp file + fsync + rename), never follow a symbolic link inside the
// directory they write into, never leave a temp file behind on Ctrl-C, and turn ordinary file errors
// into user errors naming the path and the fix.
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  type Stats,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import { CliError, fsErrorToCliError } from "./errors";

/** The temp names this module makes: `.<name>.<12 hex>.tmp` beside the target. */
const TEMP_RE = /^\..+\.[0-9a-f]{12}\.tmp$/;

export interface SafeWriteOptions {
  /**
   * The directory this write belongs to (an output directory, `pki/`). Nothing below it is followed
   * if it is a symbolic link: every directory between it and the file, and the file itself, must be
   * a real directory / regular file (or absent), else a CliError names the link and the fix.
   */
  root?: string;
  /** How to say what `root` is in an error ("the output directory", "the PKI directory"). */
  rootName?: string;
  /**
   * fsync before the rename (default true): the new content survives a power loss. A rendered tree
   * that the next run compares and rewrites anyway can skip it (still atomic: old or new, never half).
   */
  durable?: boolean;
  /**
   * Directories below `root` already created or checked (real directories, no link) by this run: a
   * writer of many files passes one set, so each directory is checked once, not once per file.
   */
  checkedDirs?: Set<string>;
}

/** lstat, or undefined if nothing is there; other errors as CliErrors naming the path. */
export function lstatIfAny(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fsErrorToCliError(e) ?? e;
  }
}

function linkTarget(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "?";
  }
}

/** The error for a symbolic link (or another non-directory) found where khw writes. */
export function symlinkRefusal(path: string, root: string, rootName: string): CliError {
  return new CliError(
    "SYMLINK_REFUSED",
    `${path} is a symbolic link (to ${linkTarget(path)}); khw never follows links inside ${rootName} ${root}`,
    `remove the link (\`rm ${path}\`) so khw can write a real file there, or use another directory`,
  );
}

/** `path` relative to `root`, if it lies inside it (else undefined). */
function inside(root: string, path: string): string | undefined {
  const rel = relative(root, path);
  if (rel === "" || rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) return undefined;
  return rel;
}

/**
 * Creates `dir` (inside `root`) one component at a time, refusing any component that is a symbolic
 * link or not a directory. `root` itself is the user's choice and may be anything that is a directory.
 */
export function ensureDirInside(
  root: string,
  dir: string,
  rootName = "the directory",
  checked?: Set<string>,
): void {
  if (checked?.has(dir)) return;
  try {
    mkdirSync(root, { recursive: true });
  } catch (e) {
    throw fsErrorToCliError(e) ?? e;
  }
  if (dir === root) {
    checked?.add(dir);
    return;
  }
  const rel = inside(root, dir);
  if (rel === undefined) throw new Error(`${dir} is not inside ${root}`);
  let at = root;
  for (const part of rel.split(sep)) {
    at = join(at, part);
    if (checked?.has(at)) continue;
    const st = lstatIfAny(at);
    if (st === undefined) {
      try {
        mkdirSync(at, { mode: 0o755 });
      } catch (e) {
        throw fsErrorToCliError(e) ?? e;
      }
      checked?.add(at);
      continue;
    }
    if (st.isSymbolicLink()) throw symlinkRefusal(at, root, rootName);
    if (!st.isDirectory()) {
      throw new CliError(
        "NOT_A_DIRECTORY",
        `${at} is a file, but khw needs a directory there`,
        `move the file away (\`mv ${at} ${at}.old\`) and run again`,
      );
    }
    checked?.add(at);
  }
}

/** Checks that nothing between `root` and `path` (the file itself included) is a symbolic link. */
export function assertNoLinkInside(root: string, path: string, rootName = "the directory"): void {
  const rel = inside(root, path);
  if (rel === undefined) throw new Error(`${path} is not inside ${root}`);
  let at = root;
  for (const part of rel.split(sep)) {
    at = join(at, part);
    const st = lstatIfAny(at);
    if (st === undefined) return;
    if (st.isSymbolicLink()) throw symlinkRefusal(at, root, rootName);
  }
}

// ---------------------------------------------------------------------------------------------
// Temp files in flight: removed on SIGINT/SIGTERM and at exit.

const inFlight = new Set<string>();
let handlersInstalled = false;

function removeInFlight(): void {
  for (const tmp of inFlight) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
  inFlight.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeInFlight();
  // Another part of khw handles this signal (e.g. `khw up` stops gracefully): leave it to it.
  if (process.listenerCount(signal) > 1) return;
  // Otherwise die of the signal, as without a handler (exit status 128 + n).
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

/**
 * From the first write on, SIGINT/SIGTERM are taken by a handler: a signal that arrives while a
 * (synchronous) write is under way is then handled after it, so the write completes or its temp file
 * is removed — never a `.x.key.<hex>.tmp` holding a private key left behind.
 */
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", removeInFlight);
}

/**
 * Lets a SIGINT/SIGTERM that arrived during synchronous writes be handled now (it is queued until the
 * event loop runs; two turns, measured: the first does not always read the signal). Without this a
 * run that ends right after its writes would exit 0 as if no Ctrl-C had come.
 */
export async function settlePendingSignals(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((done) => setImmediate(done));
}

/** Removes the temp files this module left in `dir` (not recursive) after a crash or a kill -9; returns their paths. */
export function removeStaleTemps(dir: string): string[] {
  if (!lstatIfAny(dir)?.isDirectory()) return [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!TEMP_RE.test(name)) continue;
    const p = join(dir, name);
    const st = lstatIfAny(p);
    if (st === undefined || !(st.isFile() || st.isSymbolicLink())) continue;
    try {
      unlinkSync(p);
      removed.push(p);
    } catch (e) {
      throw fsErrorToCliError(e) ?? e;
    }
  }
  return removed;
}

/** {@link removeStaleTemps} in `root` and every real directory below it (links are not followed). */
export function removeStaleTempsBelow(root: string): string[] {
  const removed = removeStaleTemps(root);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return removed;
  }
  for (const name of names) {
    const p = join(root, name);
    if (lstatIfAny(p)?.isDirectory()) removed.push(...removeStaleTempsBelow(p));
  }
  return removed;
}

/** A file written to its temp name, not yet renamed into place (its fd still open). */
interface Staged {
  path: string;
  tmp: string;
  fd: number | undefined;
}

/** Checks the target (see SafeWriteOptions.root) and writes `contents` to a new temp file beside it. */
function stage(path: string, contents: string | Uint8Array, mode: number, options: SafeWriteOptions): Staged {
  const dir = dirname(path);
  const rootName = options.rootName ?? "the directory";
  if (options.root !== undefined) {
    ensureDirInside(options.root, dir, rootName, options.checkedDirs);
    const st = lstatIfAny(path);
    if (st?.isSymbolicLink()) throw symlinkRefusal(path, options.root, rootName);
    if (st && !st.isFile()) {
      throw new CliError(
        "NOT_A_FILE",
        `${path} is ${st.isDirectory() ? "a directory" : "not a regular file"}, but khw writes a file there`,
        `move it away (\`mv ${path} ${path}.old\`) and run again`,
      );
    }
  } else {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw fsErrorToCliError(e) ?? e;
    }
  }
  installHandlers();
  const staged: Staged = {
    path,
    tmp: join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`),
    fd: undefined,
  };
  try {
    inFlight.add(staged.tmp);
    staged.fd = openSync(
      staged.tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      mode,
    );
    fchmodSync(staged.fd, mode); // the umask may have taken bits away
    writeSync(staged.fd, typeof contents === "string" ? Buffer.from(contents) : contents);
    return staged;
  } catch (e) {
    discard(staged);
    throw fsErrorToCliError(e, path) ?? e;
  }
}

/** Closes and removes a staged temp file. */
function discard(staged: Staged): void {
  if (staged.fd !== undefined) closeSync(staged.fd);
  staged.fd = undefined;
  rmSync(staged.tmp, { force: true });
  inFlight.delete(staged.tmp);
}

/** Closes a staged file and renames it into place. */
function commit(staged: Staged): void {
  try {
    closeSync(staged.fd!);
    staged.fd = undefined;
    renameSync(staged.tmp, staged.path);
    inFlight.delete(staged.tmp);
  } catch (e) {
    discard(staged);
    throw fsErrorToCliError(e, staged.path) ?? e;
  }
}

/**
 * Writes a file so that readers see the old or the new content, never half of it (temp + fsync +
 * rename). The temp file is created with `mode` (0600 for keys) from the start, exclusively and
 * without following a link. With `options.root`, no symbolic link below root is followed (see
 * {@link SafeWriteOptions}). File errors become CliErrors naming the path and the fix.
 */
export function writeFileAtomic(
  path: string,
  contents: string | Uint8Array,
  mode = 0o644,
  options: SafeWriteOptions = {},
): void {
  writeFilesAtomic([{ path, contents, mode }], options);
}

/** One file for {@link writeFilesAtomic}. */
export interface FileToWrite {
  path: string;
  contents: string | Uint8Array;
  mode: number;
}

/**
 * {@link writeFileAtomic} for several files as one batch: every temp file is written first, then
 * each is fsynced, then all are renamed into place. The first fsync commits the file system's
 * journal with all of them, so the others cost next to nothing: one wait for the disk instead of
 * one per file (on a busy shared disk ~3 ms each). Each file is still old or new, never half; a
 * failure before the renames changes none of them (temp files removed).
 */
export function writeFilesAtomic(files: readonly FileToWrite[], options: SafeWriteOptions = {}): void {
  const staged: Staged[] = [];
  let failed: unknown;
  for (const f of files) {
    try {
      staged.push(stage(f.path, f.contents, f.mode, options));
    } catch (e) {
      failed = e; // stage removed its own temp file and named the path
      break;
    }
  }
  if (failed === undefined && options.durable !== false) {
    for (const s of staged) {
      try {
        fsyncSync(s.fd!);
      } catch (e) {
        failed = fsErrorToCliError(e, s.path) ?? e;
        break;
      }
    }
  }
  if (failed !== undefined) {
    for (const s of staged) discard(s);
    throw failed;
  }
  for (const [i, s] of staged.entries()) {
    try {
      commit(s);
    } catch (e) {
      for (const rest of staged.slice(i + 1)) discard(rest);
      throw e;
    }
  }
}
