// `khw up` against real OpenSSH servers in network namespaces: preflight's real checks, real SFTP
// uploads (atomic, idempotent), --dry-run diffs, and the binary install script with real tar/cmp/install.
// The hosts' /etc, /var, /opt, /usr/local are private overlays (see @khw/test-kit/sandbox-sshd); no systemd.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fingerprintSha256, type HostTarget, SshExecutor } from "@khw/remote-exec";
import { binaryArtifacts, loadCluster, parseClusterYaml } from "@khw/spec";
import {
  createSandboxLab,
  type SandboxLab,
  type SandboxSshd,
  startSandboxSshd,
} from "@khw/test-kit/sandbox-sshd";
import { generateKey, startCutProxy, startDropServer } from "@khw/test-kit/sshd";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installedCheckScript, installScript, remoteCachePath } from "../src/up/binaries";
import { resetSeamsForTests } from "../src/workdir";
import { makeFakeBundle } from "./golden/fake-hosts";
import { useFixedSeams } from "./golden/fixtures";
import { khw, tempDir } from "./helpers";

let lab: SandboxLab;
const sshds: SandboxSshd[] = [];
let work: { dir: string; cleanup: () => void };
let keyPath: string;
let ssh: SshExecutor;
const env = () => ({ XDG_CACHE_HOME: join(work.dir, "cache"), HOME: work.dir });
const NAMES = ["master-1", "worker-1", "lb"];

function spec(): string {
  const [m, w, l] = lab.hosts.map((h) => h.address);
  return `apiVersion: khw/v1alpha1
kind: Cluster
name: sandbox
nodes:
  - { name: master-1, role: controlplane, address: ${m}, ssh: { user: root, identityFile: id_ed25519 } }
  - { name: worker-1, role: worker, address: ${w}, ssh: { user: khw, identityFile: id_ed25519 } }
  - { name: lb, role: loadbalancer, address: ${l}, ssh: { user: root, identityFile: id_ed25519 } }
binaries: { source: bundle, bundleDir: bundle }
`;
}

const target = (i: number): HostTarget => ({
  name: NAMES[i]!,
  host: lab.hosts[i]!.address,
  user: i === 1 ? "khw" : "root",
  identityFile: keyPath,
});

beforeAll(async () => {
  work = tempDir();
  lab = await createSandboxLab(3);
  const key = await generateKey(work.dir, "id_ed25519");
  keyPath = key.privateKeyPath;
  for (const [i, h] of lab.hosts.entries()) {
    sshds.push(
      await startSandboxSshd({
        netns: h.netns,
        address: h.address,
        authorizedKey: key.publicKey,
        ...(i === 1 ? { sudoUser: "khw", plainUser: "nosudo" } : {}),
      }),
    );
  }
  writeFileSync(join(work.dir, "cluster.yaml"), spec());
  ssh = new SshExecutor({ hostKeyChecking: "insecure" });
  useFixedSeams();
}, 600_000); // may wait for another test file's sandbox lab (machine-wide lock on the /27)

afterAll(async () => {
  resetSeamsForTests();
  await ssh?.close();
  for (const s of sshds) await s.stop();
  await lab?.destroy();
  work?.cleanup();
});

