// `khw up` against real OpenSSH servers in network namespaces: preflight's real checks, real SFTP
// uploads (atomic, idempotent), --dry-run diffs, and the binary install script with real tar/cmp/install.
// The hosts' /etc, /var, /opt, /usr/local are private overlays (see golden/sandbox-sshd.ts); no systemd.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type HostTarget, SshExecutor } from "@khw/remote-exec";
import { binaryArtifacts, loadCluster } from "@khw/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKey } from "../../../packages/remote-exec/test/sshd";
import { installScript, remoteCachePath } from "../src/up/binaries";
import { resetSeamsForTests } from "../src/workdir";
import { makeFakeBundle } from "./golden/fake-hosts";
import { useFixedSeams } from "./golden/fixtures";
import { createSandboxLab, type SandboxLab, type SandboxSshd, startSandboxSshd } from "./golden/sandbox-sshd";
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
      const { script, args } = installScript(etcd);
      return (await ssh.shell(target(1), script, { sudo: true, args: [remoteCachePath(etcd), ...args] }))
        .stdout;
    };
    expect((await run()).trim().split("\n")).toEqual([
      "changed /usr/local/bin/etcd",
      "changed /usr/local/bin/etcdctl",
      "changed /usr/local/bin/etcdutl",
    ]);
    expect(await run()).toBe("");
    const out = await ssh.exec(target(1), ["/usr/local/bin/etcdctl"]);
    expect(out.stdout).toContain("fake");
  });
});
