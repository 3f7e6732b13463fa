// What `khw --version` and `khw validate` load (the modules, as the CLI runs from its sources): start-up is
// the modules loaded, so the heavy libraries load only for the commands that use them.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultClusterSpecInput, renderClusterYaml } from "@khw/spec";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { envWithoutForceColor, tempDir } from "./helpers";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const dev = join(__dirname, "../../../scripts/khw-dev.mjs");
const recorder = join(__dirname, "support/record-modules.mjs");

/** Runs khw from its sources with extra environment variables; returns its exit code. */
function run(args: string[], env: Record<string, string>): number | null {
  const r = spawnSync(process.execPath, [dev, ...args], {
    cwd: dir,
    env: { ...envWithoutForceColor(), NO_COLOR: "1", INIT_CWD: dir, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return r.status;
}

/** Runs khw from its sources and returns the exit code and the third-party packages it loaded. */
function packagesLoaded(args: string[]): { code: number | null; packages: Set<string>; urls: string[] } {
  const log = join(dir, "modules.log");
  writeFileSync(log, "");
  const r = spawnSync(process.execPath, ["--import", recorder, dev, ...args], {
    cwd: dir,
    env: { ...envWithoutForceColor(), NO_COLOR: "1", INIT_CWD: dir, KHW_RECORD_MODULES: log },
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  const packages = new Set<string>();
  const urls = readFileSync(log, "utf8").split("\n");
  for (const url of urls) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*\/node_modules\/)/.exec(url);
    if (m) packages.add(m[1]!);
  }
  return { code: r.status, packages, urls };
}

describe("start-up: the libraries each command loads", () => {
  it("the recorder sees the libraries: `khw gen` loads node-forge but neither zod (the spec is valid) nor ssh2", () => {
    const { code, packages } = packagesLoaded(["gen"]);
    expect(code).toBe(0);
    expect(packages).toContain("node-forge");
    expect(packages).toContain("yaml");
    for (const lib of ["zod", "ssh2"]) expect(packages).not.toContain(lib);
    // --pki-only: the certificates, none of the renderers
    const renderers = ["systemd-units", "kubeconfig", "haproxy-config"].map((p) => `/packages/${p}/src/`);
    const full = packagesLoaded(["gen"]).urls;
    for (const r of renderers)
      expect(
        full.some((u) => u.includes(r)),
        r,
      ).toBe(true);
    const pkiOnly = packagesLoaded(["gen", "--pki-only"]);
    expect(pkiOnly.code).toBe(0);
    expect(pkiOnly.packages).toContain("node-forge");
    for (const lib of ["zod", "ssh2"]) expect(pkiOnly.packages).not.toContain(lib);
    for (const r of renderers)
      expect(
        pkiOnly.urls.some((u) => u.includes(r)),
        r,
      ).toBe(false);
  });

  it("`khw --version` loads no library; `khw validate` of a valid spec loads neither zod, nor node-forge, nor ssh2", () => {
    const version = packagesLoaded(["--version"]).packages;
    for (const lib of ["commander", "yaml", "zod", "node-forge", "ssh2", "picocolors"])
      expect(version).not.toContain(lib);
    writeFileSync(join(dir, "cluster.yaml"), renderClusterYaml(defaultClusterSpecInput()));
    const valid = packagesLoaded(["validate"]);
    expect(valid.code).toBe(0);
    for (const heavy of ["zod", "node-forge", "ssh2"]) expect(valid.packages).not.toContain(heavy);
    expect(valid.packages).toContain("yaml");
  });

  it("`khw validate` of an invalid spec loads zod, for its messages", () => {
    writeFileSync(join(dir, "cluster.yaml"), "nodes: []\n");
    const invalid = packagesLoaded(["validate"]);
    expect(invalid.code).toBe(3);
    expect(invalid.packages).toContain("zod");
  });
});

describe("start-up: the compile cache", () => {
  const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
  const hasCompileCache = major > 22 || (major === 22 && minor >= 1);

  it(`is kept under khw's cache root, or where NODE_COMPILE_CACHE says (Node ${process.versions.node}: ${hasCompileCache ? "has" : "has no"} module.enableCompileCache)`, () => {
    writeFileSync(join(dir, "cluster.yaml"), renderClusterYaml(defaultClusterSpecInput()));
    const entries = (d: string) => (existsSync(d) ? readdirSync(d, { recursive: true }).length : 0);
    expect(run(["validate"], { XDG_CACHE_HOME: join(dir, "xdg") })).toBe(0);
    expect(
      run(["validate"], { XDG_CACHE_HOME: join(dir, "xdg2"), NODE_COMPILE_CACHE: join(dir, "ncc") }),
    ).toBe(0);
    if (hasCompileCache) {
      expect(entries(join(dir, "xdg/khw/node-compile-cache"))).toBeGreaterThan(1);
      expect(entries(join(dir, "ncc"))).toBeGreaterThan(1);
      expect(existsSync(join(dir, "xdg2"))).toBe(false);
    } else {
      // Node 20: nothing to enable, nothing written.
      expect(existsSync(join(dir, "xdg"))).toBe(false);
      expect(existsSync(join(dir, "ncc"))).toBe(false);
    }
  });

  it("an unusable cache root leaves the cache off and khw working: a file, a path under /proc (where Node's recursive mkdir never returns)", () => {
    writeFileSync(join(dir, "cluster.yaml"), renderClusterYaml(defaultClusterSpecInput()));
    writeFileSync(join(dir, "a-file"), "");
    for (const root of [join(dir, "a-file"), "/proc", "/proc/no-such-dir"])
      expect(run(["validate"], { XDG_CACHE_HOME: root }), root).toBe(0);
  });
});