describe("khw up against real sshd hosts", () => {
  it("preflight's verdict matches the hosts (sudo for a non-root user, addresses, routes, ports, clocks, modules)", async () => {
    const r = await khw(work.dir, ["up", "--only", "preflight"], env());
    // These hosts share this machine's kernel: br_netfilter is there or it is not, and preflight must say which.
    const brNetfilter =
      existsSync("/sys/module/br_netfilter") ||
      existsSync("/proc/sys/net/bridge/bridge-nf-call-iptables") ||
      spawnSync("sh", ["-c", "modprobe -n -q br_netfilter"], { stdio: "ignore" }).status === 0;
    if (brNetfilter) {
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain("[preflight] ✓ 0 changes");
    } else {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        "worker-1: kernel-modules: kernel module br_netfilter is neither loaded nor available",
      );
      // and nothing else is wrong with these hosts
      expect(r.stderr.match(/^ {2}\S+: [a-z-]+: /gm)).toEqual(["  worker-1: kernel-modules: "]);
    }
    // the host key was recorded (accept-new)
    expect(readFileSync(join(work.dir, "known_hosts"), "utf8")).toContain(lab.hosts[0]!.address);
  });

  it("preflight names a port held by another process", async () => {
    const holder: ChildProcess = spawn(
      "ip",
      [
        "netns",
        "exec",
        lab.hosts[0]!.netns,
        process.execPath,
        "-e",
        "require('net').createServer().listen(2379, '0.0.0.0', () => console.log('listening'))",
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on("data", (d: Buffer) => d.toString().includes("listening") && resolve());
        holder.on("exit", (code) => reject(new Error(`port holder exited ${code}`)));
      });
      const r = await khw(work.dir, ["up", "--only", "preflight"], env());
      expect(r.code).toBe(1);
      // (node 20 shows as `node`, node 24 as `MainThread`: ss names the thread)
      expect(r.stderr).toMatch(
        /master-1: ports: port 2379 is already in use by (node|MainThread) \(0\.0\.0\.0:2379\)/,
      );
      expect(r.stderr).toContain("fix: stop that process");
    } finally {
      const exited = new Promise((r) => holder.once("exit", r));
      holder.kill("SIGKILL");
      await exited;
    }
  });

  it("preflight: a user without sudo and an unreachable host are named, each with a fix", {
    timeout: 90_000,
  }, async () => {
    const other = tempDir();
    try {
      const text = spec()
        .replace("user: khw,", "user: nosudo,")
        .replace(`address: ${lab.hosts[2]!.address}`, `address: ${lab.unusedAddress}`)
        .replace("identityFile: id_ed25519", `identityFile: ${keyPath}`)
        .replaceAll("identityFile: id_ed25519", `identityFile: ${keyPath}`);
      writeFileSync(join(other.dir, "cluster.yaml"), text);
      const r = await khw(other.dir, ["up", "--only", "preflight"], env());
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/worker-1: failed: .*sudo/);
      expect(r.stderr).toContain("passwordless sudo");
      expect(r.stderr).toMatch(/lb: failed: .*(connect|timed out|TIMEOUT|unreachable)/i);
    } finally {
      other.cleanup();
    }
  });

  it("uploads pki, kubeconfigs and encryption config atomically with modes; a second run changes nothing", async () => {
    const r = await khw(work.dir, ["up", "--only", "pki,kubeconfigs,encryption"], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/✓ \d+ change\(s\): pki \d+, kubeconfigs \d+, encryption 1/);
    const ca = await ssh.download(target(1), "/var/lib/kubernetes/pki/ca.crt", { sudo: true });
    expect(ca.toString()).toBe(readFileSync(join(work.dir, "pki/ca.crt"), "utf8"));
    const modes = await ssh.exec(
      target(0),
      [
        "stat",
        "-c",
        "%a %U %n",
        "/var/lib/kubernetes/pki/ca.key",
        "/etc/etcd/etcd-server.key",
        "/var/lib/kubernetes/encryption-config.yaml",
        "/etc/etcd/ca.crt",
      ],
      { sudo: true },
    );
    expect(modes.stdout.trim().split("\n")).toEqual([
      "600 root /var/lib/kubernetes/pki/ca.key",
      "600 root /etc/etcd/etcd-server.key",
      "600 root /var/lib/kubernetes/encryption-config.yaml",
      "644 root /etc/etcd/ca.crt",
    ]);
    // uploaded as root for the sudo user too
    const owner = await ssh.exec(target(1), ["stat", "-c", "%a %U", "/var/lib/kubernetes/pki/worker-1.key"]);
    expect(owner.stdout.trim()).toBe("600 root");
    // the CA key never reaches the worker
    const w = await ssh.exec(target(1), ["ls", "/var/lib/kubernetes/pki"], { sudo: true });
    expect(w.stdout.split("\n").sort().filter(Boolean)).toEqual([
      "ca.crt",
      "kube-proxy.crt",
      "kube-proxy.key",
      "worker-1.crt",
      "worker-1.key",
    ]);
    const again = await khw(work.dir, ["up", "--only", "pki,kubeconfigs,encryption"], env());
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("converged: no changes");
  });

  it("--dry-run shows a diff for a changed text file, none for a secret, and changes nothing", async () => {
    await ssh.exec(
      target(0),
      [
        "sh",
        "-c",
        "echo tampered >> /var/lib/kubernetes/kube-scheduler.kubeconfig; echo x > /var/lib/kubernetes/pki/ca.key",
      ],
      { sudo: true },
    );
    const r = await khw(work.dir, ["up", "--dry-run", "--only", "pki,kubeconfigs"], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("master-1: 2 change(s)");
    expect(r.stdout).toContain("[kubeconfigs] update /var/lib/kubernetes/kube-scheduler.kubeconfig");
    expect(r.stdout).toMatch(/^ +-tampered$/m);
    expect(r.stdout).toContain("[pki] update /var/lib/kubernetes/pki/ca.key (mode 600)");
    expect(r.stdout).not.toContain("PRIVATE KEY");
    const still = await ssh.exec(target(0), ["cat", "/var/lib/kubernetes/pki/ca.key"], { sudo: true });
    expect(still.stdout).toBe("x\n");
    // the real run repairs exactly those two files, and owes the restarts of their services
    const fix = await khw(work.dir, ["up", "--only", "pki,kubeconfigs"], env());
    expect(fix.code, fix.stderr).toBe(0);
    expect(fix.stdout).toContain("✓ 2 change(s): pki 1, kubeconfigs 1");
    expect(fix.stdout).toMatch(
      /pending on master-1: .*restart kube-controller-manager, restart kube-scheduler/,
    );
  });

  it("installs release files with the real tar/cmp/install, replacing only what differs", async () => {
    const cluster = loadCluster({
      nodes: [{ name: "m", role: "controlplane", address: "10.1.1.1" }],
    }).cluster;
    const bundle = join(work.dir, "bundle2");
    mkdirSync(bundle, { recursive: true });
    makeFakeBundle(cluster, bundle);
    const etcd = binaryArtifacts(cluster).find((a) => a.id === "etcd")!;
    const run = async () => {
      await ssh.upload(target(1), {
        path: remoteCachePath(etcd),
        content: readFileSync(join(bundle, etcd.path)),
        sudo: true,
      });
      const { script, args } = installScript(etcd, sha);
      return (await ssh.shell(target(1), script, { sudo: true, args: [remoteCachePath(etcd), ...args] }))
        .stdout;
    };
    const sha = createHash("sha256")
      .update(readFileSync(join(bundle, etcd.path)))
      .digest("hex");
    const recorded = async (digest = sha) => {
      const { script, args } = installedCheckScript(etcd, digest);
      return (await ssh.shell(target(1), script, { sudo: true, args })).stdout.trim();
    };
    expect(await recorded()).toBe("");
    expect((await run()).trim().split("\n")).toEqual([
      "changed /usr/local/bin/etcd",
      "changed /usr/local/bin/etcdctl",
      "changed /usr/local/bin/etcdutl",
    ]);
    // the host's record: a re-run compares stat, not bytes
    expect(await recorded()).toBe(`installed ${sha}`);
    expect(await recorded("0".repeat(64))).toBe("");
    expect(await run()).toBe("");
    const out = await ssh.exec(target(1), ["/usr/local/bin/etcdctl"]);
    expect(out.stdout).toContain("fake");
    // a file replaced by someone else no longer matches the record; the install puts it back
    await ssh.shell(
      target(1),
      "cp /bin/true /usr/local/bin/etcdutl.x && mv -f /usr/local/bin/etcdutl.x /usr/local/bin/etcdutl",
      { sudo: true },
    );
    expect(await recorded()).toBe("");
    expect((await run()).trim()).toBe("changed /usr/local/bin/etcdutl");
    expect(await recorded()).toBe(`installed ${sha}`);
  });
});

