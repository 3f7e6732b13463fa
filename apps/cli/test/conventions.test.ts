// kubectl/kubeadm conventions: -v=N verbosity everywhere, the real version, -o json|yaml on the read
// commands, completion scripts that the shells accept, examples in every --help, suggestions.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import pkg from "../package.json" with { type: "json" };
import { commandPath, EXAMPLES } from "../src/help-examples";
import type { Io } from "../src/io";
import { buildProgram, COMMANDS } from "../src/main";
import { khw, tempDir } from "./helpers";

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

const quietIo = (): Io => ({ cwd: dir, env: {}, stdout: () => {}, stderr: () => {}, isTTY: false });

function everyCommand(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(everyCommand)];
}

describe("-v, --v=N verbosity", () => {
  it("is a verbosity level on every command, not --version", async () => {
    const program = await buildProgram(quietIo());
    for (const cmd of everyCommand(program)) {
      const v = cmd.options.find((o) => o.short === "-v");
      expect(v?.long, commandPath(cmd) || "khw").toBe("--v");
    }
    // Before: `-v` anywhere printed 0.0.0 and did nothing.
    const list = await khw(dir, ["up", "-v=5", "--list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("preflight");
    expect(list.stdout).not.toMatch(/^\d+\.\d+\.\d+\s*$/);
    expect((await khw(dir, ["up", "--list", "--v=3"])).code).toBe(0);
    expect((await khw(dir, ["-v", "2", "up", "--list"])).code).toBe(0);
  });
  it("rejects a level that is not 0 … 10, and a -v without one", async () => {
    const bad = await khw(dir, ["up", "--list", "-v=loud"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("0 … 10");
    const none = await khw(dir, ["reset", "--yes", "-v"]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe("");
  });
});

describe("version", () => {
  it("--version and `khw version` print the package's version", async () => {
    expect((await khw(dir, ["--version"])).stdout.trim()).toBe(pkg.version);
    expect((await khw(dir, ["version"])).stdout.trim()).toBe(`khw ${pkg.version}`);
  });
  it("`khw version -o yaml|json` adds Node's and the pinned component versions", async () => {
    const y = parseYaml((await khw(dir, ["version", "-o", "yaml"])).stdout);
    const j = JSON.parse((await khw(dir, ["version", "-o", "json"])).stdout);
    expect(y).toEqual(j);
    expect(j.khw).toBe(pkg.version);
    expect(j.node).toBe(process.version);
    expect(j.components.kubernetes).toMatch(/^v1\.\d+\.\d+$/);
    expect(j.components.etcd).toMatch(/^v3\.\d+\.\d+$/);
    expect((await khw(dir, ["version", "-o", "xml"])).code).toBe(2);
  });
});

describe("-o json|yaml on the read commands", () => {
  it("up --list: the same phases as JSON and YAML", async () => {
    const j = JSON.parse((await khw(dir, ["up", "--list", "-o", "json"])).stdout);
    const y = parseYaml((await khw(dir, ["up", "--list", "-o", "yaml"])).stdout);
    const legacy = JSON.parse((await khw(dir, ["up", "--list", "--json"])).stdout);
    expect(y).toEqual(j);
    expect(legacy).toEqual(j);
    expect(j.map((p: { name: string }) => p.name)).toContain("etcd");
    expect(j.find((p: { name: string }) => p.name === "etcd").hosts).toEqual(["master-1", "master-2"]);
  });
  it("certs check-expiration -o yaml equals --json", async () => {
    expect((await khw(dir, ["gen"])).code).toBe(0);
    const j = await khw(dir, ["certs", "check-expiration", "--json"]);
    const y = await khw(dir, ["certs", "check-expiration", "-o", "yaml"]);
    expect(j.code).toBe(0);
    expect(y.code).toBe(0);
    expect({ ...parseYaml(y.stdout), now: 0 }).toEqual({ ...JSON.parse(j.stdout), now: 0 });
    expect((await khw(dir, ["certs", "check-expiration", "-o", "table"])).code).toBe(2);
  });
  it("status takes -o (a bad format is a usage error before any SSH)", async () => {
    const r = await khw(dir, ["status", "-o", "toml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("-o json or -o yaml");
  });
});

describe("help", () => {
  it("every command has examples in its --help", async () => {
    const program = await buildProgram(quietIo());
    for (const cmd of everyCommand(program)) {
      const path = commandPath(cmd);
      expect(EXAMPLES[path]?.length, `examples for 'khw ${path}'`).toBeGreaterThan(0);
      const r = await khw(dir, [...(path ? path.split(" ") : []), "--help"]);
      expect(r.code, path).toBe(0);
      expect(r.stdout, path).toContain("Examples:");
    }
  });
  it("loads only the module of the command on the line (start-up): none for --version", async () => {
    expect((await buildProgram(quietIo(), ["--version"])).commands).toHaveLength(0);
    expect(
      (await buildProgram(quietIo(), ["validate", "-f", "x.yaml"])).commands.map((c) => c.name()),
    ).toEqual(["validate"]);
    expect(
      (await buildProgram(quietIo(), ["-v", "3", "up", "--list"])).commands.map((c) => c.name()),
    ).toEqual(["up"]);
    expect((await buildProgram(quietIo(), ["status"])).commands.map((c) => c.name())).toContain("certs");
  });
  it("the lazy command table names exactly the commands the modules register", async () => {
    const program = await buildProgram(quietIo());
    expect(program.commands.map((c) => c.name()).sort()).toEqual(COMMANDS.flatMap((c) => c.names).sort());
  });
  it("an unknown flag suggests the nearest one; an unknown command the nearest command", async () => {
    const flag = await khw(dir, ["up", "--dryrun"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Did you mean --dry-run?");
    const sub = await khw(dir, ["validat"]);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain("Did you mean validate?");
  });
});

describe("init", () => {
  it("writes a versioned JSON Schema URL", async () => {
    expect((await khw(dir, ["init"])).code).toBe(0);
    const spec = JSON.parse(readFileSync(join(__dirname, "../../../packages/spec/package.json"), "utf8"));
    expect(readFileSync(join(dir, "cluster.yaml"), "utf8")).toContain(
      `$schema=https://unpkg.com/@khw/spec@${spec.version}/cluster.schema.json`,
    );
  });
  it("--vagrant writes the Vagrantfile next to cluster.yaml, and refuses to overwrite it", async () => {
    expect((await khw(dir, ["init", "--vagrant", "-o", "lab/cluster.yaml"])).code).toBe(0);
    const written = readFileSync(join(dir, "lab", "Vagrantfile"), "utf8");
    expect(written).toBe(readFileSync(join(__dirname, "../../../Vagrantfile"), "utf8"));
    writeFileSync(join(dir, "Vagrantfile"), "mine\n");
    const r = await khw(dir, ["init", "--vagrant"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Vagrantfile");
    expect(existsSync(join(dir, "cluster.yaml"))).toBe(false); // nothing half-written
    expect(readFileSync(join(dir, "Vagrantfile"), "utf8")).toBe("mine\n");
  });
});

describe("completion", () => {
  it("bash: the script loads in bash and completes commands, sub-commands and flags", async () => {
    const r = await khw(dir, ["completion", "bash"]);
    expect(r.code).toBe(0);
    writeFileSync(join(dir, "khw.bash"), r.stdout);
    const complete = (line: string) => {
      const words = line.split(" ");
      const out = spawnSync(
        "bash",
        [
          "-c",
          `source ${join(dir, "khw.bash")}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _khw; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { encoding: "utf8" },
      );
      expect(out.status, out.stderr).toBe(0);
      return out.stdout.split("\n").filter(Boolean);
    };
    expect(complete("khw va")).toEqual(["validate"]);
    expect(complete("khw certs ch")).toEqual(["check-expiration"]);
    expect(complete("khw up --dr")).toEqual(["--dry-run"]);
    expect(complete("khw lab s")).toEqual(expect.arrayContaining(["ssh", "status"]));
  });
  it("zsh and fish: the shells load the scripts; fish completes from it", async () => {
    for (const shell of ["zsh", "fish"] as const) {
      const has = spawnSync("sh", ["-c", `command -v ${shell}`]).status === 0;
      if (!has && process.env["CI"])
        throw new Error(`${shell} is not installed (.ci/apt-packages.txt lists it)`);
      const r = await khw(dir, ["completion", shell]);
      expect(r.code).toBe(0);
      if (!has) continue;
      const file = join(dir, `khw.${shell}`);
      writeFileSync(file, r.stdout);
      const load =
        shell === "zsh"
          ? spawnSync("zsh", ["-f", "-c", `autoload -U compinit && compinit -u -D; source ${file}`], {
              encoding: "utf8",
            })
          : spawnSync(
              "fish",
              ["--no-config", "-c", `source ${file}; complete -C 'khw va'; complete -C 'khw certs '`],
              {
                encoding: "utf8",
              },
            );
      expect(load.status, load.stderr).toBe(0);
      expect(load.stderr).toBe("");
      if (shell === "fish") {
        const words = load.stdout.split("\n").map((l) => l.split("\t")[0]);
        expect(words).toContain("validate");
        expect(words).toContain("check-expiration");
      }
    }
    expect((await khw(dir, ["completion", "tcsh"])).code).toBe(2);
  });
});
