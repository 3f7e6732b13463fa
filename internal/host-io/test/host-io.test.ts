import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as io from "../src/index";

const tmp = mkdtempSync(join(tmpdir(), "khw-host-io-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A pid that is certainly not running: a child that has exited and been reaped. */
function deadPid(): number {
  return Number(execFileSync("sh", ["-c", "sh -c 'echo $$'"], { encoding: "utf8" }).trim());
}

describe("khwCacheRoot", () => {
  it("honours XDG_CACHE_HOME, else $HOME/.cache", () => {
    expect(io.khwCacheRoot({ XDG_CACHE_HOME: "/x/cache", HOME: "/home/a" })).toBe("/x/cache/khw");
    expect(io.khwCacheRoot({ XDG_CACHE_HOME: "", HOME: "/home/a" })).toBe("/home/a/.cache/khw");
    expect(io.khwCacheRoot({ HOME: "/home/b" })).toBe("/home/b/.cache/khw");
  });
});

describe("writeFileAtomic", () => {
  it("creates parents, applies the mode, replaces the file and leaves no temp file", async () => {
    const file = join(tmp, "a", "b", "key.pem");
    await io.writeFileAtomic(file, "one", 0o600);
    expect(readFileSync(file, "utf8")).toBe("one");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    io.writeFileAtomicSync(file, Buffer.from("two"), 0o640);
    expect(readFileSync(file, "utf8")).toBe("two");
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readdirSync(join(tmp, "a", "b"))).toEqual(["key.pem"]);
  });
});

describe("acquirePidLock", () => {
  it("is exclusive, names its holder, and is taken over when the holder died", async () => {
    const lock = join(tmp, "locks", "x.lock");
    const release = await io.acquirePidLock(lock, { purpose: "test" });
    expect(io.readLockHolder(lock)).toEqual({ pid: process.pid, purpose: "test" });
    const waited: number[] = [];
    // held by this (live) process: a second taker waits, then times out
    expect(
      await io.acquirePidLock(lock, { timeoutMs: 300, pollMs: 50, onWait: (h) => waited.push(h.pid) }),
    ).toBe(undefined);
    expect(waited).toEqual([process.pid]);
    release?.();
    expect(existsSync(lock)).toBe(false);
    // a lock file left by a dead process (bare pid: the old format) is taken over
    writeFileSync(lock, `${deadPid()}\n`);
    const again = await io.acquirePidLock(lock, { timeoutMs: 2000 });
    expect(io.readLockHolder(lock)?.pid).toBe(process.pid);
    again?.();
  });

  it("serialises two processes", async () => {
    const lock = join(tmp, "locks", "y.lock");
    const script = `
      import { acquirePidLock } from ${JSON.stringify(join(__dirname, "../src/lock.ts"))};
      const release = await acquirePidLock(${JSON.stringify(lock)}, { pollMs: 20 });
      console.log("got");
      await new Promise((r) => setTimeout(r, 300));
      release();
    `;
    const release = await io.acquirePidLock(lock);
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(out).toBe(""); // still waiting
    release?.();
    await new Promise((r) => child.on("close", r));
    expect(out).toBe("got\n");
    expect(existsSync(lock)).toBe(false);
  });
});

describe("processes", () => {
  it("processAlive: this process, pid 1 (EPERM or not), a dead pid, nonsense", () => {
    expect(io.processAlive(process.pid)).toBe(true);
    expect(io.processAlive(deadPid())).toBe(false);
    expect(io.processAlive(0)).toBe(false);
    expect(io.processAlive(-5)).toBe(false);
  });

  it("processAlive: a zombie (exited, its parent not reaping it) is not alive, though signal 0 reaches it", async () => {
    // perl forks a child that exits at once and never waits for it: the child stays a zombie.
    // (Not `sh -c 'true & exec sleep'`: dash may reap the job before its exec when the machine is
    // loaded, which failed this test in CI; perl-base is Essential on Debian.)
    const parent = spawn(
      "perl",
      ["-e", '$| = 1; my $p = fork() // die "fork: $!"; exit 0 unless $p; print "$p\n"; sleep 30'],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    try {
      const pid = Number(
        await new Promise<string>((resolve) => parent.stdout.once("data", (d) => resolve(String(d)))),
      );
      let state = "";
      for (let i = 0; i < 250 && state !== "Z"; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      }
      expect(state).toBe("Z");
      expect(() => process.kill(pid, 0)).not.toThrow(); // what the old check relied on
      expect(io.processAlive(pid)).toBe(false);
      expect(io.processAlive(parent.pid!)).toBe(true);
    } finally {
      parent.kill("SIGKILL");
    }
  });

  it("run: collects output, feeds stdin, streams lines, reports the exit code and a message", async () => {
    const lines: string[] = [];
    const r = await io.run("sh", ["-c", "cat; echo err1 >&2; echo err2 >&2; exit 3"], {
      input: "in\n",
      onLine: (l) => lines.push(l),
    });
    expect(r).toMatchObject({ code: 3, signal: null, stdout: "in\n", stderr: "err1\nerr2\n" });
    expect(lines).toEqual(["err1", "err2"]);
    expect(io.failureMessage("sh", ["-c", "x"], r)).toBe('"sh -c x" failed (exit 3):\nerr1\nerr2');
    const killed = await io.run("sleep", ["10"], { timeoutMs: 100 });
    expect(killed.signal).toBe("SIGKILL");
    await expect(io.run("/nonexistent/program", [])).rejects.toThrow(/ENOENT/);
  });
});

describe("startPartial / commitPartial", () => {
  it("assembles beside the target, removes dead runs' partials, swaps in the new directory", async () => {
    const dir = join(tmp, "cache", "bundle");
    const stale = `${dir}.partial-${deadPid()}`;
    execFileSync("mkdir", ["-p", stale, dir]);
    writeFileSync(join(dir, "old"), "");
    const partial = await io.startPartial(dir);
    expect(partial).toBe(`${dir}.partial-${process.pid}`);
    expect(existsSync(stale)).toBe(false);
    writeFileSync(join(partial, "new"), "");
    await io.commitPartial(partial, dir);
    expect(readdirSync(dir)).toEqual(["new"]);
    expect(readdirSync(join(tmp, "cache"))).toEqual(["bundle"]);
  });
});

describe("shellQuote", () => {
  it("round-trips every awkward word through a real POSIX shell", () => {
    const words = ["plain", "", "a b", "it's", "$HOME", "`id`", "*", "new\nline", "--x=1", "é"];
    const out = execFileSync("sh", ["-c", `printf '%s\\0' ${io.shellJoin(words)}`]);
    expect(out.toString("utf8").split("\0").slice(0, -1)).toEqual(words);
    expect(io.shellQuote("a/b.c:d@e")).toBe("a/b.c:d@e");
    expect(() => io.shellQuote("a\0b")).toThrow(/NUL/);
  });
});

describe("parseReleaseVersion", () => {
  it("reads releases and pre-releases alike (v1.35.0-rc.1 is a version), refuses the rest", () => {
    expect(io.parseReleaseVersion("v1.34.4")).toEqual({ major: 1, minor: 34, patch: 4, pre: "" });
    expect(io.parseReleaseVersion("v1.35.0-rc.1")).toEqual({ major: 1, minor: 35, patch: 0, pre: "-rc.1" });
    expect(io.parseReleaseVersion("2.1.4")).toEqual({ major: 2, minor: 1, patch: 4, pre: "" });
    for (const bad of ["v1.34", "1.34.x", "v1.34.4+build", " v1.34.4", "latest", "v01.2.3"])
      expect(io.parseReleaseVersion(bad)).toBe(undefined);
  });
});

describe("sha256", () => {
  it("matches sha256sum", () => {
    const file = join(tmp, "h");
    writeFileSync(file, "abc");
    expect(io.sha256("abc")).toBe(execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0]);
  });
});
