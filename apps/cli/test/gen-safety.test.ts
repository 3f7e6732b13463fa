// khw gen against a hostile or broken file system: planted symbolic links, a planted index, temp files
// left by a killed run, Ctrl-C in the middle, and ordinary file errors. Real files and links in a temp
// dir; the signal and permission tests run the real CLI as its own process.
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  watch,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resetSeamsForTests } from "../src/workdir";
import { useFixedSeams } from "./golden/fixtures";
import { envWithoutForceColor, khw, tempDir } from "./helpers";

const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const LAUNCHER = join(REPO, "scripts/khw-dev.mjs");

/** Every path below `dir` (links not followed), relative. */
function walk(dir: string): string[] {
  const out: string[] = [];
  const go = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(relative(dir, p));
      if (e.isDirectory()) go(p);
    }
  };
  if (existsSync(dir)) go(dir);
  return out.sort();
}

const temps = (dir: string) => walk(dir).filter((p) => p.endsWith(".tmp"));

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  useFixedSeams();
});
afterEach(() => {
  resetSeamsForTests();
  cleanup();
});

describe("khw gen never follows a symbolic link under its output directory or pki/", () => {
  it("a planted out/.khw-gen.json plus a link deletes nothing outside out/: refused, naming the link", async () => {
    const victim = join(dir, "victim");
    mkdirSync(victim);
    writeFileSync(join(victim, "precious.txt"), "mine\n");
    mkdirSync(join(dir, "out"));
    symlinkSync(victim, join(dir, "out/evil"));
    writeFileSync(
      join(dir, "out/.khw-gen.json"),
      JSON.stringify({ files: ["evil/precious.txt", "/victim/precious.txt", "../victim/precious.txt"] }),
    );
    const r = await khw(dir, ["gen"]);
    expect(readFileSync(join(victim, "precious.txt"), "utf8")).toBe("mine\n");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, "out/evil")} is a symbolic link (to ${victim})`);
    expect(r.stderr).toContain("fix: remove the link");
    expect(r.stderr).not.toContain("internal error");
    // nothing written into out/ either: refused before the first byte
    expect(walk(join(dir, "out"))).toEqual([".khw-gen.json", "evil"]);
  });

  it("a link as the removed file itself: the target outside out/ is kept", async () => {
    writeFileSync(join(dir, "precious.txt"), "mine\n");
    mkdirSync(join(dir, "out"));
    symlinkSync(join(dir, "precious.txt"), join(dir, "out/old.conf"));
    writeFileSync(join(dir, "out/.khw-gen.json"), JSON.stringify({ files: ["old.conf"] }));
    const r = await khw(dir, ["gen"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, "out/old.conf")} is a symbolic link`);
    expect(readFileSync(join(dir, "precious.txt"), "utf8")).toBe("mine\n");
  });

  it("a symlinked host folder never receives ca.key (or anything)", async () => {
    const elsewhere = join(dir, "elsewhere");
    mkdirSync(elsewhere);
    mkdirSync(join(dir, "out"));
    symlinkSync(elsewhere, join(dir, "out/master-1"));
    const r = await khw(dir, ["gen"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, "out/master-1")} is a symbolic link (to ${elsewhere})`);
    expect(walk(elsewhere)).toEqual([]);
    // a link deeper down is found too, and removing it lets gen through
    const r2 = await khw(dir, ["gen", "-o", "out2"]);
    expect(r2.code, r2.stderr).toBe(0);
    const deep = join(dir, "out2/worker-1/var/lib/kubelet");
    const files = walk(deep);
    spawnSync("rm", ["-rf", deep]);
    symlinkSync(elsewhere, deep);
    const r3 = await khw(dir, ["gen", "-o", "out2"]);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toContain(`${deep} is a symbolic link`);
    expect(walk(elsewhere)).toEqual([]);
    spawnSync("rm", [deep]);
    expect((await khw(dir, ["gen", "-o", "out2"])).code).toBe(0);
    expect(walk(deep)).toEqual(files);
  });

  it("pki/ as a link, or a link inside it, is refused before any key is written through it", async () => {
    const elsewhere = join(dir, "elsewhere");
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(dir, "pki"));
    const r = await khw(dir, ["gen"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, "pki")} is a symbolic link (to ${elsewhere})`);
    expect(walk(elsewhere)).toEqual([]);
    spawnSync("rm", [join(dir, "pki")]);
    mkdirSync(join(dir, "pki"));
    symlinkSync(join(elsewhere, "stolen.key"), join(dir, "pki/ca.key"));
    const r2 = await khw(dir, ["gen"]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain(`${join(dir, "pki/ca.key")} is a symbolic link`);
    expect(walk(elsewhere)).toEqual([]);
  });
});

