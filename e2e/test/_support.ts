import { existsSync, readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { fileURLToPath } from "node:url";
import { main } from "@khw/cli";
import { run } from "@khw/host-io";
import { labExec } from "@khw/lab";
import { pinnedBinaries } from "@khw/test-kit/pinned";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a khw command in-process in `cwd`, the way a user's shell would run it. */
export async function khw(cwd: string, argv: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const t0 = performance.now();
  const code = await main(argv, {
    cwd,
    env: { ...process.env, NO_COLOR: "1" },
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    isTTY: false,
  });
  return { code, stdout, stderr, seconds: (performance.now() - t0) / 1000 };
}

/** A shell command on a lab host; throws with its output when it fails unless `allowFail`. */
export async function onHost(workdir: string, host: string, command: string, allowFail = false) {
  const r = await labExec({ host, workdir }, command, { timeoutMs: 120_000 });
  if (r.code !== 0 && !allowFail) {
    throw new Error(`${host}: \`${command}\` exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

let pinned: ReturnType<typeof pinnedBinaries> | undefined;
/** kubectl and etcdctl are the bundle's (v1.34.4, v3.6.16: the versions khw pins), never a machine's own. */
function resolvePinned(cmd: string): string {
  if (cmd !== "kubectl" && cmd !== "etcdctl") return cmd;
  pinned ??= pinnedBinaries();
  if (pinned.missing.length) throw new Error(`the e2e needs the pinned ${cmd}: ${pinned.missing.join("; ")}`);
  return pinned[cmd];
}

/** A local command with its exit code; `kubectl` and `etcdctl` run the bundle's pinned binaries. */
export async function local(cmd: string, args: string[], env: Record<string, string> = {}) {
  const file = resolvePinned(cmd);
  const r = await run(file, args, { env: { ...process.env, ...env }, timeoutMs: 60_000 }).catch(
    (e: Error) => ({ code: 1, stdout: "", stderr: e.message }),
  );
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** GET https://host:port/path, trusting `caFile`; resolves with status and body, rejects on TLS or socket errors. */
export function httpsGet(url: string, caFile: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent: new Agent({ ca: readFileSync(caFile), keepAlive: false }), timeout: 5000 },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

export async function until<T>(what: string, fn: () => Promise<T | undefined>, seconds = 60): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(
    `timed out after ${seconds} s waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`,
  );
}

export function events(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The CLI as it ships: apps/cli/dist/bin.js (built by `pnpm build`, which `pnpm test` runs first). */
export const BUILT_CLI = fileURLToPath(new URL("../../apps/cli/dist/bin.js", import.meta.url));

/** Runs the built CLI in a process of its own in `cwd` (a missing build is an error, never a skip). */
export async function khwBuilt(cwd: string, argv: string[]): Promise<Run> {
  if (!existsSync(BUILT_CLI)) throw new Error(`${BUILT_CLI} is missing: run \`pnpm build\` first`);
  const t0 = performance.now();
  const r = await run(process.execPath, [BUILT_CLI, ...argv], {
    cwd,
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
}
