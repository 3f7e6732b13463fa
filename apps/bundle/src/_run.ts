import { spawn } from "node:child_process";
import { BundleError, type BundleErrorCode } from "./errors";

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with each line of stderr (and of stdout when `streamStdout`). */
  onLine?: (line: string) => void;
  streamStdout?: boolean;
  timeoutMs?: number;
  /** The error code when the command fails. */
  code?: BundleErrorCode;
  hint?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

function lineSplitter(onLine: (line: string) => void): { push(chunk: string): void; end(): void } {
  let rest = "";
  return {
    push(chunk) {
      rest += chunk;
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    },
    end() {
      if (rest !== "") onLine(rest);
      rest = "";
    },
  };
}

/** Runs a command; rejects with a BundleError (naming the command and its last stderr lines) when it fails. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const errLines = lineSplitter((l) => options.onLine?.(l));
    const outLines = lineSplitter((l) => options.onLine?.(l));
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (options.streamStdout) outLines.push(chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
      errLines.push(chunk);
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    const shown = `${command} ${args.join(" ")}`.slice(0, 300);
    child.on("error", (cause) => {
      if (timer) clearTimeout(timer);
      reject(
        new BundleError(
          options.code ?? "GO_FAILED",
          `could not start "${command}": ${(cause as Error).message}`,
          options.hint ?? `Install ${command} or put it on PATH.`,
          { cause },
        ),
      );
    });
    child.on("close", (exitCode, signal) => {
      if (timer) clearTimeout(timer);
      errLines.end();
      if (options.streamStdout) outLines.end();
      if (exitCode === 0) {
        resolve({ stdout, stderr, exitCode });
        return;
      }
      const tail = (stderr.trim() || stdout.trim()).split("\n").slice(-20).join("\n");
      reject(
        new BundleError(
          options.code ?? "GO_FAILED",
          `"${shown}" failed (${signal ? `signal ${signal}` : `exit ${exitCode}`})${tail ? `:\n${tail}` : ""}`,
          options.hint ?? "Read the output above; rerun with the same versions once the cause is fixed.",
        ),
      );
    });
  });
}
