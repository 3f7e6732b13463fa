// Against a real OpenSSH sshd on 127.0.0.1 (started and stopped here; see ./sshd.ts).

import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { prerequisiteSkip } from "@khw/test-kit/pinned";
import {
  type CutProxy,
  freePort,
  generateKey,
  type KeyPair,
  makeTempDir,
  run,
  type SshdHandle,
  startCutProxy,
  startDropServer,
  startSshd,
} from "@khw/test-kit/sshd";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type HostKeyEvent,
  type HostTarget,
  isRemoteExecError,
  type LogEntry,
  RemoteExecError,
  SshExecutor,
  secret,
} from "../src/index.js";

// locally the sudo tests skip without sudo; in CI (which installs it) its absence fails, naming it
const sudoSkip = prerequisiteSkip(
  existsSync("/usr/bin/sudo") ? [] : ["/usr/bin/sudo (Debian package sudo, .ci/apt-packages.txt)"],
);

let dir: string;
let key: KeyPair;
let otherKey: KeyPair;
let sshd: SshdHandle;
let knownHosts: string;
let root: HostTarget;
let vagrant: HostTarget;
let ex: SshExecutor;
const logs: LogEntry[] = [];

beforeAll(async () => {
  dir = await makeTempDir("khw-re-test-");
  key = await generateKey(dir, "client");
  otherKey = await generateKey(dir, "intruder");
  sshd = await startSshd({
    authorizedKeys: [key.publicKey],
    users: [{ name: "vagrant", sudo: true }, { name: "plain" }],
  });
  knownHosts = join(dir, "known_hosts");
  await writeFile(knownHosts, `${sshd.knownHostsLines().join("\n")}\n`);
  root = { name: "node-0", host: sshd.host, port: sshd.port, user: "root", identityFile: key.privateKeyPath };
  vagrant = { ...root, name: "node-0-vagrant", user: "vagrant" };
  ex = new SshExecutor({ knownHostsFile: knownHosts, logger: (e) => logs.push(e) });
});

afterAll(async () => {
  await ex?.close();
  await sshd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<RemoteExecError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof RemoteExecError)) throw new Error(`expected a RemoteExecError, got ${String(err)}`);
  return err;
}

describe("exec", () => {
  it("keeps stdout and stderr apart and returns the exit code", async () => {
    const r = await ex.exec(root, ["sh", "-c", "echo out; echo err >&2; exit 3"], { check: false });
    expect(r).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" });
  });

  it("throws COMMAND_FAILED with the exit code, the command and stderr by default", async () => {
    const err = await rejection(ex.exec(root, ["sh", "-c", "echo boom >&2; exit 42"]));
    expect(err.code).toBe("COMMAND_FAILED");
    expect(err.host).toBe("node-0");
    expect(err.message).toContain("[node-0]");
    expect(err.message).toContain("exited with code 42");
    expect(err.message).toContain("boom");
    expect(err.result?.code).toBe(42);
  });

  it("reports a signal death", async () => {
    const r = await ex.shell(root, "kill -TERM $$", { check: false });
    expect(r.code).toBeNull();
    expect(r.signal).toBe("SIGTERM");
  });

  it("passes every argv word through the remote shell unchanged", async () => {
    const nasty = [
      "a b",
      "$(touch /tmp/khw-pwned)",
      "`id`",
      "it's",
      '"q"',
      "*",
      "\\",
      "new\nline",
      "",
      "-n",
      "ü€",
    ];
    const r = await ex.exec(root, ["printf", "%s\\0", ...nasty]);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(nasty);
    expect(existsSync("/tmp/khw-pwned")).toBe(false);
  });

  it("passes env values safely and runs shell scripts with positional args", async () => {
    const r = await ex.exec(root, ["sh", "-c", 'printf "%s|%s" "$A" "$B"'], {
      env: { A: "x y $HOME", B: "'" },
    });
    expect(r.stdout).toBe("x y $HOME|'");
    const s = await ex.shell(root, 'echo "$1-$2"', { args: ["one", "two words"] });
    expect(s.stdout).toBe("one-two words\n");
  });

  it("feeds stdin and always closes it", async () => {
    expect((await ex.exec(root, ["cat"], { stdin: "hello\n" })).stdout).toBe("hello\n");
    expect((await ex.exec(root, ["cat"])).stdout).toBe("");
  });

  it("streams output to callbacks as it arrives", async () => {
    const chunks: string[] = [];
    const errs: string[] = [];
    const r = await ex.exec(
      root,
      ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.05; done; echo e >&2"],
      {
        onStdout: (c) => chunks.push(c),
        onStderr: (c) => errs.push(c),
      },
    );
    expect(chunks.join("")).toBe(r.stdout);
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(errs.join("")).toBe("e\n");
  });

  it("returns 10 MB of output intact", async () => {
    const r = await ex.exec(root, ["sh", "-c", "head -c 10485760 /dev/zero | tr '\\0' 'x'; echo done >&2"]);
    expect(r.stdout.length).toBe(10 * 1024 * 1024);
    expect(/^x+$/.test(r.stdout)).toBe(true);
    expect(r.stderr).toBe("done\n");
  });

  it("times out, kills the remote command and says so", async () => {
    const marker = `sleep 30.${process.pid}`;
    // a script with a child: the whole process group goes, not just the shell
    const err = await rejection(ex.shell(root, `${marker}; echo never`, { timeoutMs: 300 }));
    expect(err.code).toBe("TIMEOUT");
    expect(err.message).toContain("[node-0]");
    expect(err.message).toContain("300 ms");
    // the process is gone on the host (SIGKILL sent over SSH), and the connection still works
    const ps = await ex.exec(root, ["sh", "-c", `ps -eo args | grep -c '^${marker}' || true`]);
    expect(ps.stdout.trim()).toBe("0");
  });

  it("runs commands concurrently on one host beyond sshd's MaxSessions (bounded per connection)", async () => {
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => ex.exec(root, ["echo", String(i)])),
    );
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
  });

  it("never puts secret env values or argv words in errors or logs", async () => {
    const token = "s3cr3t-token-value";
    const err = await rejection(
      ex.exec(root, ["sh", "-c", 'test "$T" = nope', "x", secret(token)], { env: { T: secret(token) } }),
    );
    expect(err.message).not.toContain(token);
    expect(err.message).toContain("T=***");
    expect(JSON.stringify(logs)).not.toContain(token);
  });
});

