export {
  isRemoteExecError,
  isRetryableConnectError,
  RemoteExecError,
  type RemoteExecErrorCode,
  type RemoteExecErrorDetails,
} from "./errors.js";
export type {
  DownloadOptions,
  ExecOptions,
  ExecResult,
  Executor,
  LogEntry,
  Logger,
  LogLevel,
  ShellOptions,
  UploadResult,
  UploadSpec,
} from "./executor.js";
export { allOk, FanOutError, type FanOutOptions, fanOut, type HostResult } from "./fan-out.js";
export { DEFAULT_SSH_PORT, type HostTarget, hostAddress, type JumpTarget, needsSudo } from "./host-target.js";
export {
  checkHostKey,
  fingerprintSha256,
  formatKnownHostsLine,
  type HostKeyVerdict,
  hashKnownHostsName,
  hostFieldMatches,
  type KnownHostsEntry,
  keyTypeOf,
  knownHostsName,
  parseKnownHosts,
} from "./known-hosts.js";
export {
  type CannedResult,
  type CommandOp,
  describeOp,
  type RecordedFile,
  type RecordedOp,
  RecordingExecutor,
  type RecordingExecutorOptions,
  type ResponseRule,
} from "./recording-executor.js";
export { isSecret, type MaybeSecret, Secret, secret } from "./secret.js";
export { type BuiltCommand, buildCommand, type CommandSpec, shellJoin, shellQuote } from "./shell-quote.js";
export {
  type HostKeyChecking,
  type HostKeyEvent,
  type RetryOptions,
  SshExecutor,
  type SshExecutorOptions,
} from "./ssh-executor.js";
