// A throw-away npm registry (Verdaccio) on 127.0.0.1, with no uplink: it serves only what the test
// publishes to it, so `npm install` from it never reaches another address.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

export interface Registry {
  url: string;
  /** A token of a user the registry created (npm refuses to publish without one). */
  token: string;
  /** An .npmrc that points npm (and pnpm) at this registry only, with the token. */
  npmrc: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

async function waitForPing(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with ${child.exitCode}:\n${log()}`);
    try {
      const r = await fetch(`${url}/-/ping`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`verdaccio did not answer ${url}/-/ping within 60 s:\n${log()}`);
}

/** Starts Verdaccio with its storage under `dir`; every package may be read and published, nothing is proxied. */
export async function startRegistry(dir: string): Promise<Registry> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  mkdirSync(join(dir, "storage"), { recursive: true });
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    [
      `storage: ${join(dir, "storage")}`,
      "auth:",
      "  htpasswd:",
      `    file: ${join(dir, "htpasswd")}`,
      "    max_users: 10",
      "uplinks: {}",
      "packages:",
      "  '**':",
      "    access: $all",
      "    publish: $authenticated",
      "    unpublish: $authenticated",
      "server:",
      "  keepAliveTimeout: 60",
      "max_body_size: 200mb",
      "log: { type: stdout, format: pretty, level: warn }",
      "",
    ].join("\n"),
  );
  const bin = join(dirname(require.resolve("verdaccio/package.json")), "bin", "verdaccio");
  const child = spawn(process.execPath, [bin, "--config", config, "--listen", `127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_ENV: "production" },
  });
  let output = "";
  child.stdout?.on("data", (d) => {
    output = (output + String(d)).slice(-20_000);
  });
  child.stderr?.on("data", (d) => {
    output = (output + String(d)).slice(-20_000);
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForPing(url, child, () => output);
    const r = await fetch(`${url}/-/user/org.couchdb.user:khw-test`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "khw-test", password: "khw-test-password", type: "user", roles: [] }),
    });
    const body = (await r.json()) as { token?: string; error?: string };
    if (!r.ok || !body.token)
      throw new Error(`verdaccio refused to create a user: ${r.status} ${JSON.stringify(body)}`);
    const hostPath = url.replace(/^http:/, "");
    const npmrc = join(dir, "npmrc");
    writeFileSync(
      npmrc,
      `registry=${url}/\n${hostPath}/:_authToken=${body.token}\naudit=false\nfund=false\nupdate-notifier=false\n`,
    );
    return { url, token: body.token, npmrc, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
