// Test doubles for `khw up`: a fake bundle of release files (real tar.gz archives, real checksum
// files, tiny fake executables) and a RecordingExecutor whose hosts behave like systemd hosts.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  type CommandOp,
  type DownloadOptions,
  type ExecOptions,
  type ExecResult,
  type Executor,
  type HostTarget,
  RecordingExecutor,
  RemoteExecError,
  type ResponseRule,
  type ShellOptions,
  type UploadResult,
  type UploadSpec,
} from "@khw/remote-exec";
import { binaryArtifacts, type Cluster, defaultClusterSpecInput, loadCluster, renderClusterYaml } from "@khw/spec";
import { FACTS_SCRIPT } from "../../src/up/preflight";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/**
 * The default spec in `dir`/cluster.yaml with binaries from a fake bundle in `dir`/bundle (fake release
 * files, real checksums); returns the cluster.
 */
export function writeBundleSpec(dir: string): Cluster {
  const input = defaultClusterSpecInput();
  input.binaries = { source: "bundle", bundleDir: "bundle", arch: "amd64" };
  const { cluster } = loadCluster(input);
  makeFakeBundle(cluster, join(dir, "bundle"));
  writeFileSync(join(dir, "cluster.yaml"), renderClusterYaml(cluster.spec));
  return cluster;
}

