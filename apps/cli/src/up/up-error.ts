import { isRemoteExecError } from "@khw/remote-exec";
import { CliError } from "../errors";
import { failureHint } from "./hints";
import type { PhaseName } from "./phases";

/** A step failed: names the phase, host, command, exit code and the last lines of stderr, with a hint. */
export class UpError extends CliError {
  constructor(
    readonly phase: string,
    readonly host: string,
    message: string,
    hint: string | undefined,
  ) {
    super("UP_FAILED", message, hint);
  }
}

/** Ctrl-C reached a step: it stops there (the run saves its state and says so). */
export class Interrupted extends Error {}

/** The last `n` lines of a command's output, for error messages. */
export const lastLines = (text: string, n = 8) => text.trimEnd().split("\n").slice(-n).join("\n");

/** A host's failure as the progress views and `--json` show it. */
export function failureEvent(phase: string, host: string, error: Error) {
  const result = isRemoteExecError(error) ? error.result : undefined;
  return {
    type: "host-failed" as const,
    phase,
    host,
    step: "",
    message: error.message.split("\n")[0] ?? error.message,
    ...(result ? { exitCode: result.code, stderr: lastLines(result.stderr) } : {}),
    ...(isRemoteExecError(error) && error.hint ? { hint: error.hint } : {}),
  };
}

/** A phase's failed hosts as one error: the first host's command, exit code, stderr and hint; the others named. */
export function toUpError(
  phase: PhaseName | string,
  failures: Array<{ host: string; error: Error }>,
): UpError {
  const first = failures[0]!;
  if (first.error instanceof UpError) return first.error;
  const e = first.error;
  const lines = [`[${phase}] ${first.host}: ${e.message.split("\n")[0]}`];
  let stderr = "";
  if (isRemoteExecError(e) && e.result) {
    lines.push(`  exit code ${e.result.code ?? e.result.signal}`);
    stderr = e.result.stderr;
    if (stderr.trim()) lines.push(`  stderr (last lines):\n${lastLines(stderr).replace(/^/gm, "    ")}`);
  }
  if (failures.length > 1)
    lines.push(
      `  (${failures.length - 1} more host(s) failed: ${failures
        .slice(1)
        .map((f) => f.host)
        .join(", ")})`,
    );
  const hint = failureHint(phase, stderr + e.message) ?? (isRemoteExecError(e) ? e.hint : undefined);
  return new UpError(phase, first.host, lines.join("\n"), hint);
}
