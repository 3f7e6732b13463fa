// Publish and install as a stranger would. In a copy of the workspace (the repository is never
// changed): `changeset version`, a clean build, `changeset publish` of every package to a Verdaccio
// on 127.0.0.1; then, in a fresh directory outside the workspace, `npm install` from that registry
// and use what was installed: the khw CLI, TypeScript consumers of every library under
// moduleResolution node16, nodenext and bundler (ESM and CJS, no skipLibCheck), and plain .mjs/.cjs
// scripts whose certificates `openssl verify` checks.
import { execFile, execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { get as httpGet } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Registry, startRegistry } from "./_registry";
import {
  copyWorkspace,
  type PackageJson,
  publishedPackageDirs,
  REPO_ROOT,
  readPackageJson,
  run,
  runtimeClosure,
} from "./_workspace";

const LIBRARIES = [
  "@khw/spec",
  "@khw/pki",
  "@khw/kubeconfig",
  "@khw/systemd-units",
  "@khw/haproxy-config",
  "@khw/addons",
  "@khw/remote-exec",
  "@khw/bundle",
  "@khw/lab",
  "@khw/images",
];

function requireTool(name: string, args: string[]): void {
  try {
    execFileSync(name, args, { stdio: "ignore", timeout: 30_000 });
  } catch {
    throw new Error(`the publish test needs \`${name}\` on PATH (scripts/setup.sh installs it)`);
  }
}

let tmp: string;
let registry: Registry | undefined;
let consumer: string;
let env: NodeJS.ProcessEnv;
let published: PackageJson[] = [];
const tsc = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");

beforeAll(async () => {
  requireTool("npm", ["--version"]);
  requireTool("pnpm", ["--version"]);
  requireTool("git", ["--version"]);
  requireTool("openssl", ["version"]);
  tmp = mkdtempSync(join(tmpdir(), "khw-publish-"));
  registry = await startRegistry(join(tmp, "registry"));
  env = {
    ...process.env,
    npm_config_userconfig: registry.npmrc,
    npm_config_registry: `${registry.url}/`,
    npm_config_cache: join(tmp, "npm-cache"),
    npm_config_git_checks: "false",
    npm_config_update_notifier: "false",
    npm_config_audit: "false",
    npm_config_fund: "false",
    NO_COLOR: "1",
    CI: "true",
    TURBO_TELEMETRY_DISABLED: "1",
    DO_NOT_TRACK: "1",
  };

  // 1. The workspace as a clone has it, installed from the local store only.
  const repo = copyWorkspace(join(tmp, "repo"));
  writeFileSync(join(repo, ".npmrc"), readFileSync(registry.npmrc));
  run("git", ["init", "-q", "-b", "main"], { cwd: repo });
  run("git", ["-c", "user.name=t", "-c", "user.email=t@t", "add", "-A"], { cwd: repo });
  run("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"], { cwd: repo });
  run("pnpm", ["install", "--frozen-lockfile", "--offline", "--ignore-scripts"], {
    cwd: repo,
    env: { ...env, npm_config_registry: "https://registry.npmjs.org/" },
    timeoutS: 300,
  });

  // 2. A `pnpm pack` with nothing built yet builds first (prepack) instead of packing README + package.json.
  run("pnpm", ["pack", "--pack-destination", join(tmp, "prepack")], {
    cwd: join(repo, "packages/spec"),
    env,
  });
  const packed = join(tmp, "prepack", readdirSync(join(tmp, "prepack")).find((f) => f.endsWith(".tgz"))!);
  writeFileSync(join(tmp, "prepack-files.txt"), run("tar", ["tzf", packed]));

  // 3. The third-party packages the published ones need, from the local store into the registry.
  const dirs = publishedPackageDirs(repo);
  // @types/node too: a TypeScript consumer compiles against Node's types without skipLibCheck.
  const closure = runtimeClosure(dirs, [join(repo, "node_modules", "@types", "node")]);
  const queue = [...closure];
  const publishOne = async () => {
    for (let from = queue.shift(); from; from = queue.shift()) {
      const pkg = readPackageJson(from);
      if (pkg.publishConfig?.registry)
        throw new Error(`${pkg.name} names its own registry; cannot republish it`);
      // npm cannot pack a directory whose path holds pnpm's `name@version` folders: copy it out first.
      const dir = join(tmp, "third-party", `${pkg.name.replace("/", "+")}@${pkg.version}`);
      cpSync(from, dir, { recursive: true });
      await execFileAsync("npm", [
        "publish",
        dir,
        "--ignore-scripts",
        "--tag",
        `t${pkg.version.replace(/[^a-z0-9]/gi, "")}`,
        "--registry",
        `${registry!.url}/`,
      ]);
    }
  };
  await Promise.all([publishOne(), publishOne(), publishOne(), publishOne()]);

  // 4. Version, build from clean, publish: the release flow.
  run("pnpm", ["exec", "changeset", "version"], { cwd: repo, env });
  run("pnpm", ["exec", "turbo", "run", "build", "--concurrency=2"], { cwd: repo, env, timeoutS: 900 });
  run("pnpm", ["exec", "changeset", "publish"], { cwd: repo, env, timeoutS: 600 });
  published = dirs.map(readPackageJson);

  // 5. A stranger's directory, outside any workspace.
  consumer = join(tmp, "consumer");
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, "package.json"),
    `${JSON.stringify({ name: "consumer", version: "1.0.0", private: true }, null, 2)}\n`,
  );
  const typesNode = readPackageJson(join(REPO_ROOT, "node_modules", "@types", "node")).version;
  run(
    "npm",
    [
      "install",
      "--ignore-scripts",
      "--no-package-lock",
      "@khw/cli",
      "@khw/pki",
      ...LIBRARIES.filter((l) => l !== "@khw/pki"),
      `@types/node@${typesNode}`,
    ],
    { cwd: consumer, env, timeoutS: 600 },
  );
}, 40 * 60_000);

