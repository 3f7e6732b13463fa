import { createHash } from "node:crypto";
import { RemoteExecError } from "./errors.js";
import type { ExecResult, UploadSpec } from "./executor.js";

const STDERR_TAIL_LINES = 12;
const STDERR_TAIL_CHARS = 2000;

export function stderrTail(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  let tail = lines.slice(-STDERR_TAIL_LINES).join("\n");
  if (tail.length > STDERR_TAIL_CHARS) tail = `…${tail.slice(-STDERR_TAIL_CHARS)}`;
  return tail;
}

/** Throws COMMAND_FAILED unless the result is a clean exit 0. */
export function checkResult(host: string, display: string, result: ExecResult, secret: boolean): void {
  if (result.code === 0) return;
  const what = secret ? "a command (hidden: secret)" : display;
  const how =
    result.code === null ? `was killed by signal ${result.signal ?? "?"}` : `exited with code ${result.code}`;
  const tail = secret ? "" : stderrTail(result.stderr);
  let hint: string | undefined;
  if (/sudo: (a password is required|a terminal is required)/.test(result.stderr)) {
    hint = "the login user needs passwordless sudo (NOPASSWD in /etc/sudoers.d), or log in as root";
  } else if (result.code === 127) {
    hint = "the program is not installed on the host, or not on the PATH of a non-interactive shell";
  }
  throw new RemoteExecError("COMMAND_FAILED", `${what} ${how}${tail ? `; stderr:\n${indent(tail)}` : ""}`, {
    host,
    hint,
    result: secret ? { ...result, stdout: "", stderr: "" } : result,
  });
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

export function validateUploadSpec(host: string, spec: UploadSpec): void {
  const bad = (message: string, hint?: string): never => {
    throw new RemoteExecError("INVALID_ARGUMENT", `upload ${JSON.stringify(spec.path)}: ${message}`, {
      host,
      hint,
    });
  };
  if (!spec.path.startsWith("/")) bad("the path must be absolute");
  if (spec.path.endsWith("/")) bad("the path names a directory");
  if (/[\0\n]/.test(spec.path)) bad("the path contains a NUL or newline");
  if ((spec.content === undefined) === (spec.localFile === undefined))
    bad("give exactly one of content and localFile");
  const mode = spec.mode ?? 0o644;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
    bad(`invalid mode ${mode}`, "use a number like 0o644");
  for (const [field, value] of [
    ["owner", spec.owner],
    ["group", spec.group],
  ] as const) {
    if (value !== undefined && !/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/.test(value))
      bad(`invalid ${field} ${JSON.stringify(value)}`);
  }
}

export function contentBuffer(content: string | Uint8Array): Buffer {
  return typeof content === "string"
    ? Buffer.from(content, "utf8")
    : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}
