import { failureMessage, type RunOptions as HostRunOptions, run as hostRun } from "@khw/host-io";
import { BundleError, type BundleErrorCode } from "./errors";

export interface RunOptions
  extends Pick<HostRunOptions, "cwd" | "env" | "onLine" | "streamStdout" | "timeoutMs"> {
  /** The error code when the command fails. */
  code?: BundleErrorCode;
  hint?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs a command; rejects with a BundleError (naming the command and its last stderr lines) when it fails. */
export async function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const code = options.code ?? "GO_FAILED";
  let result: Awaited<ReturnType<typeof hostRun>>;
  try {
    result = await hostRun(command, args, options);
  } catch (cause) {
    throw new BundleError(
      code,
      `could not start "${command}": ${(cause as Error).message}`,
      options.hint ?? `Install ${command} or put it on PATH.`,
      { cause },
    );
  }
  if (result.code === 0 && result.signal === null) {
    return { stdout: result.stdout, stderr: result.stderr, exitCode: 0 };
  }
  throw new BundleError(
    code,
    failureMessage(command, args, result),
    options.hint ?? "Read the output above; rerun with the same versions once the cause is fixed.",
  );
}