afterAll(async () => {
  await registry?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function execFileAsync(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stdout}\n${stderr}`)) : resolve(),
    );
  });
}

/**
 * GET on a new connection. fetch would reuse a kept-alive socket that the registry closed while the
 * synchronous set-up above blocked the event loop (EPIPE).
 */
function getJson(url: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    }).on("error", reject);
  });
}

const khw = (args: string[], cwd: string) => {
  try {
    return { code: 0, out: run(join(consumer, "node_modules", ".bin", "khw"), args, { cwd, env }) };
  } catch (e) {
    return { code: Number(/exit (\d+)/.exec((e as Error).message)?.[1] ?? -1), out: (e as Error).message };
  }
};

describe("packing and publishing", () => {
  it("packs dist/ and LICENSE even when nothing was built before (prepack)", () => {
    const files = readFileSync(join(tmp, "prepack-files.txt"), "utf8");
    expect(files).toContain("package/dist/index.js");
    expect(files).toContain("package/dist/index.d.ts");
    expect(files).toContain("package/LICENSE");
  });

  it("@khw/addons' declarations import no kubernetes-types path (TS2307 under node16/nodenext)", () => {
    const dts = readFileSync(join(consumer, "node_modules", "@khw", "addons", "dist", "index.d.ts"), "utf8");
    expect(dts).not.toMatch(/from ['"]kubernetes-types/);
    expect(dts).toMatch(/interface Deployment\b/);
  });

  it("published every package at the version changeset gave it, with LICENSE and metadata", async () => {
    expect(published.length).toBeGreaterThanOrEqual(11);
    for (const p of published) {
      expect(p.version, p.name).not.toBe("0.0.0");
      const r = await getJson(`${registry!.url}/${p.name.replace("/", "%2f")}`);
      expect(r.status, p.name).toBe(200);
      const doc = r.body as { versions: Record<string, Record<string, unknown>> };
      const v = doc.versions[p.version];
      expect(v, `${p.name}@${p.version}`).toBeDefined();
      for (const field of ["repository", "homepage", "bugs", "keywords", "license"])
        expect(v?.[field], `${p.name} ${field}`).toBeTruthy();
      for (const [dep, range] of Object.entries((v?.["dependencies"] as Record<string, string>) ?? {})) {
        expect(range, `${p.name} → ${dep}`).not.toMatch(/^workspace:/);
        if (dep.startsWith("@khw/")) expect(range, `${p.name} → ${dep}`).toMatch(/^\^/);
      }
      const installed = join(consumer, "node_modules", ...p.name.split("/"));
      expect(readFileSync(join(installed, "LICENSE"), "utf8")).toBe(
        readFileSync(join(REPO_ROOT, "LICENSE"), "utf8"),
      );
    }
  });

  it("ships one build of the CLI, not a copy per entry and format", () => {
    const dist = join(consumer, "node_modules", "@khw", "cli", "dist");
    const js = readdirSync(dist).filter((f) => /\.(c|m)?js$/.test(f));
    // Before: bin.js, bin.cjs, index.js and index.cjs each held a whole copy of the CLI.
    const holding = (text: string) => js.filter((f) => readFileSync(join(dist, f), "utf8").includes(text));
    expect(holding("Kubernetes the hard way, by one command")).toHaveLength(1);
    expect(holding("shows what would change on the hosts")).toHaveLength(1);
    expect(js.some((f) => f.endsWith(".cjs"))).toBe(false);
    expect(existsSync(join(dist, "Vagrantfile"))).toBe(true);
  });
});

describe("the CLI from the registry", () => {
  it("prints its real version", () => {
    const cli = published.find((p) => p.name === "@khw/cli")!;
    const r = khw(["--version"], consumer);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(cli.version);
  });

  it("reads a valid spec without loading zod: `khw validate`, `khw gen` and `khw gen --pki-only`; an invalid one loads it for the messages", () => {
    const cli = join(consumer, "node_modules", "@khw", "cli", "dist");
    const dir = join(tmp, "zod-check");
    mkdirSync(dir, { recursive: true });
    expect(khw(["init"], dir).code).toBe(0);
    // zod's own class names survive the CLI's minification: a chunk that has them carries zod.
    const zodChunks = readdirSync(cli).filter(
      (f) => f.endsWith(".js") && /\$ZodType|ZodObject/.test(readFileSync(join(cli, f), "utf8")),
    );
    expect(zodChunks.length).toBeGreaterThan(0);
    const hook = join(tmp, "record-modules.mjs");
    writeFileSync(
      hook,
      `import { register } from "node:module";\nregister("data:text/javascript," + encodeURIComponent(${JSON.stringify(
        'import { appendFileSync } from "node:fs"; export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(process.env.RECORD, r.url + "\\n"); return r; }',
      )}));\n`,
    );
    const loaded = (args: string[]): string[] => {
      const record = join(dir, "modules.log");
      writeFileSync(record, "");
      try {
        execFileSync(process.execPath, ["--import", hook, join(cli, "bin.js"), ...args], {
          cwd: dir,
          env: { ...env, RECORD: record },
          stdio: "ignore",
        });
      } catch {
        // an invalid spec exits 3: what it loaded is still recorded
      }
      return readFileSync(record, "utf8")
        .split("\n")
        .filter((u) => zodChunks.some((z) => u.endsWith(`/${z}`)));
    };
    for (const args of [["validate"], ["gen", "--pki-only"], ["gen"]])
      expect(loaded(args), args.join(" ")).toEqual([]);
    writeFileSync(join(dir, "cluster.yaml"), "nodes: []\n");
    expect(loaded(["validate"]).length).toBeGreaterThan(0);
  });

  // -o yaml loads yaml lazily: once bundled, a dynamic import exposes only `default` (it failed with
  // "stringify is not a function" in the built CLI while every test from source passed)
  it("prints structured output as YAML and JSON", () => {
    const cli = published.find((p) => p.name === "@khw/cli")!;
    const yaml = khw(["version", "-o", "yaml"], consumer);
    expect(yaml.code, yaml.out).toBe(0);
    expect(yaml.out).toMatch(new RegExp(`^khw: ${cli.version.replace(/\./g, "\\.")}$`, "m"));
    const json = khw(["version", "-o", "json"], consumer);
    expect(json.code, json.out).toBe(0);
    expect(JSON.parse(json.out).khw).toBe(cli.version);
  });

  it("init, validate and gen work in a fresh directory", () => {
    const work = join(tmp, "cluster");
    mkdirSync(work);
    expect(khw(["init", "--vagrant"], work).code).toBe(0);
    expect(existsSync(join(work, "Vagrantfile"))).toBe(true);
    const spec = readPackageJson(join(consumer, "node_modules", "@khw", "spec"));
    expect(readFileSync(join(work, "cluster.yaml"), "utf8")).toContain(
      `@khw/spec@${spec.version}/cluster.schema.json`,
    );
    const ok = khw(["validate"], work);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toContain("is valid");
    writeFileSync(join(work, "bad.yaml"), "name: x\nnodes: []\n");
    expect(khw(["validate", "-f", "bad.yaml"], work).code).toBe(3);
    const gen = khw(["gen"], work);
    expect(gen.code, gen.out).toBe(0);
    const ca = join(work, "pki", "ca.crt");
    expect(run("openssl", ["verify", "-CAfile", ca, join(work, "pki", "kube-apiserver.crt")])).toContain(
      ": OK",
    );
    expect(statSync(join(work, "pki", "kube-apiserver.key")).mode & 0o777).toBe(0o600);
  });
});

describe("a strict install (pnpm: only declared dependencies are reachable)", () => {
  it("installs @khw/cli, whose up command loads ssh2", () => {
    const dir = join(tmp, "pnpm-consumer");
    mkdirSync(dir);
    writeFileSync(join(dir, "package.json"), '{ "name": "pnpm-consumer", "private": true }\n');
    writeFileSync(join(dir, ".npmrc"), readFileSync(registry!.npmrc));
    run("pnpm", ["add", "@khw/cli", "--ignore-scripts", "--config.node-linker=isolated"], {
      cwd: dir,
      env: { ...env, npm_config_store_dir: join(tmp, "pnpm-store") },
      timeoutS: 300,
    });
    const out = run(join(dir, "node_modules", ".bin", "khw"), ["up", "--list", "-o", "json"], {
      cwd: dir,
      env,
    });
    expect(JSON.parse(out).map((p: { name: string }) => p.name)).toContain("etcd");
  });
});

// Every library, its types used for real: a wrong assignment must be an error (types are not `any`).
function consumerSource(kind: "esm" | "cjs"): string {
  const libs = kind === "esm" ? [...LIBRARIES, "@khw/cli"] : LIBRARIES;
  const ns = (l: string) => l.replace("@khw/", "").replace(/-/g, "_");
  return [
    ...libs.map((l) => `import * as ${ns(l)} from "${l}";`),
    'import { NODE_DIRS, type Cluster } from "@khw/spec/core";',
    'import { quickLoadCluster } from "@khw/spec/quick";',
    'import type { Deployment } from "@khw/addons";',
    'import type { ConnectConfig } from "ssh2";',
    "",
    "const cluster: Cluster = spec.loadCluster(spec.defaultClusterSpecInput()).cluster;",
    "const quick: Cluster | undefined = quickLoadCluster(spec.defaultClusterSpecInput())?.cluster;",
    "const dirs: readonly string[] = Object.values(NODE_DIRS);",
    "const catalogue: pki.CertificateSpec[] = pki.catalogueFromCluster(cluster);",
    "const names: string[] = catalogue.map((c) => c.id);",
    "const objects = addons.addonManifestsFromCluster(cluster);",
    "const d: Deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } };",
    "// @ts-expect-error replicas is a number: the Kubernetes types must be real, not any",
    "const bad: Deployment = { spec: { replicas: 'two', selector: {}, template: {} } };",
    "const ssh: ConnectConfig = { host: '127.0.0.1' };",
    `export const used = [${libs.map(ns).join(", ")}, names, objects, d, bad, ssh, quick, dirs];`,
    "",
  ].join("\n");
}

describe("TypeScript consumers of every library (no skipLibCheck)", () => {
  const settings = {
    node16: { module: "node16", moduleResolution: "node16" },
    nodenext: { module: "nodenext", moduleResolution: "nodenext" },
    bundler: { module: "preserve", moduleResolution: "bundler" },
  } as const;
  for (const [name, options] of Object.entries(settings)) {
    it(`compiles an ESM and a CJS consumer under moduleResolution ${name}`, () => {
      const dir = join(consumer, `ts-${name}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "esm.mts"), consumerSource("esm"));
      writeFileSync(join(dir, "cjs.cts"), consumerSource("cjs"));
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            ...options,
            target: "es2022",
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ["node"],
          },
          files: ["esm.mts", "cjs.cts"],
        }),
      );
      run(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { cwd: dir, env, timeoutS: 300 });
    });
  }
});