/** Writes every release file of the cluster in the official layout under `dir`, with checksum files. */
export function makeFakeBundle(cluster: Cluster, dir: string, tag = "v1"): void {
  const sums = new Map<string, string[]>();
  for (const a of binaryArtifacts(cluster)) {
    const file = join(dir, a.path);
    mkdirSync(dirname(file), { recursive: true });
    if (a.archive) {
      const work = mkdtempSync(join(tmpdir(), "khw-fake-"));
      try {
        for (const member of Object.values(a.archive.members)) {
          const m = join(work, member);
          mkdirSync(dirname(m), { recursive: true });
          writeFileSync(m, `#!/bin/sh\necho fake ${member} ${tag}\n`, { mode: 0o755 });
        }
        execFileSync("tar", ["-czf", file, "-C", work, ...Object.values(a.archive.members)]);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    } else {
      writeFileSync(file, `#!/bin/sh\necho fake ${a.id} ${tag}\n`);
    }
    const digest = sha(execFileSync("cat", [file]));
    const c = a.checksum;
    if (c.kind === "digest-file") writeFileSync(join(dir, c.path), `${digest}\n`);
    else sums.set(c.path, [...(sums.get(c.path) ?? []), `${digest}  ${c.name}`]);
  }
  for (const [p, lines] of sums) writeFileSync(join(dir, p), `${lines.join("\n")}\n`);
}

export interface FakeHostOptions {
  /** Extra facts lines per host (override the healthy defaults). */
  facts?: (host: string) => string;
  /** Rules checked before the fake's own. */
  rules?: ResponseRule[];
}

/** Healthy-host facts for preflight: root, Linux x86_64 Ubuntu, no swap, the node IP on enp0s8 (+ Vagrant NAT). */
export function healthyFacts(address: string, now = Date.now()): string {
  return [
    "whoami=root",
    "kernel=Linux",
    "machine=x86_64",
    "os_id=ubuntu",
    "os_version=22.04",
    `time_ms=${now}`,
    "swap_devices=0",
    "module_overlay=available",
    "module_br_netfilter=available",
    "sysctl_net.ipv4.ip_forward=0",
    "systemd=yes",
    "addr=lo 127.0.0.1/8",
    "addr=enp0s3 10.0.2.15/24",
    `addr=enp0s8 ${address}/24`,
    "route=default via 10.0.2.2 dev enp0s3 proto dhcp src 10.0.2.15 metric 100",
    "route=10.0.2.0/24 dev enp0s3 proto kernel scope link src 10.0.2.15",
    `route=${address.split(".").slice(0, 3).join(".")}.0/24 dev enp0s8 proto kernel scope link src ${address}`,
    'listen=0.0.0.0:22 users:(("sshd",pid=1,fd=3))',
  ].join("\n");
}

/**
 * A RecordingExecutor behind a systemd-like fake: `systemctl enable/start/restart` change what
 * `is-enabled`/`is-active` answer, install scripts record what they installed, the facts script
 * answers healthy facts. Every other command fails (NOT_SCRIPTED) unless the test scripts it:
 * readiness in particular answers nothing until the test calls `readiness()` (answers derived from
 * the fake's own state: /readyz is ok only where kube-apiserver was started, …) or scripts its own
 * answers with `recorder.respond` / `respondFirst`. It survives `close()` so that several `khw up`
 * runs see the same hosts.
 */
export class FakeHosts implements Executor {
  readonly recorder: RecordingExecutor;
  readonly enabled = new Set<string>();
  readonly active = new Set<string>();
  /** Throw for the first op matching this (then clear it): the injected failure. */
  failWhen: ((op: { kind: string; host: string; text: string }) => boolean) | undefined;
  /** host/dest → sha256 of the release file it was installed from. */
  readonly installed = new Map<string, string>();
  /** Every systemctl/kubectl command line run, in order, with the host. */
  readonly commands: Array<{ host: string; command: string }> = [];
  /** What `kubectl get csr -o json` lists once `readiness()` is scripted (tests add CSRs here). */
  readonly csrs: object[] = [];
  /** Hosts that do not answer now: every operation on them fails with CONNECT_FAILED (connection refused). */
  readonly down = new Set<string>();
  /** Every operation tried on a host that was down, in order (they never reach the recorder). */
  readonly triedWhileDown: Array<{ kind: string; host: string; text: string }> = [];
  /** Names of CSRs approved with `kubectl certificate approve`, in order. */
  readonly approvedCsrs: string[] = [];
  running = 0;
  maxRunning = 0;
  readonly #cluster: Cluster;

  constructor(cluster: Cluster, options: FakeHostOptions = {}) {
    this.#cluster = cluster;
    const addr = new Map(cluster.nodes.map((n) => [n.name, n.address]));
    const svcOf = (op: CommandOp) => op.command.split(" ").at(-1)!;
    this.recorder = new RecordingExecutor({
      rules: [
        ...(options.rules ?? []),
        {
          command: (op) => op.kind === "shell" && op.script === FACTS_SCRIPT,
          result: (op) => ({ stdout: `${healthyFacts(addr.get(op.host)!)}\n${options.facts?.(op.host) ?? ""}` }),
        },
        {
          command: /systemctl is-(enabled|active)/,
          result: (op) => {
            const set = op.command.includes("is-enabled") ? this.enabled : this.active;
            return { code: set.has(`${op.host}/${svcOf(op)}`) ? 0 : 3 };
          },
        },
        {
          command: /systemctl (enable|start|restart)/,
          result: (op) => {
            if (op.command.includes(" enable ")) this.enabled.add(`${op.host}/${svcOf(op)}`);
            else this.active.add(`${op.host}/${svcOf(op)}`);
            return {};
          },
        },
        { command: /systemctl daemon-reload$/, result: {} },
        // `true`: the host answers (what khw node remove checks first); says nothing of readiness
        { command: (op) => op.kind === "exec" && op.argv.join(" ") === "true", result: {} },
        {
          // the install script of a release file: prints `changed <dest>` for destinations it replaces
          command: (op) => op.kind === "shell" && op.script.startsWith("set -eu\nsrc="),
          result: (op) => {
            if (op.kind !== "shell") return {};
            const [src, rec, recSha, ...pairs] = op.args;
            const content = this.recorder.file(op.host, src!)?.content;
            const digest = content ? sha(content) : "none";
            const out: string[] = [];
            for (let i = 1; i < pairs.length; i += 2) {
              const key = `${op.host}/${pairs[i]}`;
              if (this.installed.get(key) !== digest) {
                this.installed.set(key, digest);
                out.push(`changed ${pairs[i]}`);
              }
            }
            this.installed.set(`${op.host}/${rec}`, recSha!);
            return { stdout: out.map((l) => `${l}\n`).join("") };
          },
        },
        {
          // the host's record of an install (installedCheckScript): still the same files from that release file
          command: (op) => op.kind === "shell" && op.script.startsWith('rec="$1"; sha="$2"'),
          result: (op) => {
            if (op.kind !== "shell") return {};
            const [rec, want, ...dests] = op.args;
            const same =
              this.installed.get(`${op.host}/${rec}`) === want &&
              dests.every((d) => this.installed.has(`${op.host}/${d}`));
            return { stdout: same ? `installed ${want}\n` : "" };
          },
        },
        {
          // --dry-run reads what the hosts have: `stat` of every path khw would write
          command: (op) => op.kind === "shell" && op.script.includes("stat -c"),
          result: (op) => ({
            stdout: (op.kind === "shell" ? op.args : [])
              .flatMap((p) => {
                const f = this.recorder.file(op.host, p);
                return f ? [`${f.mode.toString(8)} ${f.owner} ${f.group} ${p}\n`] : [];
              })
              .join(""),
          }),
        },
        {
          command: (op) => op.kind === "exec" && op.argv[0] === "sha256sum",
          result: (op) => {
            const path = op.kind === "exec" ? op.argv[1]! : "";
            const f = this.recorder.file(op.host, path);
            return f ? { stdout: `${sha(f.content)}  ${path}\n` } : { code: 1, stderr: "No such file" };
          },
        },
        // the load balancer: haproxy is installed from the distribution once, its config checked
        {
          // --dry-run's read-only variant
          command: (op) =>
            op.kind === "shell" && op.script.startsWith("{ command -v haproxy") && !op.script.includes("apt-get"),
          result: (op) => (this.installed.has(`${op.host}//usr/sbin/haproxy`) ? {} : { stdout: "changed install haproxy socat\n" }),
        },
        {
          command: (op) => op.kind === "shell" && op.script.startsWith("{ command -v haproxy"),
          result: (op) => {
            const key = `${op.host}//usr/sbin/haproxy`;
            if (this.installed.has(key)) return {};
            this.installed.set(key, "distribution");
            return { stdout: "changed haproxy socat\n" };
          },
        },
        { command: (op) => op.kind === "shell" && op.script.startsWith("haproxy -c"), result: { stdout: "Configuration file is valid\n" } },
        // bridge-routes: a route is added once
        {
          command: (op) => op.kind === "shell" && op.script.includes("ip -4 route replace"),
          result: (op) => {
            const key = `${op.host}/route ${op.kind === "shell" ? op.args[0] : ""}`;
            if (this.installed.has(key)) return {};
            this.installed.set(key, "route");
            return { stdout: `changed route ${op.kind === "shell" ? op.args[0] : ""}\n` };
          },
        },
        { command: / apply -f \/var\/lib\/khw\/manifests\//, result: (op) => ({ stdout: `applied ${op.command.split("/").pop()}\n` }) },
        {
          command: / certificate approve /,
          result: (op) => {
            const name = svcOf(op);
            const csr = this.csrs.find((c) => (c as { metadata?: { name?: string } }).metadata?.name === name);
            if (!csr) return { code: 1, stderr: `Error from server (NotFound): certificatesigningrequests.certificates.k8s.io "${name}" not found\n` };
            Object.assign(csr, { status: { conditions: [{ type: "Approved", status: "True" }] } });
            this.approvedCsrs.push(name);
            return { stdout: `certificatesigningrequest.certificates.k8s.io/${svcOf(op)} approved\n` };
          },
        },
      ],
    });
  }

  /**
   * Scripts every readiness check of `khw up`, answered from the fake's state as the real hosts
   * would: etcd is healthy where etcd was started, /readyz is ok where kube-apiserver was started
   * (through the load balancer: when haproxy and one apiserver were), nodes are Ready where kubelet
   * was started, a tls-bootstrap worker has its serving CSR once its kubelet runs, the sysctls hold
   * once systemd-sysctl ran, and `kubectl get csr -o json` lists `csrs`.
   */
  readiness(): this {
    const c = this.#cluster;
    const on = (host: string, svc: string) => this.active.has(`${host}/${svc}`);
    const kubelets = () => c.workers.filter((w) => on(w.name, "kubelet")).length;
    const anyApiserver = () => c.controlPlanes.some((m) => on(m.name, "kube-apiserver"));
    const r = this.recorder;
    r.respond(/endpoint health/, (op) =>
      on(op.host, "etcd")
        ? { stdout: "https://127.0.0.1:2379 is healthy: successfully committed proposal\n" }
        : { stdout: "https://127.0.0.1:2379 is unhealthy: failed to commit proposal: connection refused\n" },
    );
    r.respond(/--server https:\S+ get --raw \/readyz/, () =>
      anyApiserver() && (!c.loadBalancer || on(c.loadBalancer.name, "haproxy"))
        ? { stdout: "ok" }
        : { stdout: "The connection to the server was refused\n" },
    );
    r.respond(/missing-binaries/, (op) =>
      !this.installed.has(`${op.host}//usr/local/bin/kube-apiserver`)
        ? { stdout: "missing-binaries\n" }
        : on(op.host, "kube-apiserver")
          ? { stdout: "ok" }
          : { stdout: "The connection to the server 127.0.0.1:6443 was refused\n" },
    );
    r.respond(/get --raw \/readyz/, (op) =>
      on(op.host, "kube-apiserver") ? { stdout: "ok" } : { stdout: "The connection to the server was refused\n" },
    );
    r.respond(/numberReady|readyReplicas/, () => {
      const n = kubelets();
      return { stdout: `${n}/${c.workers.length}` };
    });
    r.respond(/get nodes --no-headers/, () => ({
      stdout: `${c.workers
        .filter((w) => on(w.name, "kubelet"))
        .map((w) => `ready-node ${w.name}\n`)
        .join("")}ready=${kubelets()}\n`,
    }));
    r.respond(/serving-csr-missing=/, () => ({
      stdout: `serving-csr-missing=${c.workers
        .filter((w) => w.kubeletCredentials === "tls-bootstrap" && !on(w.name, "kubelet"))
        .map((w) => w.name)
        .join(" ")}\n`,
    }));
    r.respond(/ip_forward/, (op) =>
      on(op.host, "systemd-sysctl")
        ? { stdout: "net/ipv4/ip_forward=1\nnet/bridge/bridge-nf-call-iptables=1\n" }
        : { stdout: "net/ipv4/ip_forward=0\nnet/bridge/bridge-nf-call-iptables=0\n" },
    );
    r.respond(/ get csr -o json$/, (op) =>
      on(op.host, "kube-apiserver")
        ? { stdout: JSON.stringify({ items: this.csrs }) }
        : { code: 1, stderr: "The connection to the server 127.0.0.1:6443 was refused\n" },
    );
    return this;
  }

  /** Called before every operation (e.g. to press Ctrl-C in the middle of a run). */
  onOp: ((op: { kind: string; host: string; text: string }) => void) | undefined;

  #enter(kind: string, host: string, text: string): void {
    if (this.down.has(host)) {
      this.triedWhileDown.push({ kind, host, text });
      throw new RemoteExecError("CONNECT_FAILED", `cannot connect to ${host}:22: ECONNREFUSED`, {
        host,
        hint: "nothing listens on port 22: is sshd running, and is the port right?",
      });
    }
    this.onOp?.({ kind, host, text });
    if (this.failWhen?.({ kind, host, text })) {
      this.failWhen = undefined;
      throw new RemoteExecError("COMMAND_FAILED", `\`${text.split("\n")[0]}\` exited with code 1`, {
        host,
        result: { code: 1, stdout: "", stderr: "injected failure\nsomething went wrong" },
      });
    }
  }

  async #track<T>(fn: () => Promise<T>): Promise<T> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      await new Promise((r) => setImmediate(r));
      return await fn();
    } finally {
      this.running--;
    }
  }

  async connect(host: HostTarget): Promise<void> {
    this.#enter("connect", host.name, "");
    return this.recorder.connect(host);
  }
  exec(host: HostTarget, argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    const text = argv.join(" ");
    this.#enter("exec", host.name, text);
    if (/systemctl|kubectl/.test(text)) this.commands.push({ host: host.name, command: text });
    return this.#track(() => this.recorder.exec(host, argv, options));
  }
  shell(host: HostTarget, script: string, options?: ShellOptions): Promise<ExecResult> {
    this.#enter("shell", host.name, script);
    return this.#track(() => this.recorder.shell(host, script, options));
  }
  upload(host: HostTarget, file: UploadSpec): Promise<UploadResult> {
    this.#enter("upload", host.name, file.path);
    return this.#track(() => this.recorder.upload(host, file));
  }
  async download(host: HostTarget, path: string, options?: DownloadOptions): Promise<Buffer> {
    this.#enter("download", host.name, path);
    return this.recorder.download(host, path, options);
  }
  async close(): Promise<void> {}

  /** Changing operations recorded since `from` (uploads that changed, restarts, enables, applies). */
  changesSince(from: number): string[] {
    return this.recorder.ops.slice(from).flatMap((op) => {
      if (op.kind === "upload" && op.changed) return [`${op.host} upload ${op.path}`];
      if ((op.kind === "exec" || op.kind === "shell") && /systemctl (enable|start|restart|daemon-reload)|kubectl .* apply/.test(op.command)) {
        return [`${op.host} ${op.command}`];
      }
      return [];
    });
  }
}

export type { CommandOp };
