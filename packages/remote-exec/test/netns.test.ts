// 20 hosts, each a real sshd in its own network namespace on a private bridge (see ./sshd.ts).
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createNetnsLab,
  generateKey,
  type KeyPair,
  makeTempDir,
  type NetnsLab,
  type SshdHandle,
  startSshd,
} from "@khw/test-kit/sshd";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allOk,
  FanOutError,
  fanOut,
  type HostTarget,
  isRemoteExecError,
  type RemoteExecError,
  SshExecutor,
} from "../src/index.js";

const HOSTS = 20;
let dir: string;
let key: KeyPair;
let lab: NetnsLab | undefined;
const sshds: SshdHandle[] = [];
let hosts: HostTarget[];
let knownHosts: string;

beforeAll(async () => {
  dir = await makeTempDir("khw-re-netns-");
  try {
    key = await generateKey(dir, "client");
    lab = await createNetnsLab(HOSTS);
    // one host key shared by all (a fresh one per host would add nothing but startup time)
    const hostKey = await generateKey(dir, "ssh_host_ed25519_key");
    // allSettled: every sshd that did start is tracked (and stopped) even if another one failed
    const started = await Promise.allSettled(
      lab.hosts.map((h, i) =>
        startSshd({
          authorizedKeys: [key.publicKey],
          dir: join(dir, `host-${i}`),
          netns: h.netns,
          address: h.address,
          hostKeys: [hostKey.privateKeyPath],
        }),
      ),
    );
    for (const r of started) if (r.status === "fulfilled") sshds.push(r.value);
    const failed = started.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    knownHosts = join(dir, "known_hosts");
    await writeFile(knownHosts, `${sshds.flatMap((s) => s.knownHostsLines()).join("\n")}\n`);
    hosts = lab.hosts.map((h, i) => ({
      name: `node-${i}`,
      host: h.address,
      user: "root",
      identityFile: key.privateKeyPath,
    }));
  } catch (err) {
    await cleanup();
    throw err;
  }
}, 120_000);

async function cleanup(): Promise<void> {
  for (const s of sshds.splice(0)) await s.stop();
  await lab?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
}

afterAll(cleanup, 60_000);

async function mkdirs(hostDirs: string[]): Promise<void> {
  const { mkdir } = await import("node:fs/promises");
  for (const d of hostDirs) await mkdir(d, { recursive: true });
}