describe.skipIf(sudoSkip !== undefined)(
  `sudo for a non-root user (vagrant)${sudoSkip ? ` — skipped: ${sudoSkip}` : ""}`,
  () => {
    it("runs as root through sudo -n, and directly without sudo", async () => {
      expect((await ex.exec(vagrant, ["id", "-un"], { sudo: true })).stdout).toBe("root\n");
      expect((await ex.exec(vagrant, ["id", "-un"])).stdout).toBe("vagrant\n");
    });

    it("uploads through sudo into a root-owned directory, atomically", async () => {
      const path = join(dir, "root-only", "sub", "config.yaml");
      await run("mkdir", ["-m", "0700", join(dir, "root-only")]);
      const first = await ex.upload(vagrant, {
        path,
        content: "a: 1\n",
        mode: 0o640,
        owner: "vagrant",
        sudo: true,
      });
      expect(first.changed).toBe(true);
      const st = await stat(path);
      expect(st.mode & 0o7777).toBe(0o640);
      expect(st.uid).toBe(4711);
      expect(await readFile(path, "utf8")).toBe("a: 1\n");
      const again = await ex.upload(vagrant, {
        path,
        content: "a: 1\n",
        mode: 0o640,
        owner: "vagrant",
        sudo: true,
      });
      expect(again.changed).toBe(false);
      // the staging file in the user's home is gone
      expect(readdirSync(sshd.home("vagrant")).filter((f) => f.startsWith(".khw-upload-"))).toEqual([]);
      expect((await ex.download(vagrant, path, { sudo: true })).toString()).toBe("a: 1\n");
    });

    it("explains a user without passwordless sudo", async () => {
      const plain: HostTarget = { ...root, name: "no-sudo-host", user: "plain" };
      const err = await rejection(ex.exec(plain, ["id"], { sudo: true }));
      expect(err.code).toBe("COMMAND_FAILED");
      expect(err.message).toContain("[no-sudo-host]");
      expect(err.hint).toContain("NOPASSWD");
      const up = await rejection(
        ex.upload(plain, { path: join(dir, "root-only", "y"), content: "y", sudo: true }),
      );
      expect(up.code).toBe("UPLOAD_FAILED");
      expect(up.hint).toContain("NOPASSWD");
    });

    it("a cut during a sudo upload leaves the destination alone; stale staging files are cleaned later", async () => {
      const proxy = await startCutProxy(sshd.host, sshd.port);
      const file = join(dir, "known_hosts_proxy4");
      await writeFile(
        file,
        sshd.hostPublicKeys.map((k) => `[127.0.0.1]:${proxy.port} ${k}`).join("\n") + "\n",
      );
      const e = new SshExecutor({ knownHostsFile: file, retry: { attempts: 1 } });
      const target: HostTarget = { ...vagrant, name: "cut-sudo", port: proxy.port };
      const path = join(dir, "root-only", "cut-sudo.bin");
      await writeFile(path, "old\n");
      try {
        await e.connect(target);
        proxy.onBytesUp(proxy.bytesUp() + 4 * 1024 * 1024, () => proxy.cut());
        const err = await rejection(
          e.upload(target, { path, content: Buffer.alloc(32 * 1024 * 1024, 2), sudo: true }),
        );
        expect(err.code).toBe("CONNECTION_LOST");
        expect(await readFile(path, "utf8")).toBe("old\n");
        const home = sshd.home("vagrant");
        const stale = readdirSync(home).filter((f) => f.startsWith(".khw-upload-"));
        expect(stale).toHaveLength(1); // the partial staging file, never moved into place
        // an hour later, the next sudo upload removes it
        await run("touch", ["-d", "2 hours ago", join(home, stale[0]!)]);
        await e.upload(target, { path, content: "new\n", sudo: true });
        expect(await readFile(path, "utf8")).toBe("new\n");
        expect(readdirSync(home).filter((f) => f.startsWith(".khw-upload-"))).toEqual([]);
      } finally {
        await e.close();
        await proxy.close();
      }
    });

    it("fails an upload without sudo with a hint", async () => {
      const err = await rejection(ex.upload(vagrant, { path: join(dir, "root-only", "x"), content: "x" }));
      expect(err.code).toBe("UPLOAD_FAILED");
      expect(err.hint).toContain("sudo");
    });
  },
);