describe("temp files of khw gen", () => {
  it("the next run removes temp files a killed run left (only khw's own)", async () => {
    expect((await khw(dir, ["gen"])).code).toBe(0);
    const leftovers = [
      "pki/.kube-apiserver.key.0123456789ab.tmp",
      "out/master-1/var/lib/kubernetes/pki/.ca.key.a1b2c3d4e5f6.tmp",
      "out/.khw-gen.json.00112233aabb.tmp",
    ];
    for (const p of leftovers) writeFileSync(join(dir, p), "-----BEGIN PRIVATE KEY-----\n", { mode: 0o600 });
    writeFileSync(join(dir, "pki/.notes.tmp"), "not khw's\n");
    const r = await khw(dir, ["gen"]);
    expect(r.code, r.stderr).toBe(0);
    for (const p of leftovers) expect(existsSync(join(dir, p)), p).toBe(false);
    expect(readFileSync(join(dir, "pki/.notes.tmp"), "utf8")).toBe("not khw's\n");
  });

  it("Ctrl-C (SIGINT) while the real CLI writes keys leaves no temp file, and the process dies of the signal", async () => {
    // Fresh keys (the launcher has no test seams): the run writes pki/ for ~1 s. SIGINT goes out the
    // moment the first temp file appears in pki/, i.e. while a key is being written.
    mkdirSync(join(dir, "pki"));
    const child = spawn(process.execPath, [LAUNCHER, "gen"], {
      cwd: dir,
      env: { ...envWithoutForceColor(), NO_COLOR: "1", INIT_CWD: dir },
      stdio: "ignore",
    });
    let sent = false;
    const watcher = watch(join(dir, "pki"), (_event, name) => {
      if (!sent && name?.endsWith(".tmp")) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("exit", (code, signal) => resolve({ code, signal })),
    );
    watcher.close();
    expect(sent, "the CLI wrote no temp file in pki/").toBe(true);
    // Killed by the signal once the file being written is complete; a signal that lands after the
    // last write (a very late watcher on a loaded machine) lets the finished run exit 0.
    if (exit.signal !== null || exit.code !== 0) expect(exit.signal ?? exit.code).toBe("SIGINT");
    expect(temps(dir)).toEqual([]);
    // the next run completes the PKI from what is there
    const again = spawnSync(process.execPath, [LAUNCHER, "gen"], {
      cwd: dir,
      env: { ...envWithoutForceColor(), NO_COLOR: "1", INIT_CWD: dir },
      encoding: "utf8",
    });
    expect(again.status, again.stderr).toBe(0);
    for (const name of readdirSync(join(dir, "pki")).filter((n) => n.endsWith(".key")))
      expect(statSync(join(dir, "pki", name)).mode & 0o777, name).toBe(0o600);
  }, 120_000);
});

describe("ordinary file errors are user errors naming the path and the fix", () => {
  it("ENOTDIR: -o below a file", async () => {
    writeFileSync(join(dir, "afile"), "x");
    const r = await khw(dir, ["gen", "-o", "afile/out"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: cannot create the directory .*afile\/out: a part of the path is a file/);
    expect(r.stderr).toContain("fix:");
    expect(r.stderr).not.toContain("internal error");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a write that fails partway through pki/ changes none of its files and leaves no temp file", async () => {
    // The working directory's files are one batch: every temp file is written before any is renamed in.
    mkdirSync(join(dir, "pki", "kube-apiserver.crt"), { recursive: true });
    const r = await khw(dir, ["gen"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, "pki", "kube-apiserver.crt")} is a directory`);
    expect(r.stderr).toContain("fix:");
    expect(r.stderr).not.toContain("internal error");
    expect(walk(join(dir, "pki"))).toEqual(["kube-apiserver.crt"]);
    expect(temps(dir)).toEqual([]);
  });

  it("a file where khw needs a directory (pki/ is a file)", async () => {
    writeFileSync(join(dir, "pki"), "x");
    const r = await khw(dir, ["gen"]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("internal error");
    expect(r.stderr).toContain(join(dir, "pki"));
    expect(r.stderr).toContain("fix:");
  });

  it("EACCES: gen and init in a directory the user may not write (the real CLI as an unprivileged user)", () => {
    const ro = join(dir, "ro");
    mkdirSync(ro);
    chmodSync(dir, 0o755);
    chmodSync(ro, 0o555);
    // root may write anywhere: run as nobody then (root can), else as ourselves
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const canRun = spawnSync(
      process.execPath,
      ["-e", `require("fs").accessSync(${JSON.stringify(LAUNCHER)})`],
      {
        ...asUser,
      },
    );
    expect(
      canRun.status,
      `prerequisite: user nobody (65534) must be able to read ${REPO} to run the CLI`,
    ).toBe(0);
    for (const args of [["gen"], ["init"]]) {
      const r = spawnSync(process.execPath, [LAUNCHER, ...args], {
        cwd: ro,
        env: { ...envWithoutForceColor(), NO_COLOR: "1", INIT_CWD: ro, HOME: ro },
        encoding: "utf8",
        ...asUser,
      });
      expect(r.status, `${args}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(
        /error: cannot (write|create the directory) .*\/ro\/.*permission denied \(EACCES\)/,
      );
      expect(r.stderr).toContain("fix: check the owner and permissions");
      expect(r.stderr).not.toContain("internal error");
    }
  }, 120_000);
});
