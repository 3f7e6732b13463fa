import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Io } from "../src/io";
import { main } from "../src/main";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs khw in-process in `cwd` with captured output. */
export async function khw(cwd: string, argv: string[], env: Record<string, string> = {}): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  const io: Io = {
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    isTTY: false,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "khw-cli-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * This process's environment without FORCE_COLOR (vitest sets it): a child given NO_COLOR too would
 * print Node 22+'s "NO_COLOR is ignored due to FORCE_COLOR" warning on stderr.
 */
export function envWithoutForceColor(): NodeJS.ProcessEnv {
  const { FORCE_COLOR: _ignored, ...env } = process.env;
  return env;
}