describe("upload / download", () => {
  it("is atomic and idempotent: changed, then unchanged, then mode-only change", async () => {
    const path = join(dir, "files", "new", "kubelet.conf");
    const r1 = await ex.upload(root, { path, content: "one\n", mode: 0o600 });
    expect(r1).toEqual({ path, changed: true, size: 4 });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const r2 = await ex.upload(root, { path, content: "one\n", mode: 0o600 });
    expect(r2.changed).toBe(false);
    const inode = (await stat(path)).ino;
    const r3 = await ex.upload(root, { path, content: "one\n", mode: 0o644 });
    expect(r3.changed).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    expect((await stat(path)).ino).toBe(inode); // metadata only: not rewritten
    const r4 = await ex.upload(root, { path, content: "two\n", mode: 0o644 });
    expect(r4.changed).toBe(true);
    expect((await stat(path)).ino).not.toBe(inode); // replaced by rename
    expect(await readFile(path, "utf8")).toBe("two\n");
    // no temp files left next to it
    expect(readdirSync(join(dir, "files", "new"))).toEqual(["kubelet.conf"]);
  });

  it("uploads a local file and sets the owner and group", async () => {
    const local = join(dir, "local.bin");
    // bigger than the size up to which the local hash is computed eagerly
    const data = Buffer.alloc(9 * 1024 * 1024 + 17, 7);
    await writeFile(local, data);
    const path = join(dir, "files", "bin", "tool");
    const r = await ex.upload(root, { path, localFile: local, mode: 0o755, owner: "root", group: "root" });
    expect(r.changed).toBe(true);
    expect((await readFile(path)).equals(data)).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o755);
    expect((await ex.upload(root, { path, localFile: local, mode: 0o755 })).changed).toBe(false);
    // same size, one byte different: the hashes differ, the file is replaced
    data[data.length - 1] = 8;
    await writeFile(local, data);
    expect((await ex.upload(root, { path, localFile: local, mode: 0o755 })).changed).toBe(true);
    expect((await readFile(path)).equals(data)).toBe(true);
  });

  it("downloads, and reports a missing file as FILE_NOT_FOUND", async () => {
    const path = join(dir, "files", "dl.txt");
    await writeFile(path, "content\n");
    expect((await ex.download(root, path)).toString()).toBe("content\n");
    const err = await rejection(ex.download(root, join(dir, "nope")));
    expect(err.code).toBe("FILE_NOT_FOUND");
    expect(err.host).toBe("node-0");
  });

  it("rejects relative paths before connecting", async () => {
    const err = await rejection(ex.upload(root, { path: "relative/x", content: "x" }));
    expect(err.code).toBe("INVALID_ARGUMENT");
  });

  it("never logs upload contents", async () => {
    const content = "-----BEGIN PRIVATE KEY----- very secret";
    await ex.upload(root, { path: join(dir, "files", "key.pem"), content, mode: 0o600 });
    expect(JSON.stringify(logs)).not.toContain("very secret");
  });
});

