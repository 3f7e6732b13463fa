/** Exit codes of every khw command. */
export const EXIT = { ok: 0, failure: 1, usage: 2, invalidSpec: 3 } as const;

/** An error the user can act on: printed as one line plus a hint, never a stack trace. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * The shape of every error khw's packages throw on purpose: a stable `code`, the `message`, the `path`
 * it concerns (field, certificate, host, file) and the `hint` that fixes it. The CLI formats it once.
 */
export interface KhwErrorShape {
  code: string;
  message: string;
  path?: string | undefined;
  hint?: string | undefined;
}

/** By shape, not class: main loads no package unless a command does. Node's errno errors have no `hint`. */
export function isKhwError(e: unknown): e is Error & KhwErrorShape {
  if (!(e instanceof Error) || typeof (e as { code?: unknown }).code !== "string" || !("hint" in e))
    return false;
  const hint = (e as { hint?: unknown }).hint;
  return hint === undefined || typeof hint === "string";
}

/** The message without the fix its class wrote into it (`(fix: …)`, `\nFix: …`, `\n  hint: …`): printed once, below. */
export function messageWithoutHint(e: KhwErrorShape): string {
  if (!e.hint) return e.message;
  for (const suffix of [` (fix: ${e.hint})`, `\nFix: ${e.hint}`, `\n  hint: ${e.hint}`]) {
    if (e.message.endsWith(suffix)) return e.message.slice(0, -suffix.length);
  }
  return e.message;
}

export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super("USAGE", message, hint, EXIT.usage);
  }
}

/** Ordinary file-system errors: what went wrong and what the user can do, by errno code. */
const FS_ERRORS: Record<string, { what: string; fix: (path: string) => string }> = {
  EACCES: {
    what: "permission denied",
    fix: (p) =>
      `check the owner and permissions of ${p} and its directory (ls -ld), or run khw where you may write`,
  },
  EPERM: {
    what: "operation not permitted",
    fix: (p) => `check the owner, permissions and attributes of ${p} and its directory (lsattr, ls -ld)`,
  },
  EROFS: {
    what: "the file system is read-only",
    fix: () => "run khw in a writable directory (or pass -o with a writable output directory)",
  },
  ENOSPC: {
    what: "no space left on the device",
    fix: () => "free some space on that file system (df -h) and run again",
  },
  EDQUOT: { what: "disk quota exceeded", fix: () => "free some space within your quota and run again" },
  ENOTDIR: {
    what: "a part of the path is a file, not a directory",
    fix: (p) => `move away the file that stands where a directory of ${p} should be`,
  },
  EISDIR: { what: "is a directory", fix: (p) => `move the directory ${p} away and run again` },
  EEXIST: { what: "already exists", fix: (p) => `move ${p} away and run again` },
  ELOOP: {
    what: "is a symbolic link, which khw does not follow here",
    fix: (p) => `replace the link ${p} with a real file or directory`,
  },
  ENAMETOOLONG: { what: "the path is too long", fix: () => "use a shorter directory path" },
  ENOENT: { what: "no such file or directory", fix: (p) => `check that ${p} and its directory exist` },
  EMFILE: { what: "too many open files", fix: () => "raise the open-file limit (ulimit -n) and run again" },
  ENFILE: { what: "too many open files in the system", fix: () => "close other programs and run again" },
  EBUSY: { what: "the file or device is busy", fix: (p) => `stop whatever is using ${p} and run again` },
  EXDEV: { what: "crosses file systems", fix: () => "keep the directory on one file system" },
  EIO: { what: "input/output error", fix: () => "check the disk (dmesg) and run again" },
};

const VERB: Record<string, string> = {
  open: "open",
  read: "read",
  write: "write",
  mkdir: "create the directory",
  rename: "write",
  unlink: "remove",
  rmdir: "remove",
  scandir: "list",
  fsync: "write",
  lstat: "inspect",
  stat: "inspect",
  chmod: "set the mode of",
  fchmod: "set the mode of",
  copyfile: "copy",
};

const FS_SYSCALLS = new Set([
  "access",
  "close",
  "fstat",
  "ftruncate",
  "futime",
  "link",
  "readlink",
  "realpath",
  "rm",
  "symlink",
  "truncate",
  "utime",
  "opendir",
  "fdatasync",
  "chown",
  "fchown",
  "lchown",
  "mkdtemp",
  "cp",
]);

/**
 * An ordinary file error (EACCES, ENOTDIR, EROFS, ENOSPC, EEXIST, …) as a CliError naming the path
 * and the fix; undefined for anything else (a real bug keeps its stack trace). `path` overrides the
 * error's own path (e.g. the target of a write instead of its temp file).
 */
export function fsErrorToCliError(e: unknown, path?: string): CliError | undefined {
  if (e instanceof CliError) return e;
  const err = e as NodeJS.ErrnoException | undefined;
  if (!err || typeof err !== "object" || typeof err.code !== "string") return undefined;
  const known = FS_ERRORS[err.code];
  const where = path ?? err.path;
  // File-system calls only (a failed spawn, a socket, … keep their own handling).
  const fsCall =
    err.syscall !== undefined && (VERB[err.syscall] !== undefined || FS_SYSCALLS.has(err.syscall));
  if (!known || where === undefined || !fsCall) return undefined;
  const verb = path !== undefined ? "write" : (VERB[err.syscall!] ?? "access");
  return new CliError("FILE", `cannot ${verb} ${where}: ${known.what} (${err.code})`, known.fix(where));
}
