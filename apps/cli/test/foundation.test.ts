import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clusterJsonSchema, defaultClusterSpec, parseClusterYaml } from "@khw/spec";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { envWithoutForceColor, khw, tempDir } from "./helpers";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

describe("khw init", () => {
  it("writes exactly the default spec, with comments", async () => {
    const r = await khw(dir, ["init"]);
    expect(r.code).toBe(0);
    const text = readFileSync(join(dir, "cluster.yaml"), "utf8");
    expect(text).toContain("# Every host.");
    expect(parseClusterYaml(text).spec).toEqual(defaultClusterSpec());
  });
  it("refuses to overwrite without --force, and overwrites with it", async () => {
    writeFileSync(join(dir, "cluster.yaml"), "mine\n");
    const r = await khw(dir, ["init"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cluster.yaml exists already");
    expect(r.stderr).toContain("--force");
    expect(readFileSync(join(dir, "cluster.yaml"), "utf8")).toBe("mine\n");
    expect((await khw(dir, ["init", "--force"])).code).toBe(0);
    expect(readFileSync(join(dir, "cluster.yaml"), "utf8")).toContain("master-1");
  });
  it("-o writes elsewhere", async () => {
    expect((await khw(dir, ["init", "-o", "sub/my.yaml"])).code).toBe(0);
    expect(readFileSync(join(dir, "sub/my.yaml"), "utf8")).toContain("worker-2");
  });
});

describe("khw validate", () => {
  it("summarises a valid spec in one paragraph and prints warnings on stderr", async () => {
    await khw(dir, ["init"]);
    const r = await khw(dir, ["validate"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("cluster.yaml is valid");
    expect(r.stdout).toContain("2 control planes (master-1 192.168.56.11, master-2 192.168.56.12)");
    expect(r.stdout).toContain("API 10.96.0.1, DNS 10.96.0.10");
    expect(r.stderr).toContain("warning: 2 etcd members");
  });
  it("exits 3 and lists every problem with line, column, field and fix", async () => {
    await khw(dir, ["init"]);
    const path = join(dir, "cluster.yaml");
    writeFileSync(
      path,
      readFileSync(path, "utf8")
        .replace("address: 192.168.56.22", "adress: 192.168.56.22")
        .replace("10.96.0.0/16", "10.96.0.0/33"),
    );
    const r = await khw(dir, ["validate"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /cluster\.yaml:\d+:\d+ nodes\[3\]\.adress: unknown key 'adress' \(fix: did you mean 'address'\?\)/,
    );
    expect(r.stderr).toMatch(/cluster\.yaml:\d+:\d+ nodes\[3\]\.address: is required/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });
  it("--json reports warnings as data", async () => {
    await khw(dir, ["init"]);
    const r = await khw(dir, ["validate", "--json"]);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: true, warnings: [{ code: "even-etcd-members" }] });
  });
  it("a missing spec says how to make one", async () => {
    const r = await khw(dir, ["validate"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("khw init");
  });
});

describe("khw schema, usage and exit codes", () => {
  it("prints the JSON Schema", async () => {
    const r = await khw(dir, ["schema"]);
    expect(JSON.parse(r.stdout)).toEqual(clusterJsonSchema());
  });
  it("unknown options and commands exit 2 with a pointer to --help", async () => {
    const a = await khw(dir, ["validate", "--bogus"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("unknown option '--bogus'");
    expect(a.stderr).toContain("khw validate --help");
    expect((await khw(dir, ["frobnicate"])).code).toBe(2);
  });
  it("--help on every command, --version", async () => {
    for (const cmd of [[], ["init"], ["validate"], ["schema"]]) {
      const r = await khw(dir, [...cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Usage: khw");
    }
    expect((await khw(dir, ["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("the real binary", () => {
  const dev = join(__dirname, "../../../scripts/khw-dev.mjs");
  it("runs from the repo with `pnpm khw`'s launcher, honours NO_COLOR and exit codes", () => {
    const ok = spawnSync(process.execPath, [dev, "init"], {
      cwd: dir,
      env: { ...envWithoutForceColor(), NO_COLOR: "1", INIT_CWD: dir },
    });
    expect(ok.status).toBe(0);
    writeFileSync(join(dir, "cluster.yaml"), "nodes: 7\n");
    const bad = spawnSync(process.execPath, [dev, "validate"], {
      cwd: dir,
      env: { ...envWithoutForceColor(), NO_COLOR: "1", INIT_CWD: dir },
      encoding: "utf8",
    });
    expect(bad.status).toBe(3);
    expect(bad.stderr).toContain("cluster.yaml:1:8 nodes: must be a list, not number 7");
    expect(bad.stderr).not.toContain("\u001b["); // NO_COLOR: no escape codes
  });
});
