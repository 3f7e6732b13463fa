import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * Whether a process exists and has not exited (EPERM: it exists, owned by someone else). A zombie, exited
 * but not yet reaped by its parent (an orphan waits for init to reap it: a lab host whose `khw lab up`
 * has exited), is not alive, though signal 0 still reaches it.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return !isZombie(pid);
}

/** /proc/<pid>/stat's state is Z (zombie) or X (dead); false where there is no /proc. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "<pid> (<comm>) <state> …": comm may hold spaces and parentheses, the state follows the last ")"
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "Z" || state === "X";
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface RunOptions {
  cwd?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  /** Written to the program's stdin (else stdin is closed). */
  input?: string | undefined;
  /** Kill the program (SIGKILL) after this long. */
  timeoutMs?: number | undefined;
  /** Called with each line of stderr, and of stdout when `streamStdout` is set. */
  onLine?: ((line: string) => void) | undefined;
  streamStdout?: boolean | undefined;
}

export interface RunResult {
  /** The exit code; 128 + 9 when killed by a signal without one. */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last megabyte at most. */
  stderr: string;
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

/**
 * Runs a program (no shell) and collects its output. Resolves whatever the exit code (see
 * {@link failureMessage} to describe a failure); rejects only when the program cannot start.
 */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    let stdout = "";
    let stderr = "";
    const onLine = options.onLine ?? (() => undefined);
    const errLines = lineSplitter(onLine);
    const outLines = lineSplitter(onLine);
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (options.streamStdout) outLines.push(chunk);
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
      errLines.push(chunk);
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.on("error", (error) => {
      if (timer) clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      errLines.end();
      if (options.streamStdout) outLines.end();
      resolve({ code: code ?? (signal ? 128 + 9 : 1), signal, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** `"<command>" failed (exit N):\n<last lines of stderr, or stdout>`: for the caller's own error type. */
export function failureMessage(
  file: string,
  args: readonly string[],
  result: RunResult,
  tailLines = 20,
): string {
  const shown = `${file} ${args.join(" ")}`.slice(0, 300);
  const how = result.signal ? `signal ${result.signal}` : `exit ${result.code}`;
  const tail = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(-tailLines).join("\n");
  return `"${shown}" failed (${how})${tail ? `:\n${tail}` : ""}`;
}