describe("many hosts in network namespaces", () => {
  it("runs on 20 hosts in parallel, one connection each, each answering from its own namespace", async () => {
    const ex = new SshExecutor({ knownHostsFile: knownHosts });
    try {
      const results = await fanOut(
        hosts,
        async (h) => {
          const addr = await ex.exec(h, ["sh", "-c", "ip -4 -o addr show dev eth0 | awk '{print $4}'"]);
          const conn = await ex.exec(h, ["sh", "-c", 'echo "$SSH_CONNECTION"']);
          return { addr: addr.stdout.trim(), conn: conn.stdout.trim() };
        },
        { concurrency: HOSTS },
      );
      const values = allOk(results);
      expect(values).toHaveLength(HOSTS);
      values.forEach((v, i) => {
        expect(v.addr).toBe(`${lab!.hosts[i]!.address}/27`);
        // both commands came over the same connection (same client port)
        expect(v.conn.split(" ")[2]).toBe(lab!.hosts[i]!.address);
      });
      const ports = await Promise.all(
        hosts.map(
          async (h) => (await ex.exec(h, ["sh", "-c", 'echo "$SSH_CONNECTION"'])).stdout.split(" ")[1],
        ),
      );
      expect(ports).toEqual(values.map((v) => v.conn.split(" ")[1]));
    } finally {
      await ex.close();
    }
  });

  it("honours the concurrency bound", async () => {
    const ex = new SshExecutor({ knownHostsFile: knownHosts });
    let running = 0;
    let maxRunning = 0;
    try {
      const results = await fanOut(
        hosts,
        async (h) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          try {
            return (await ex.exec(h, ["sh", "-c", "sleep 0.2; hostname -I 2>/dev/null || true"])).code;
          } finally {
            running--;
          }
        },
        { concurrency: 4 },
      );
      expect(results.every((r) => r.ok)).toBe(true);
      expect(maxRunning).toBe(4);
    } finally {
      await ex.close();
    }
  });

  it("reports an unreachable host while the others succeed", async () => {
    const ex = new SshExecutor({
      knownHostsFile: knownHosts,
      connectTimeoutMs: 1500,
      retry: { attempts: 2, initialDelayMs: 10 },
    });
    const targets: HostTarget[] = [
      ...hosts.slice(0, 5),
      { name: "ghost", host: lab!.unusedAddress, user: "root", identityFile: key.privateKeyPath },
      ...hosts.slice(5, 10),
    ];
    try {
      const results = await fanOut(targets, (h) => ex.exec(h, ["true"]), { concurrency: 6 });
      expect(results.map((r) => r.host)).toEqual(targets.map((t) => t.name));
      const failed = results.filter((r) => !r.ok);
      expect(failed.map((r) => r.host)).toEqual(["ghost"]);
      const error = (failed[0] as { error: Error }).error;
      expect(isRemoteExecError(error)).toBe(true);
      expect(["CONNECT_FAILED", "TIMEOUT"]).toContain((error as RemoteExecError).code);
      expect(error.message).toContain("[ghost]");
      expect(error.message).toContain(lab!.unusedAddress);
      expect(results.filter((r) => r.ok)).toHaveLength(10);
      expect(() => allOk(results)).toThrow(FanOutError);
      expect(() => allOk(results)).toThrow(/1 of 11 host\(s\) failed:\n {2}- ghost: \[ghost\]/);
    } finally {
      await ex.close();
    }
  });

  it("uploads the same file to every host; a second run changes nothing", async () => {
    const ex = new SshExecutor({ knownHostsFile: knownHosts });
    // the namespaces share this machine's filesystem: one path per host
    const paths = hosts.map((_, i) => join(dir, `host-${i}`, "etc", "khw", "config"));
    await mkdirs(paths.map((p) => join(p, "..")));
    try {
      const first = allOk(
        await fanOut(hosts, (h, i) => ex.upload(h, { path: paths[i]!, content: `node ${i}\n` }), {
          concurrency: 8,
        }),
      );
      expect(first.every((r) => r.changed)).toBe(true);
      const second = allOk(
        await fanOut(hosts, (h, i) => ex.upload(h, { path: paths[i]!, content: `node ${i}\n` }), {
          concurrency: 8,
        }),
      );
      expect(second.every((r) => !r.changed)).toBe(true);
    } finally {
      await ex.close();
    }
  });

  it("reaches namespace hosts through a jump host", async () => {
    const ex = new SshExecutor({ knownHostsFile: knownHosts });
    const bastion = hosts[0]!;
    try {
      const behind = hosts.slice(1, 4).map((h) => ({ ...h, jump: { ...bastion } }));
      const results = allOk(await fanOut(behind, (h) => ex.exec(h, ["sh", "-c", 'echo "$SSH_CONNECTION"'])));
      // the connection arrives from the bastion's address, not from the bridge
      for (const r of results) expect(r.stdout.split(" ")[0]).toBe(bastion.host);
    } finally {
      await ex.close();
    }
  });

  it("keeps one host's failure to itself with failFast off, and skips the rest with failFast on", async () => {
    const ex = new SshExecutor({ knownHostsFile: knownHosts });
    try {
      const script = (i: number): string[] => ["sh", "-c", i === 2 ? "exit 7" : "true"];
      const all = await fanOut(hosts.slice(0, 6), (h, i) => ex.exec(h, script(i)), { concurrency: 1 });
      expect(all.map((r) => r.ok)).toEqual([true, true, false, true, true, true]);
      const fast = await fanOut(hosts.slice(0, 6), (h, i) => ex.exec(h, script(i)), {
        concurrency: 1,
        failFast: true,
      });
      expect(fast.map((r) => r.ok)).toEqual([true, true, false, false, false, false]);
      expect(fast.slice(3).every((r) => !r.ok && isRemoteExecError(r.error, "SKIPPED"))).toBe(true);
      expect(!fast[2]!.ok && isRemoteExecError(fast[2]!.error, "COMMAND_FAILED")).toBe(true);
    } finally {
      await ex.close();
    }
  });
});
