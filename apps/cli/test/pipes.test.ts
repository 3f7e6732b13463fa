// Output into a pipe whose reader has gone (`khw --help | head -1`, a pager closed early): no stack
// trace, and the command's own exit code.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { envWithoutForceColor, tempDir } from "./helpers";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const dev = join(__dirname, "../../../scripts/khw-dev.mjs");

/** Runs khw from its sources with stdout a pipe closed before khw writes anything. */
function withClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [dev, ...args], {
      cwd: dir,
      env: { ...envWithoutForceColor(), NO_COLOR: "1", INIT_CWD: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy(); // the reader is gone: every write of khw's to stdout fails with EPIPE
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("stdout with no reader", () => {
  it.each([
    [["--help"], 0],
    [["--version"], 0],
    [["schema"], 0],
    [["validate", "missing.yaml"], 1],
  ] as const)("khw %j ends quietly with its own exit code", async (args, code) => {
    const r = await withClosedStdout([...args]);
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled| {4}at /);
    expect(r.code).toBe(code);
  });
});