describe("plain JavaScript users", () => {
  const script = (kind: "mjs" | "cjs") =>
    [
      kind === "mjs"
        ? 'import { writeFileSync } from "node:fs";\nimport { defaultClusterSpecInput, loadCluster } from "@khw/spec";\nimport { catalogueFromCluster, issuePki } from "@khw/pki";'
        : 'const { writeFileSync } = require("node:fs");\nconst { defaultClusterSpecInput, loadCluster } = require("@khw/spec");\nconst { catalogueFromCluster, issuePki } = require("@khw/pki");',
      "const { cluster } = loadCluster(defaultClusterSpecInput());",
      'const catalogue = catalogueFromCluster(cluster).filter((c) => c.id === "ca" || c.id === "kube-apiserver");',
      `${kind === "mjs" ? "" : "(async () => {\n"}const material = await issuePki({ catalogue, now: new Date() });`,
      'writeFileSync(process.argv[2] + "/ca.crt", material.ca.cert);',
      'writeFileSync(process.argv[2] + "/apiserver.crt", material["kube-apiserver"].cert);',
      'writeFileSync(process.argv[2] + "/apiserver.key", material["kube-apiserver"].key, { mode: 0o600 });',
      kind === "mjs" ? "" : "})();",
    ].join("\n");

  for (const kind of ["mjs", "cjs"] as const) {
    it(`a .${kind} script issues a CA and an apiserver certificate that openssl verifies`, () => {
      const out = join(consumer, `out-${kind}`);
      mkdirSync(out);
      writeFileSync(join(consumer, `issue.${kind}`), script(kind));
      run(process.execPath, [join(consumer, `issue.${kind}`), out], { cwd: consumer, env });
      const verify = run("openssl", ["verify", "-CAfile", join(out, "ca.crt"), join(out, "apiserver.crt")]);
      expect(verify).toContain("apiserver.crt: OK");
      const text = run("openssl", ["x509", "-in", join(out, "apiserver.crt"), "-noout", "-text"]);
      expect(text).toContain("DNS:kubernetes.default.svc.cluster.local");
    });
  }
});
