/** Every failure this package reports carries one of these codes. */
export type RemoteExecErrorCode =
  /** The server rejected every authentication method we offered. Never retried. */
  | "AUTH_FAILED"
  /** Strict host-key checking: the host is not in known_hosts. Never retried. */
  | "HOST_KEY_UNKNOWN"
  /** known_hosts has a different key (of the same type) for this host, or the key is revoked. Never retried. */
  | "HOST_KEY_CHANGED"
  /** TCP connect / SSH handshake failed (refused, unreachable, reset). Retried with backoff. */
  | "CONNECT_FAILED"
  /** Connecting took longer than `connectTimeoutMs`, or a command ran longer than its `timeoutMs`. */
  | "TIMEOUT"
  /** A command exited non-zero (or died from a signal) and the caller asked for `check` (the default). */
  | "COMMAND_FAILED"
  /** The connection dropped while an operation was running. The operation is NOT retried. */
  | "CONNECTION_LOST"
  /** An upload failed after connecting (permission denied, disk full, no sudo...). */
  | "UPLOAD_FAILED"
  /** `download` of a path that does not exist (or is not a regular file). */
  | "FILE_NOT_FOUND"
  /** `download` failed for another reason. */
  | "DOWNLOAD_FAILED"
  /** The executor was closed, or a fan-out skipped this host after another failed (`failFast`). */
  | "CLOSED"
  | "SKIPPED"
  /** The caller passed something unusable (bad path, bad mode, bad env name...). */
  | "INVALID_ARGUMENT"
  /**
   * RecordingExecutor only: a command no rule answers. Thrown whatever `check` says, so a test never
   * passes on an answer nobody scripted.
   */
  | "NOT_SCRIPTED";

export interface RemoteExecErrorDetails {
  /** Host name (`HostTarget.name`) the failure belongs to. */
  host: string;
  /** What to do about it, one sentence. */
  hint?: string | undefined;
  /** Exit code / signal / captured output of the command, for COMMAND_FAILED and TIMEOUT. */
  result?: { code: number | null; signal?: string | undefined; stdout: string; stderr: string } | undefined;
  /** The SHA256 fingerprint of the key the host presented (host-key errors). */
  fingerprint?: string | undefined;
  cause?: unknown;
}

/**
 * The one error class of @khw/remote-exec. `message` always names the host and never contains
 * secrets (upload contents, keys, values wrapped in `secret()`).
 */
export class RemoteExecError extends Error {
  override readonly name = "RemoteExecError";
  readonly code: RemoteExecErrorCode;
  readonly host: string;
  readonly hint: string | undefined;
  readonly result: RemoteExecErrorDetails["result"];
  readonly fingerprint: string | undefined;
  /** The host it concerns (the khw error shape: code, message, path, hint). */
  get path(): string {
    return this.host;
  }
  /** The message without the `[host]` prefix and the hint. */
  readonly detail: string;

  constructor(code: RemoteExecErrorCode, message: string, details: RemoteExecErrorDetails) {
    const full = `[${details.host}] ${message}${details.hint ? `\n  hint: ${details.hint}` : ""}`;
    super(full, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.host = details.host;
    this.hint = details.hint;
    this.result = details.result;
    this.fingerprint = details.fingerprint;
    this.detail = message;
  }
}

export function isRemoteExecError(err: unknown, code?: RemoteExecErrorCode): err is RemoteExecError {
  return err instanceof RemoteExecError && (code === undefined || err.code === code);
}

/** Errors whose cause is the connection itself (worth another try before any command ran). */
export function isRetryableConnectError(err: unknown): boolean {
  return err instanceof RemoteExecError && (err.code === "CONNECT_FAILED" || err.code === "TIMEOUT");
}