describe("SSH failures and host keys, as a user sees them", () => {
  /** A working dir of its own: cluster.yaml from `edit(spec())`, its own known_hosts (`knownHosts` lines). */
  function own(edit: (text: string) => string, knownHosts?: string[]) {
    const d = tempDir();
    const text = edit(spec()).replaceAll("identityFile: id_ed25519", `identityFile: ${keyPath}`);
    writeFileSync(join(d.dir, "cluster.yaml"), text);
    if (knownHosts) writeFileSync(join(d.dir, "known_hosts"), knownHosts.map((l) => `${l}\n`).join(""));
    return d;
  }
  const noCrash = (r: { stdout: string; stderr: string }) => {
    expect(r.stderr).not.toContain("internal error");
    expect(r.stderr + r.stdout).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m); // no stack frame
  };
  /** The host's ED25519 key as the real ssh-keyscan sees it: `ssh-ed25519 AAAA…`. */
  const hostKeyOf = (i: number): string => {
    const r = spawnSync("ssh-keyscan", ["-t", "ed25519", lab.hosts[i]!.address], { encoding: "utf8" });
    const line = r.stdout.split("\n").find((l) => l.includes("ssh-ed25519"));
    if (!line) throw new Error(`ssh-keyscan found no key: ${r.stderr}`);
    return line.split(" ").slice(1, 3).join(" ");
  };
  const keyFingerprint = (line: string) => fingerprintSha256(Buffer.from(line.split(" ")[1]!, "base64"));

  it("a host whose SSH connection drops before the handshake: its own failure line with the fix, the others finish, exit 1, no crash", {
    timeout: 90_000,
  }, async () => {
    const drop = await startDropServer();
    const d = own((t) =>
      t.replace(
        `address: ${lab.hosts[2]!.address}, ssh: { user: root,`,
        `address: ${lab.hosts[2]!.address}, ssh: { host: 127.0.0.1, port: ${drop.port}, user: root,`,
      ),
    );
    try {
      const r = await khw(d.dir, ["up", "--only", "preflight"], env());
      expect(r.code).toBe(1);
      noCrash(r);
      expect(r.stderr).toMatch(
        /\[preflight\] lb: failed: \[lb\] root@127\.0\.0\.1:\d+: the connection was closed before the SSH handshake/,
      );
      expect(r.stderr).toContain("fix: something accepted the TCP connection and closed it");
      // the other hosts were checked to the end
      expect(r.stdout).toContain("[preflight] master-1: done");
      expect(r.stdout).toContain("[preflight] worker-1: done");
      expect(drop.connections()).toBe(3); // retried, then given up
      // day-2 commands share the executor: the same host is one line there too
      const status = await khw(d.dir, ["status"], env());
      expect(status.code).toBe(1);
      noCrash(status);
      expect(status.stderr).toMatch(/error: lb: \[lb\] .*closed before the SSH handshake/);
    } finally {
      await drop.close();
      d.cleanup();
    }
  });

  it("a connection cut in the middle of uploads: that host fails with its own line, the other host's uploads finish, exit 1, no crash", {
    timeout: 90_000,
  }, async () => {
    const proxy = await startCutProxy(lab.hosts[1]!.address, 22);
    proxy.onBytesUp(12_000, () => proxy.cut()); // of ~23 kB the whole run sends
    const d = own((t) =>
      t.replace(
        `address: ${lab.hosts[1]!.address}, ssh: { user: khw,`,
        `address: ${lab.hosts[1]!.address}, ssh: { host: 127.0.0.1, port: ${proxy.port}, user: khw,`,
      ),
    );
    try {
      const r = await khw(d.dir, ["up", "--only", "pki,kubeconfigs"], env());
      expect(r.code).toBe(1);
      noCrash(r);
      expect(r.stderr).toMatch(/\[pki\] worker-1: failed: \[worker-1\] .*(lost|closed|cut|reset)/i);
      expect(r.stderr).toMatch(/fix: /);
      expect(r.stdout).toContain("[pki] master-1: done");
    } finally {
      await proxy.close();
      d.cleanup();
    }
  });

  it("--dry-run with a changed host key fails like the real run, with khw status's words (both fingerprints, file:line, the fix)", async () => {
    const other = await generateKey(work.dir, "impostor_host_key");
    const d = own((t) => t, ["# pinned earlier", `${lab.hosts[0]!.address} ${other.publicKey}`]);
    try {
      const dry = await khw(d.dir, ["up", "--dry-run", "--only", "pki"], env());
      expect(dry.code).toBe(1);
      noCrash(dry);
      const line = dry.stderr.split("\n").find((l) => l.includes("HOST KEY CHANGED"))!;
      expect(line).toBeDefined();
      expect(line).toContain(`${join(d.dir, "known_hosts")}:2`);
      expect(line).toContain(other.fingerprint);
      expect(line).toContain(keyFingerprint(hostKeyOf(0)));
      expect(dry.stderr).toContain("ssh-keygen -R");
      expect(dry.stderr).toContain("dry run: 1 host(s) would be refused by the real run (master-1)");
      expect(dry.stdout + dry.stderr).not.toContain("planned as");
      expect(dry.stdout).not.toContain("change(s)");
      // the same words as khw status
      const status = await khw(d.dir, ["status"], env());
      expect(status.stderr).toContain(line.replace(/^error: /, "").replace(/^master-1: /, ""));
      // and the real run refuses it too
      const real = await khw(d.dir, ["up", "--only", "pki"], env());
      expect(real.code).toBe(1);
      expect(real.stderr).toContain("HOST KEY CHANGED");
      expect(readFileSync(join(d.dir, "known_hosts"), "utf8")).not.toContain(hostKeyOf(0).split(" ")[1]!);
    } finally {
      d.cleanup();
    }
  });

  it("--dry-run under strict with an unknown host key fails naming the key and the fix; nothing is recorded", async () => {
    const d = own((t) => `${t}ssh: { hostKeyChecking: strict }\n`, ["# empty"]);
    try {
      const dry = await khw(d.dir, ["up", "--dry-run", "--only", "pki,kubeconfigs"], env());
      expect(dry.code).toBe(1);
      noCrash(dry);
      expect(dry.stderr).toMatch(
        /unknown host key for 198\.18\.0\.\d+: ED25519 SHA256:\S+ is not in .*known_hosts; strict/,
      );
      expect(dry.stderr).toContain("ssh-keyscan");
      expect(dry.stderr).toContain("would be refused by the real run (master-1, worker-1, lb)");
      expect(readFileSync(join(d.dir, "known_hosts"), "utf8")).toBe("# empty\n");
    } finally {
      d.cleanup();
    }
  });

  it("accept-new: a dry run records no key (and says so); the real run says which key it recorded, where", async () => {
    const d = own((t) => t);
    try {
      const dry = await khw(d.dir, ["up", "--dry-run", "--only", "pki"], env());
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stderr).toMatch(
        /dry run: new host key of master-1 \(198\.18\.0\.\d+\): ED25519 SHA256:\S+; not recorded/,
      );
      expect(existsSync(join(d.dir, "known_hosts"))).toBe(false);
      const real = await khw(d.dir, ["up", "--only", "preflight"], env());
      const fp = keyFingerprint(hostKeyOf(0));
      expect(real.stderr).toContain(
        `recorded the host key of master-1 (${lab.hosts[0]!.address}) in ${join(d.dir, "known_hosts")}:`,
      );
      expect(real.stderr).toContain(`ED25519 ${fp} (ssh.hostKeyChecking: accept-new)`);
      expect(real.stderr.match(/recorded the host key of/g)).toHaveLength(3);
      expect(readFileSync(join(d.dir, "known_hosts"), "utf8").trim().split("\n")).toHaveLength(3);
    } finally {
      d.cleanup();
    }
  });

  it("insecure: every command that connects warns on stderr, once per host", async () => {
    const d = own((t) => `${t}ssh: { hostKeyChecking: insecure }\n`);
    try {
      for (const argv of [["up", "--only", "preflight"], ["status"], ["up", "--dry-run", "--only", "pki"]]) {
        const r = await khw(d.dir, argv, env());
        noCrash(r);
        const warned = r.stderr.match(
          /warning: host key of (\S+) \(198\.18\.0\.\d+\) NOT verified \(ssh\.hostKeyChecking: insecure\)/g,
        );
        expect(warned, `${argv.join(" ")}\n${r.stderr}`).toHaveLength(3);
      }
      expect(existsSync(join(d.dir, "known_hosts"))).toBe(false);
    } finally {
      d.cleanup();
    }
  });

  it("--dry-run of every phase with a host that refuses connections: planned as empty, said loudly", {
    timeout: 60_000,
  }, async () => {
    const d = own((t) =>
      t.replace(
        `address: ${lab.hosts[2]!.address}, ssh: { user: root,`,
        `address: ${lab.hosts[2]!.address}, ssh: { host: 127.0.0.1, port: 1, user: root,`,
      ),
    );
    const { cluster } = parseClusterYaml(readFileSync(join(d.dir, "cluster.yaml"), "utf8"));
    makeFakeBundle(cluster, join(d.dir, "bundle"));
    try {
      const dry = await khw(d.dir, ["up", "--dry-run"], env());
      noCrash(dry);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stderr).toMatch(
        /warning: lb is UNREACHABLE \(.*ECONNREFUSED.*\): its plan below assumes it has NONE of khw's files/,
      );
      expect(dry.stdout).toContain("not reached, planned as empty: lb");
      expect(dry.stdout).toContain("[loadbalancer] create /etc/haproxy/haproxy.cfg (mode 644)");
      expect(dry.stdout).toContain("[loadbalancer] systemctl enable haproxy");
      expect(dry.stdout).toContain("[etcd] upload and install etcd-v3.6.16-linux-amd64.tar.gz");
    } finally {
      d.cleanup();
    }
  });
});
