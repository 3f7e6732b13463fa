import type { HostTarget } from "./host-target.js";
import type { MaybeSecret } from "./secret.js";

export interface ExecOptions {
  /** Run as root: `sudo -n --` for non-root users, directly for root. Default false. */
  sudo?: boolean | undefined;
  /** Environment for the command, passed with `env(1)`; wrap values in `secret()` to keep them out of logs. */
  env?: Readonly<Record<string, MaybeSecret>> | undefined;
  /** Kill the command (SIGKILL over SSH, then close the channel) and fail with TIMEOUT after this long. */
  timeoutMs?: number | undefined;
  /** Written to the command's stdin, then stdin is closed (it is always closed, so nothing waits on it). */
  stdin?: string | Uint8Array | undefined;
  /** Called with each stdout chunk as it arrives (UTF-8 decoded, never split inside a character). */
  onStdout?: ((chunk: string) => void) | undefined;
  onStderr?: ((chunk: string) => void) | undefined;
  /** Throw COMMAND_FAILED when the command exits non-zero or dies from a signal. Default true. */
  check?: boolean | undefined;
  /** The command or its output is sensitive: logs and errors show neither the command nor stderr. */
  secret?: boolean | undefined;
}

export interface ShellOptions extends ExecOptions {
  /** Positional parameters for the script (`$1`, `$2`...), quoted safely: the way to pass data in. */
  args?: readonly MaybeSecret[] | undefined;
}

export interface ExecResult {
  /** Exit status; null when the command died from a signal (then `signal` is set). */
  code: number | null;
  signal?: string | undefined;
  stdout: string;
  stderr: string;
}

export interface UploadSpec {
  /** Absolute destination path on the host. */
  path: string;
  /** The file's contents (give exactly one of content / localFile). Never logged. */
  content?: string | Uint8Array | undefined;
  /** A local file to send instead of `content`. */
  localFile?: string | undefined;
  /** Permission bits, default 0o644. */
  mode?: number | undefined;
  /** Owner (user name) to set; left as created when omitted. Needs root (or sudo). */
  owner?: string | undefined;
  group?: string | undefined;
  /** Write as root (`sudo -n` for non-root users). Default false. */
  sudo?: boolean | undefined;
  /** Create missing parent directories (mode 0755). Default true. */
  mkdirs?: boolean | undefined;
}

export interface UploadResult {
  path: string;
  /** False when the host already had the same content, mode and owner: nothing was written. */
  changed: boolean;
  size: number;
}

export interface DownloadOptions {
  /** Read as root (`sudo -n` for non-root users). Default false. */
  sudo?: boolean | undefined;
}

/**
 * Everything `khw up` does to a host. Implemented by `SshExecutor` (real hosts) and
 * `RecordingExecutor` (`--dry-run`, tests). Methods reject with `RemoteExecError`.
 */
export interface Executor {
  /** Opens (or reuses) the connection to `host`: a cheap reachability/auth/host-key check. */
  connect(host: HostTarget): Promise<void>;
  /** Runs one program with its arguments; every word is quoted for the remote shell. */
  exec(host: HostTarget, argv: readonly MaybeSecret[], options?: ExecOptions): Promise<ExecResult>;
  /** Runs a deliberate shell script with `sh -c` (pass data through `options.args`, never by interpolation). */
  shell(host: HostTarget, script: MaybeSecret, options?: ShellOptions): Promise<ExecResult>;
  /** Atomic (temp file + rename in the same directory) and idempotent (sha256 compared first) upload. */
  upload(host: HostTarget, file: UploadSpec): Promise<UploadResult>;
  /** Reads a whole file from the host. */
  download(host: HostTarget, path: string, options?: DownloadOptions): Promise<Buffer>;
  /** Closes every connection. Further calls reject with CLOSED. */
  close(): Promise<void>;
}

export type LogLevel = "debug" | "info" | "warn";

export interface LogEntry {
  level: LogLevel;
  /** Host name, when the entry is about one host. */
  host?: string | undefined;
  message: string;
}

/** Receives log entries. They never contain secrets. */
export type Logger = (entry: LogEntry) => void;