describe("connection cut mid-upload", () => {
  let proxy: CutProxy;
  beforeAll(async () => {
    proxy = await startCutProxy(sshd.host, sshd.port);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it("leaves the old file intact and no partial file at the destination", async () => {
    const path = join(dir, "files", "cut", "big.bin");
    const old = Buffer.from("old content\n");
    await run("mkdir", ["-p", join(dir, "files", "cut")]);
    await writeFile(path, old);
    const target: HostTarget = { ...root, name: "cut-host", port: proxy.port };
    // the proxy forwards to the same sshd, which is known as [127.0.0.1]:<sshd port>
    await writeFile(
      join(dir, "known_hosts_proxy"),
      sshd.hostPublicKeys.map((k) => `[127.0.0.1]:${proxy.port} ${k}`).join("\n") + "\n",
    );
    const cutEx = new SshExecutor({ knownHostsFile: join(dir, "known_hosts_proxy"), retry: { attempts: 1 } });
    try {
      await cutEx.connect(target);
      proxy.onBytesUp(proxy.bytesUp() + 8 * 1024 * 1024, () => proxy.cut());
      const err = await rejection(cutEx.upload(target, { path, content: Buffer.alloc(64 * 1024 * 1024, 1) }));
      expect(err.code).toBe("CONNECTION_LOST");
      expect(err.host).toBe("cut-host");
      expect((await readFile(path)).equals(old)).toBe(true);
      // the next upload reconnects, cleans the abandoned temp file and succeeds
      const again = await cutEx.upload(target, { path, content: "new\n" });
      expect(again.changed).toBe(true);
      expect(await readFile(path, "utf8")).toBe("new\n");
      expect(readdirSync(join(dir, "files", "cut"))).toEqual(["big.bin"]);
    } finally {
      await cutEx.close();
    }
  });
});

describe("connection lost while a command runs", () => {
  it("reports CONNECTION_LOST and never runs the command again", async () => {
    const proxy = await startCutProxy(sshd.host, sshd.port);
    const file = join(dir, "known_hosts_proxy2");
    await writeFile(file, sshd.hostPublicKeys.map((k) => `[127.0.0.1]:${proxy.port} ${k}`).join("\n") + "\n");
    const e = new SshExecutor({ knownHostsFile: file });
    const target: HostTarget = { ...root, name: "flaky", port: proxy.port };
    const counter = join(dir, "ran-count");
    try {
      const started: string[] = [];
      const p = e.shell(target, 'echo ran >> "$1"; echo started; sleep 5', {
        args: [counter],
        onStdout: (c) => {
          started.push(c);
          proxy.cut();
        },
      });
      const err = await rejection(p);
      expect(err.code).toBe("CONNECTION_LOST");
      expect(err.host).toBe("flaky");
      expect(err.message).toContain("may or may not have completed");
      expect(started.join("")).toContain("started");
      // the executor reconnects for the next operation; the first command ran exactly once
      expect((await e.exec(target, ["cat", counter])).stdout).toBe("ran\n");
    } finally {
      await e.close();
      await proxy.close();
    }
  });
});

describe("keepalive", () => {
  it("notices a host that stopped answering and fails the running command instead of hanging", async () => {
    const proxy = await startCutProxy(sshd.host, sshd.port);
    const file = join(dir, "known_hosts_proxy3");
    await writeFile(file, sshd.hostPublicKeys.map((k) => `[127.0.0.1]:${proxy.port} ${k}`).join("\n") + "\n");
    const seen: LogEntry[] = [];
    const e = new SshExecutor({
      knownHostsFile: file,
      keepaliveIntervalMs: 200,
      keepaliveCountMax: 2,
      logger: (l) => seen.push(l),
    });
    const target: HostTarget = { ...root, name: "frozen", port: proxy.port };
    try {
      const p = e.shell(target, "echo started; sleep 30", { onStdout: () => proxy.freeze() });
      const err = await rejection(p);
      expect(err.code).toBe("CONNECTION_LOST");
      expect(err.host).toBe("frozen");
      expect(seen.some((l) => l.level === "warn" && l.message.includes("lost"))).toBe(true);
    } finally {
      await e.close();
      await proxy.close();
    }
  });
});

describe("authentication and host keys", () => {
  it("authenticates with an ssh-agent", async () => {
    const socket = join(dir, "agent.sock");
    const out = await run("ssh-agent", ["-a", socket, "-s"]);
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1]);
    try {
      await new Promise<void>((resolve, reject) =>
        execFile("ssh-add", ["-q", key.privateKeyPath], { env: { SSH_AUTH_SOCK: socket } }, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
      const e = new SshExecutor({ knownHostsFile: knownHosts });
      try {
        const viaAgent: HostTarget = {
          name: "agent-host",
          host: sshd.host,
          port: sshd.port,
          user: "root",
          agent: socket,
        };
        expect((await e.exec(viaAgent, ["echo", "agent"])).stdout).toBe("agent\n");
      } finally {
        await e.close();
      }
    } finally {
      if (pid > 0) process.kill(pid, "SIGTERM");
    }
  });

  it("no credentials → INVALID_ARGUMENT before connecting", async () => {
    const e = new SshExecutor({ knownHostsFile: knownHosts });
    try {
      const err = await rejection(
        e.connect({ name: "nokey", host: sshd.host, port: sshd.port, user: "root" }),
      );
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toContain("[nokey]");
    } finally {
      await e.close();
    }
  });

  it("wrong key → AUTH_FAILED naming the host", async () => {
    const e = new SshExecutor({ knownHostsFile: knownHosts });
    try {
      const err = await rejection(
        e.exec({ ...root, name: "bad-key-host", identityFile: otherKey.privateKeyPath }, ["true"]),
      );
      expect(err.code).toBe("AUTH_FAILED");
      expect(err.host).toBe("bad-key-host");
      expect(err.message).toContain("[bad-key-host]");
      expect(err.message).toContain(otherKey.privateKeyPath);
      expect(err.message).not.toContain(otherKey.privateKey.split("\n")[1]!);
      expect(err.hint).toContain("authorized_keys");
    } finally {
      await e.close();
    }
  });

  it("unknown host key under strict → HOST_KEY_UNKNOWN with the SHA256 fingerprint and the fix", async () => {
    const empty = join(dir, "known_hosts_empty");
    const e = new SshExecutor({ knownHostsFile: empty });
    try {
      const err = await rejection(e.connect(root));
      expect(err.code).toBe("HOST_KEY_UNKNOWN");
      expect(err.host).toBe("node-0");
      expect(err.fingerprint).toBe(sshd.hostFingerprints[0]);
      expect(err.message).toContain(sshd.hostFingerprints[0]!);
      expect(err.hint).toContain("ssh-keyscan");
      expect(err.hint).toContain("accept-new");
      expect(existsSync(empty)).toBe(false);
    } finally {
      await e.close();
    }
  });

  it("accept-new records the key (hashed if asked), then strict accepts it", async () => {
    const file = join(dir, "ssh", "known_hosts_new");
    const seen: LogEntry[] = [];
    const e = new SshExecutor({
      knownHostsFile: file,
      hostKeyChecking: "accept-new",
      hashKnownHosts: true,
      logger: (l) => seen.push(l),
    });
    try {
      await e.connect(root);
    } finally {
      await e.close();
    }
    const text = await readFile(file, "utf8");
    expect(text).toMatch(/^\|1\|[^ ]+ ssh-ed25519 AAAA/);
    expect(seen.some((l) => l.level === "info" && l.message.includes(sshd.hostFingerprints[0]!))).toBe(true);
    // OpenSSH's own tooling finds the hashed entry
    const found = await run("ssh-keygen", ["-F", `[127.0.0.1]:${sshd.port}`, "-f", file]);
    expect(found).toContain("ssh-ed25519");
    const strict = new SshExecutor({ knownHostsFile: file });
    try {
      expect((await strict.exec(root, ["echo", "ok"])).stdout).toBe("ok\n");
    } finally {
      await strict.close();
    }
  });

  it("accept-new tells which key it recorded (host, type, fingerprint, file:line); a dry run records none", async () => {
    const file = join(dir, "known_hosts_told");
    await writeFile(file, "# two lines\n# before\n");
    const told: HostKeyEvent[] = [];
    const e = new SshExecutor({
      knownHostsFile: file,
      hostKeyChecking: "accept-new",
      onHostKey: (x) => told.push(x),
    });
    try {
      await e.connect(root);
      await e.exec(root, ["true"]);
    } finally {
      await e.close();
    }
    expect(told).toEqual([
      {
        kind: "recorded",
        host: "node-0",
        knownHostsName: `[127.0.0.1]:${sshd.port}`,
        keyType: "ED25519",
        fingerprint: sshd.hostFingerprints[0],
        file,
        line: 3,
      },
    ]);
    expect((await readFile(file, "utf8")).split("\n")[2]).toContain(sshd.hostPublicKeys[0]!.split(" ")[1]!);

    // recordNewHostKeys: false (khw up --dry-run): connects, says so, writes nothing
    const untouched = join(dir, "known_hosts_dry");
    await writeFile(untouched, "# nothing yet\n");
    const dry: HostKeyEvent[] = [];
    const d = new SshExecutor({
      knownHostsFile: untouched,
      hostKeyChecking: "accept-new",
      recordNewHostKeys: false,
      onHostKey: (x) => dry.push(x),
    });
    try {
      expect((await d.exec(root, ["echo", "read-only"])).stdout).toBe("read-only\n");
    } finally {
      await d.close();
    }
    expect(dry.map((x) => `${x.kind} ${x.host} ${x.fingerprint}`)).toEqual([
      `not-recorded node-0 ${sshd.hostFingerprints[0]}`,
    ]);
    expect(await readFile(untouched, "utf8")).toBe("# nothing yet\n");
  });

  it("changed host key → HOST_KEY_CHANGED, also under accept-new", async () => {
    const other = await generateKey(dir, "other_host_key");
    const file = join(dir, "known_hosts_changed");
    await writeFile(file, `# comment\n[127.0.0.1]:${sshd.port} ${other.publicKey}\n`);
    for (const mode of ["strict", "accept-new"] as const) {
      const e = new SshExecutor({ knownHostsFile: file, hostKeyChecking: mode });
      try {
        const err = await rejection(e.connect(root));
        expect(err.code).toBe("HOST_KEY_CHANGED");
        expect(err.message).toContain(`${file}:2`);
        expect(err.message).toContain(other.fingerprint);
        expect(err.message).toContain(sshd.hostFingerprints[0]!);
        expect(err.hint).toContain("ssh-keygen -R");
      } finally {
        await e.close();
      }
    }
    expect(await readFile(file, "utf8")).not.toContain(sshd.hostPublicKeys[0]!);
  });

  it("insecure connects to anything and warns through the logger", async () => {
    const seen: LogEntry[] = [];
    const e = new SshExecutor({
      knownHostsFile: join(dir, "does-not-exist"),
      hostKeyChecking: "insecure",
      logger: (l) => seen.push(l),
    });
    try {
      await e.connect(root);
    } finally {
      await e.close();
    }
    expect(
      seen.some((l) => l.level === "warn" && l.host === "node-0" && /NOT verified/.test(l.message)),
    ).toBe(true);
  });

  it("insecure reports each host's unverified key once per executor (onHostKey)", async () => {
    const told: HostKeyEvent[] = [];
    const e = new SshExecutor({
      knownHostsFile: join(dir, "does-not-exist"),
      hostKeyChecking: "insecure",
      onHostKey: (x) => told.push(x),
    });
    try {
      await e.exec(root, ["true"]);
      await e.exec({ ...root, name: "node-0-again" }, ["true"]);
    } finally {
      await e.close();
    }
    expect(told.map((x) => `${x.kind} ${x.host} ${x.keyType} ${x.fingerprint}`)).toEqual([
      `not-verified node-0 ED25519 ${sshd.hostFingerprints[0]}`,
    ]);
    expect(existsSync(join(dir, "does-not-exist"))).toBe(false);
  });

  it("unreachable port → CONNECT_FAILED after the configured attempts, naming the host", async () => {
    const attempts: LogEntry[] = [];
    const e = new SshExecutor({
      knownHostsFile: knownHosts,
      retry: { attempts: 3, initialDelayMs: 1 },
      logger: (l) => attempts.push(l),
    });
    try {
      const err = await rejection(e.exec({ ...root, name: "down", port: 1 }, ["true"]));
      expect(err.code).toBe("CONNECT_FAILED");
      expect(err.message).toContain("[down]");
      expect(err.message).toContain("ECONNREFUSED");
      expect(attempts.filter((l) => l.level === "warn" && l.message.includes("retrying"))).toHaveLength(2);
    } finally {
      await e.close();
    }
  });

  it("a server that closes before the SSH banner → CONNECT_FAILED with a hint, retried, never an unhandled rejection", async () => {
    // (an unhandled rejection here fails this test: see fail-on-unhandled.ts)
    const drop = await startDropServer();
    const e = new SshExecutor({ knownHostsFile: knownHosts, retry: { attempts: 3, initialDelayMs: 1 } });
    try {
      const target = { ...root, name: "dropper", port: drop.port };
      for (const op of [
        () => e.connect(target),
        () => e.exec(target, ["true"]),
        () => e.shell(target, "true"),
        () => e.upload(target, { path: join(dir, "files", "never.txt"), content: "x" }),
        () => e.download(target, "/etc/hostname"),
      ]) {
        const err = await rejection(op());
        expect(err.code).toBe("CONNECT_FAILED");
        expect(err.message).toMatch(
          /^\[dropper\] root@127\.0\.0\.1:\d+: the connection was closed before the SSH handshake/,
        );
        expect(err.hint).toContain("MaxStartups");
      }
      expect(drop.connections()).toBe(15); // 5 operations × 3 attempts
      // the same executor still works for the other hosts
      expect((await e.exec(root, ["echo", "still here"])).stdout).toBe("still here\n");
    } finally {
      await e.close();
      await drop.close();
    }
  });

  it("retries connection establishment with backoff until the host appears", async () => {
    const port = await freePort();
    await writeFile(
      join(dir, "known_hosts_retry"),
      sshd.hostPublicKeys.map((k) => `[127.0.0.1]:${port} ${k}`).join("\n") + "\n",
    );
    const waits: number[] = [];
    let proxy: CutProxy | undefined;
    const e = new SshExecutor({
      knownHostsFile: join(dir, "known_hosts_retry"),
      retry: { attempts: 5, initialDelayMs: 100 },
      sleep: async (ms) => {
        waits.push(ms);
        // the "host" comes up after the second failed attempt
        if (waits.length === 2) proxy = await startCutProxy(sshd.host, sshd.port, port);
      },
    });
    try {
      expect((await e.exec({ ...root, name: "late", port }, ["echo", "up"])).stdout).toBe("up\n");
      expect(waits).toEqual([100, 200]);
    } finally {
      await e.close();
      await proxy?.close();
    }
  });

  it("reaches a host through a jump host (ssh -J), checking both host keys", async () => {
    const e = new SshExecutor({ knownHostsFile: knownHosts });
    try {
      const target: HostTarget = {
        ...root,
        name: "behind-bastion",
        jump: { host: sshd.host, port: sshd.port, user: "root", identityFile: key.privateKeyPath },
      };
      expect((await e.exec(target, ["echo", "via jump"])).stdout).toBe("via jump\n");
      const up = await e.upload(target, { path: join(dir, "files", "jump.txt"), content: "j" });
      expect(up.changed).toBe(true);
    } finally {
      await e.close();
    }
  });

  it("names the target host when its jump host fails", async () => {
    const e = new SshExecutor({ knownHostsFile: knownHosts });
    try {
      const target: HostTarget = {
        ...root,
        name: "behind-bad-bastion",
        jump: {
          name: "bastion",
          host: sshd.host,
          port: sshd.port,
          user: "root",
          identityFile: otherKey.privateKeyPath,
        },
      };
      const err = await rejection(e.exec(target, ["true"]));
      expect(err.code).toBe("AUTH_FAILED");
      expect(err.host).toBe("behind-bad-bastion");
      expect(err.message).toMatch(/^\[behind-bad-bastion\] via jump host bastion: /);
    } finally {
      await e.close();
    }
  });

  it("rejects operations after close with CLOSED", async () => {
    const e = new SshExecutor({ knownHostsFile: knownHosts });
    await e.exec(root, ["true"]);
    await e.close();
    const err = await rejection(e.exec(root, ["true"]));
    expect(isRemoteExecError(err, "CLOSED")).toBe(true);
  });
});
