import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KUBECONFIG_CATALOGUE } from "@khw/kubeconfig";
import { CA_ID, catalogueFromCluster } from "@khw/pki";
import {
  ADMIN_HOST,
  defaultClusterSpecInput,
  escapeControl,
  loadCluster,
  RESERVED_NODE_NAMES,
} from "@khw/spec";
import { BAD_SPECS } from "@khw/test-kit/bad-specs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { MAX_SPEC_BYTES } from "../src/spec-file";
import { envWithoutForceColor, khw, tempDir } from "./helpers";

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const dev = join(__dirname, "../../../scripts/khw-dev.mjs");
/** The real CLI in a child process (as `pnpm khw` runs it); a hang fails the test instead of blocking it. */
function real(args: string[]) {
  const r = spawnSync(process.execPath, [dev, ...args], {
    cwd: dir,
    env: { ...envWithoutForceColor(), NO_COLOR: "1", INIT_CWD: dir },
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

const validSpec = () => stringify(defaultClusterSpecInput());

describe("reserved node names = every id khw files things under", () => {
  it("lists the admin folder, every fixed certificate id and every kubeconfig id, and nothing else", () => {
    const { cluster } = loadCluster(defaultClusterSpecInput());
    const workers = new Set(cluster.workers.map((w) => w.name));
    const certIds = catalogueFromCluster(cluster)
      .map((c) => c.id)
      .filter((id) => !workers.has(id));
    expect(certIds).toContain(CA_ID);
    const expected = new Set([ADMIN_HOST, ...certIds, ...KUBECONFIG_CATALOGUE.map((k) => k.id)]);
    expect(new Set(Object.keys(RESERVED_NODE_NAMES))).toEqual(expected);
  });
});

describe("the bad-spec corpus through `khw validate` (exit code and the printed line)", () => {
  BAD_SPECS.forEach((c, n) => {
    it(`${c.name}: exit ${c.exit}`, async () => {
      writeFileSync(join(dir, "cluster.yaml"), c.yaml);
      const r = await khw(dir, ["validate"]);
      expect(r.code).toBe(c.exit);
      const line = `${c.path ? `${c.path}: ` : ""}${c.severity === "warning" ? "warning: " : ""}${c.message} (fix: ${c.hint})`;
      expect(r.stderr).toContain(escapeControl(line));
      expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      if (n % 5 === 0) {
        // The same problem as data.
        const j = await khw(dir, ["validate", "--json"]);
        expect(j.code).toBe(c.exit);
        const doc = JSON.parse(j.stdout);
        expect(doc.valid).toBe(c.exit === 0);
        expect(doc[c.severity === "error" ? "errors" : "warnings"]).toContainEqual(
          expect.objectContaining({ path: c.path, code: c.code, message: c.message, hint: c.hint }),
        );
      }
    });
  });
});

describe("khw validate: the file positionally or with -f, structured output", () => {
  it("accepts FILE positionally (the real binary), and refuses two different files", () => {
    writeFileSync(join(dir, "mine.yaml"), validSpec());
    const ok = real(["validate", "mine.yaml"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("mine.yaml is valid");
    expect(real(["validate", "-f", "mine.yaml", "mine.yaml"]).code).toBe(0);
    writeFileSync(join(dir, "other.yaml"), validSpec());
    const two = real(["validate", "mine.yaml", "-f", "other.yaml"]);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain("two spec files given: 'mine.yaml' and -f 'other.yaml'");
  });
  it("--json on an invalid spec prints the problems as data and exits 3 (the real binary)", () => {
    writeFileSync(
      join(dir, "cluster.yaml"),
      mutate((s) => {
        s.nodes[2].name = "ca";
        s.versions.kubernetes = "v1.29.9";
      }),
    );
    const r = real(["validate", "--json"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe("");
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ valid: false, file: "cluster.yaml", omittedErrors: 0 });
    expect(doc.errors.map((e: { path: string; code: string }) => [e.path, e.code])).toEqual([
      ["nodes[2].name", "reserved-name"],
      ["versions.kubernetes", "unsupported-version"],
    ]);
    expect(doc.errors[0].line).toBeGreaterThan(0);
    const same = real(["validate", "-o", "json"]);
    expect([same.code, JSON.parse(same.stdout)]).toEqual([3, doc]);
  });
  it("-o yaml on a valid spec prints a success document; an unknown format is a usage error", async () => {
    writeFileSync(join(dir, "cluster.yaml"), validSpec());
    const r = await khw(dir, ["validate", "-o", "yaml"]);
    expect(r.code).toBe(0);
    const doc = parse(r.stdout);
    expect(doc).toMatchObject({ valid: true, file: "cluster.yaml", errors: [], omittedErrors: 0 });
    expect(doc.warnings.map((w: { code: string }) => w.code)).toEqual(["even-etcd-members"]);
    expect(doc.summary).toContain("Cluster 'kubernetes-the-hard-way': 2 control planes");
    const bad = await khw(dir, ["validate", "-o", "xml"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("use -o json or -o yaml");
    expect((await khw(dir, ["validate", "--json", "-o", "yaml"])).code).toBe(2);
  });
  it("-o yaml keeps control characters escaped", async () => {
    writeFileSync(
      join(dir, "cluster.yaml"),
      mutate((s) => (s.nodes[2].name = "a\u001b]52;c;aGk=\u0007")),
    );
    const r = await khw(dir, ["validate", "-o", "yaml"]);
    expect(r.code).toBe(3);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(parse(r.stdout).errors[0].message).toContain("a\u001b]52;c;aGk=\u0007");
  });
});

describe("khw validate: bounded input", () => {
  it("refuses /dev/zero at once instead of reading without end (the real binary)", () => {
    const r = real(["validate", "-f", "/dev/zero"]);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "error: /dev/zero is a character device, not a regular file\n  fix: pass the path of a cluster spec file (cluster.yaml)\n",
    );
  });
  it("refuses a FIFO without waiting for a writer (the real binary)", () => {
    const mk = spawnSync("mkfifo", [join(dir, "pipe")]);
    expect(mk.status, "mkfifo (coreutils) is needed").toBe(0);
    const r = real(["validate", "pipe"]);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: pipe is a named pipe (FIFO), not a regular file");
  });
  it("refuses a directory, and a path through a file, as user errors", async () => {
    mkdirSync(join(dir, "d"));
    const d = await khw(dir, ["validate", "d"]);
    expect([d.code, d.stderr]).toEqual([
      1,
      "error: d is a directory, not a regular file\n  fix: pass the path of a cluster spec file (cluster.yaml)\n",
    ]);
    writeFileSync(join(dir, "f"), "x");
    const notDir = await khw(dir, ["validate", "f/cluster.yaml"]);
    expect(notDir.code).toBe(1);
    expect(notDir.stderr).not.toContain("internal error");
    expect(notDir.stderr).toContain("f/cluster.yaml");
  });
  it("an unreadable file is a user error with the path and the fix (the real binary, as an unprivileged user)", () => {
    writeFileSync(join(dir, "c.yaml"), validSpec());
    chmodSync(join(dir, "c.yaml"), 0o000);
    chmodSync(dir, 0o755);
    // root reads any file: drop to nobody with util-linux's setpriv.
    const asRoot = process.getuid?.() === 0;
    const cmd = asRoot
      ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", process.execPath]
      : [process.execPath];
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), dev, "validate", "c.yaml"], {
      cwd: dir,
      env: { ...envWithoutForceColor(), NO_COLOR: "1", INIT_CWD: dir },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.error, "setpriv (util-linux) is needed to test as an unprivileged user").toBeUndefined();
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "error: cannot read c.yaml: permission denied\n  fix: check the file's permissions, or run khw as a user who may read it\n",
    );
  });
  it("answers a 4 MB file of `a: [` lines with one clear error (the real binary)", () => {
    writeFileSync(join(dir, "big.yaml"), "a: [\n".repeat(800_000));
    const r = real(["validate", "big.yaml"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `error: big.yaml is larger than ${MAX_SPEC_BYTES} bytes (1 MiB), the most a cluster spec may hold\n  fix: pass the cluster spec (a few KiB); \`khw init\` writes one\n`,
    );
  });
  it("a file one byte over 1 MiB is refused, one at 1 MiB is read", async () => {
    const pad = (n: number) => `${validSpec()}#${"x".repeat(n - validSpec().length - 2)}\n`;
    writeFileSync(join(dir, "at.yaml"), pad(MAX_SPEC_BYTES));
    expect((await khw(dir, ["validate", "at.yaml"])).code).toBe(0);
    writeFileSync(join(dir, "over.yaml"), pad(MAX_SPEC_BYTES + 1));
    expect((await khw(dir, ["validate", "over.yaml"])).stderr).toContain("is larger than 1048576 bytes");
  });
  it("prints the first 50 problems and a count of the rest", async () => {
    writeFileSync(join(dir, "many.yaml"), "a: [\n".repeat(3000));
    const r = await khw(dir, ["validate", "many.yaml"]);
    expect(r.code).toBe(3);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe("error: many.yaml is invalid (5999 problems):");
    expect(lines).toHaveLength(1 + 50 + 1);
    expect(lines.at(-1)).toBe("… and 5949 more problems");
  });
  it("a document nested thousands deep gets one clear error (the real binary)", () => {
    writeFileSync(join(dir, "deep.yaml"), `nodes: ${"[".repeat(5000)}${"]".repeat(5000)}\n`);
    const r = real(["validate", "deep.yaml"]);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      "error: deep.yaml is invalid (1 problem):\ndeep.yaml: the document nests more than 64 levels deep (fix: a cluster spec nests a few levels deep; check the brackets and indentation)\n",
    );
  });
  it("a binary file is refused without its content", async () => {
    writeFileSync(
      join(dir, "key.der"),
      Buffer.from([0x30, 0x82, 0x01, 0x00, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74]),
    );
    const r = await khw(dir, ["validate", "key.der"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("key.der holds NUL bytes: it is a binary file, not YAML (content not shown)");
    expect(r.stderr).not.toContain("secret");
  });
});

describe("khw validate never echoes a secret", () => {
  it("pki/bootstrap-token, pki/encryption-key and pki/ca.key as written by `khw gen` (the real binary)", async () => {
    writeFileSync(
      join(dir, "cluster.yaml"),
      mutate((s) => (s.pki.keyAlgorithm = "ecdsa-p256")),
    );
    const gen = await khw(dir, ["gen"]);
    expect(gen.code, gen.stderr).toBe(0);
    for (const file of ["pki/bootstrap-token", "pki/encryption-key", "pki/ca.key", "pki/worker-1.key"]) {
      const secret = readFileSync(join(dir, file), "utf8");
      const r = real(["validate", "-f", file]);
      expect(r.code).toBe(3);
      const out = r.stdout + r.stderr;
      expect(out).toContain("not a mapping of cluster fields (content not shown)");
      // No 6-character piece of the secret's payload appears (the PEM armour lines aside).
      const payload = secret.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
      for (let i = 0; i + 6 <= payload.length; i += 3) expect(out).not.toContain(payload.slice(i, i + 6));
    }
  });
  it("an OSC 52 clipboard write in a node name is shown escaped (the real binary)", () => {
    writeFileSync(
      join(dir, "cluster.yaml"),
      mutate((s) => (s.nodes[0].name = "m\u001b]52;c;aGVsbG8=\u0007")),
    );
    const r = real(["validate"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      "nodes[0].name: the string 'm\\x1b]52;c;aGVsbG8=\\x07' must be a DNS-1123 label",
    );
    expect(r.stderr).not.toContain("\u001b");
    expect(r.stderr).not.toContain("\u0007");
  });
});

// biome-ignore lint/suspicious/noExplicitAny: tests write arbitrary shapes
function mutate(f: (s: any) => void): string {
  const s = structuredClone(defaultClusterSpecInput());
  f(s);
  return stringify(s);
}

describe("a file name with control characters", () => {
  it("is shown escaped in the header and every problem line", async () => {
    const name = "c\u001b]0;pwned\u0007.yaml";
    writeFileSync(join(dir, name), "nodes: 7\n");
    const r = await khw(dir, ["validate", name]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      "error: c\\x1b]0;pwned\\x07.yaml is invalid (1 problem):\n" +
        "c\\x1b]0;pwned\\x07.yaml:1:8 nodes: must be a list, not number 7 (fix: write a list here)\n",
    );
  });
});

describe("khw validate --json when the file cannot be read", () => {
  it("prints the reason as data and keeps exit 1", async () => {
    const r = await khw(dir, ["validate", "--json", "missing.yaml"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({
      valid: false,
      file: "missing.yaml",
      errors: [
        {
          path: "",
          code: "SPEC_NOT_FOUND",
          message: "missing.yaml does not exist",
          hint: "check the path of the spec file (given with -f, or as FILE to `khw validate`)",
          severity: "error",
        },
      ],
      omittedErrors: 0,
      warnings: [],
    });
  });
});

describe("the summary of a valid spec", () => {
  it("escapes control characters from free-form fields (a bundle directory)", async () => {
    writeFileSync(
      join(dir, "cluster.yaml"),
      mutate((s) => (s.binaries = { source: "bundle", bundleDir: "b\u001b]52;c;aGk=\u0007" })),
    );
    const r = await khw(dir, ["validate"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("binaries from b\\x1b]52;c;aGk=\\x07.");
    expect(r.stdout).not.toContain("\u001b");
  });
});
