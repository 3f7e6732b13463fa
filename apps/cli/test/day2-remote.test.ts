// Day-2 commands that act on the hosts: certs renew, status, reset, smoke — through the
// RecordingExecutor (exact commands, uploads and restarts) and every recorded script through a real
// `sh -n`. Real sshd tests are in day2-sshd.test.ts.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CommandOp, type RecordedOp, RecordingExecutor, RemoteExecError } from "@khw/remote-exec";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  setConfirmForTests,
  WORKER_CLEANUP_SCRIPT,
  WORKER_CONTAINERS_SCRIPT,
  WORKER_LEFTOVERS_SCRIPT,
} from "../src/day2/reset";
import { STATUS_SCRIPT } from "../src/day2/status";
import { resetSeamsForTests, setSeamsForTests } from "../src/workdir";
import { cachedKeys } from "./day2-helpers";
import { khw, tempDir } from "./helpers";

let dir: string;
let cleanup: () => void;
let rec: RecordingExecutor;

function useExecutor(r: RecordingExecutor, now?: Date) {
  rec = r;
  setSeamsForTests({ keys: cachedKeys, executor: () => rec, ...(now ? { now: () => now } : {}) });
}

/**
 * Scripts `rec`'s hosts as systemd hosts: a service is active after `restart`/`start` and inactive
 * after `stop`/`disable --now` (never before it was started, unless `active` says so);
 * `is-active` answers from that state, or `failed` for the `host/service` pairs listed in `fail`.
 * Removing files and reloading units succeed. Anything else stays unscripted (fails loudly).
 */
function systemdHosts(
  rec: RecordingExecutor,
  options: { active?: string[]; fail?: string[] } = {},
): RecordingExecutor {
  const active = new Set(options.active ?? []);
  const fail = new Set(options.fail ?? []);
  const argv = (op: CommandOp) => (op.kind === "exec" ? op.argv : []);
  return (
    rec
      .respond(
        (op) => argv(op)[0] === "systemctl" && ["restart", "start"].includes(argv(op)[1]!),
        (op) => {
          active.add(`${op.host}/${argv(op).at(-1)}`);
          return {};
        },
      )
      .respond(
        (op) => argv(op)[0] === "systemctl" && (argv(op)[1] === "stop" || argv(op)[2] === "--now"),
        (op) => {
          active.delete(`${op.host}/${argv(op).at(-1)}`);
          return {};
        },
      )
      .respond(
        (op) => argv(op)[0] === "systemctl" && argv(op)[1] === "is-active",
        (op) => {
          const key = `${op.host}/${argv(op).at(-1)}`;
          if (fail.has(key)) return { code: 3, stdout: "failed\n" };
          return active.has(key) ? { stdout: "active\n" } : { code: 3, stdout: "inactive\n" };
        },
      )
      .respond("systemctl daemon-reload", {})
      .respond("systemctl reset-failed", {})
      .respond((op) => argv(op)[0] === "rm", {})
      .respond((op) => op.kind === "shell" && op.script === WORKER_CONTAINERS_SCRIPT, {})
      .respond((op) => op.kind === "shell" && op.script === WORKER_CLEANUP_SCRIPT, {})
      // a worker after the cleanup: nothing left behind
      .respond((op) => op.kind === "shell" && op.script === WORKER_LEFTOVERS_SCRIPT, {})
  );
}

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  setSeamsForTests({ keys: cachedKeys });
  const g = await khw(dir, ["gen"]);
  expect(g.code, g.stderr).toBe(0);
  useExecutor(systemdHosts(new RecordingExecutor()));
});
afterEach(() => {
  resetSeamsForTests();
  setConfirmForTests(undefined);
  cleanup();
});

const commands = (host?: string) =>
  rec.ops.filter(
    (o): o is CommandOp =>
      (o.kind === "exec" || o.kind === "shell") && (host === undefined || o.host === host),
  );
const execs = (host?: string) => commands(host).filter((o) => o.kind === "exec");
const execArgv = (host?: string) => execs(host).map((o) => o.argv.join(" "));
const uploads = (host?: string) =>
  rec.ops.filter(
    (o): o is Extract<RecordedOp, { kind: "upload" }> =>
      o.kind === "upload" && (host === undefined || o.host === host),
  );

/** Every shell script the command sent parses in a real POSIX shell. */
function expectScriptsParse() {
  for (const op of commands()) {
    if (op.kind !== "shell") continue;
    const r = spawnSync("sh", ["-n", "-c", op.script], { encoding: "utf8" });
    expect(r.status, `sh -n failed for:\n${op.script}\n${r.stderr}`).toBe(0);
  }
}

const HOSTS = ["master-1", "master-2", "worker-1", "worker-2", "loadbalancer"];

describe("khw certs renew", () => {
  it("kube-proxy: same CA, same key, new cert; pushed to the workers only; restarts kube-proxy only", async () => {
    const key = readFileSync(join(dir, "pki/kube-proxy.key"), "utf8");
    const cert = readFileSync(join(dir, "pki/kube-proxy.crt"), "utf8");
    const r = await khw(dir, ["certs", "renew", "kube-proxy"]);
    expect(r.code, r.stderr).toBe(0);
    const renewed = readFileSync(join(dir, "pki/kube-proxy.crt"), "utf8");
    expect(renewed).not.toBe(cert);
    expect(readFileSync(join(dir, "pki/kube-proxy.key"), "utf8")).toBe(key);
    expect(
      execFileSync("openssl", [
        "verify",
        "-CAfile",
        join(dir, "pki/ca.crt"),
        join(dir, "pki/kube-proxy.crt"),
      ]).toString(),
    ).toContain(": OK");
    const pub = (args: string[]) => execFileSync("openssl", args).toString();
    expect(pub(["x509", "-noout", "-pubkey", "-in", join(dir, "pki/kube-proxy.crt")])).toBe(
      pub(["pkey", "-pubout", "-in", join(dir, "pki/kube-proxy.key")]),
    );
    expect(uploads().map((u) => `${u.host} ${u.path}`)).toEqual([
      "worker-1 /var/lib/kubernetes/pki/kube-proxy.crt",
      "worker-2 /var/lib/kubernetes/pki/kube-proxy.crt",
    ]);
    expect(uploads().every((u) => u.sudo && u.mode === 0o644)).toBe(true);
    expect(execArgv()).toEqual([
      "systemctl restart kube-proxy",
      "systemctl is-active kube-proxy",
      "systemctl restart kube-proxy",
      "systemctl is-active kube-proxy",
    ]);
    expect(commands().map((c) => c.host)).toEqual(["worker-1", "worker-1", "worker-2", "worker-2"]);
    expect(commands()[0]!.command).toBe("sudo -n -- systemctl restart kube-proxy");
    // nothing owed afterwards
    const state = JSON.parse(readFileSync(join(dir, ".khw/state.json"), "utf8"));
    expect(state.pending).toEqual({});
  });

  it("etcd-server: both copies on every master; etcd restarts before kube-apiserver, master by master", async () => {
    const r = await khw(dir, ["certs", "renew", "etcd-server"]);
    expect(r.code, r.stderr).toBe(0);
    expect(uploads().map((u) => `${u.host} ${u.path}`)).toEqual([
      "master-1 /etc/etcd/etcd-server.crt",
      "master-1 /var/lib/kubernetes/pki/etcd-server.crt",
      "master-2 /etc/etcd/etcd-server.crt",
      "master-2 /var/lib/kubernetes/pki/etcd-server.crt",
    ]);
    expect(
      execs()
        .filter((c) => c.argv[1] === "restart")
        .map((c) => `${c.host} ${c.argv[2]}`),
    ).toEqual(["master-1 etcd", "master-1 kube-apiserver", "master-2 etcd", "master-2 kube-apiserver"]);
    // master-1 is done before anything happens on master-2
    const hostsInOrder = rec.ops.filter((o) => o.kind !== "close").map((o) => (o as { host: string }).host);
    expect(hostsInOrder.lastIndexOf("master-1")).toBeLessThan(hostsInOrder.indexOf("master-2"));
  });

  it("admin: the masters' admin.kubeconfig embeds it (uploaded, nothing restarted); the local admin.kubeconfig is rewritten", async () => {
    writeFileSync(join(dir, "admin.kubeconfig"), "old\n");
    const r = await khw(dir, ["certs", "renew", "admin"]);
    expect(r.code, r.stderr).toBe(0);
    expect(uploads().map((u) => `${u.host} ${u.path} ${u.mode.toString(8)}`)).toEqual([
      "master-1 /var/lib/kubernetes/admin.kubeconfig 600",
      "master-2 /var/lib/kubernetes/admin.kubeconfig 600",
    ]);
    expect(execArgv()).toEqual([]);
    const local = readFileSync(join(dir, "admin.kubeconfig"), "utf8");
    const crt = readFileSync(join(dir, "pki/admin.crt"), "utf8");
    expect(local).toContain(Buffer.from(crt).toString("base64"));
    expect(r.stdout).toContain("run `khw kubeconfig`");
  });

  it("--all: every leaf re-issued; each host restarts exactly the services that read a changed file", async () => {
    const r = await khw(dir, ["certs", "renew", "--all"]);
    expect(r.code, r.stderr).toBe(0);
    const restarts = (host: string) =>
      execs(host)
        .filter((c) => c.argv[1] === "restart")
        .map((c) => c.argv[2]);
    for (const m of ["master-1", "master-2"]) {
      expect(restarts(m)).toEqual(["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]);
    }
    expect(restarts("worker-1")).toEqual(["kubelet", "kube-proxy"]);
    // worker-2 bootstraps its kubelet certificate itself: only kube-proxy's changed
    expect(restarts("worker-2")).toEqual(["kube-proxy"]);
    expect(restarts("loadbalancer")).toEqual([]);
    expect(uploads("loadbalancer")).toEqual([]);
    expect(uploads().some((u) => u.path.endsWith("/ca.crt") || u.path.endsWith("/ca.key"))).toBe(false);
    expect(r.stdout).toMatch(/re-issued admin, kube-controller-manager, .*worker-1/);
  });

  it("a service that does not come back: exit 1 naming host and service; the owed restart stays in .khw/state.json", async () => {
    useExecutor(systemdHosts(new RecordingExecutor(), { fail: ["worker-1/kube-proxy"] }));
    const r = await khw(dir, ["certs", "renew", "kube-proxy"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[certs] worker-1: kube-proxy is failed after the restart");
    expect(r.stderr).toContain("journalctl -u kube-proxy");
    expect(commands("worker-2")).toEqual([]);
    const state = JSON.parse(readFileSync(join(dir, ".khw/state.json"), "utf8"));
    expect(state.pending).toEqual({
      "worker-1": { restart: ["kube-proxy"] },
      "worker-2": { restart: ["kube-proxy"] },
    });
  });

  it("an unreachable host: exit 1 with the host; pki/ already holds the new certificate", async () => {
    useExecutor(systemdHosts(new RecordingExecutor({ unreachable: ["worker-2"] })));
    const r = await khw(dir, ["certs", "renew", "kube-proxy"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[certs] worker-2:");
    expect(r.stderr).toContain("cannot connect");
    expect(execArgv("worker-1")).toContain("systemctl restart kube-proxy");
  });

  it("--dry-run changes nothing; names are checked; the CA is refused", async () => {
    const before = readFileSync(join(dir, "pki/kube-scheduler.crt"), "utf8");
    const d = await khw(dir, ["certs", "renew", "kube-scheduler", "--dry-run"]);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain("[certs] master-1: upload /var/lib/kubernetes/pki/kube-scheduler.crt");
    expect(d.stdout).toContain("[certs] master-2: restart kube-scheduler");
    expect(readFileSync(join(dir, "pki/kube-scheduler.crt"), "utf8")).toBe(before);
    expect(rec.ops).toEqual([]);
    const none = await khw(dir, ["certs", "renew"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("name the certificates to renew, or pass --all");
    const ca = await khw(dir, ["certs", "renew", "ca"]);
    expect(ca.code).toBe(2);
    expect(ca.stderr).toContain("is the CA");
    const unknown = await khw(dir, ["certs", "renew", "kube-nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("use one of admin, kube-controller-manager");
    expect(rec.ops).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

/** Answers STATUS_SCRIPT like a healthy host would, with the real certificates from pki/. */
function healthyStatus(pkiDir: string, overrides: Record<string, string> = {}) {
  const pem = (path: string) => {
    const base = path.split("/").pop()!;
    const file = join(pkiDir, base);
    return existsSync(file) ? readFileSync(file, "utf8").trim() : "MISSING";
  };
  return (op: CommandOp) => {
    const args = op.kind === "shell" ? op.args : [];
    const sep = args.indexOf("--");
    const out: string[] = [];
    for (let i = 0; i < sep; i += 2) {
      const svc = args[i]!;
      out.push(`service\t${svc}\t${overrides[`${op.host}/${svc}`] ?? "active"}`);
      const v: Record<string, string> = {
        etcd: "etcd Version: 3.6.16",
        containerd: "containerd github.com/containerd/containerd/v2 v2.1.4 abc",
        haproxy: "HAProxy version 2.6.12-1+deb12u1 2023/12/16",
      };
      out.push(`version\t${svc}\t${v[svc] ?? "Kubernetes v1.34.4"}`);
    }
    for (const p of args.slice(sep + 1)) out.push(`cert\t${p}`, pem(p), "end");
    return { stdout: `${out.join("\n")}\n` };
  };
}

describe("khw status", () => {
  it("per host and component: state, version, earliest certificate expiry; exit 0 when all is well", async () => {
    useExecutor(new RecordingExecutor().respond(/service\\t/, healthyStatus(join(dir, "pki"))));
    const r = await khw(dir, ["status", "--json"]);
    const report = JSON.parse(r.stdout);
    // worker-2 (tls-bootstrap) has no kubelet certificate in pki/: the hosts' own files are missing here
    const w2 = report.hosts.find((h: { host: string }) => h.host === "worker-2");
    expect(
      w2.certificates
        .filter((c: { status: string }) => c.status === "missing")
        .map((c: { path: string }) => c.path),
    ).toEqual([
      "/var/lib/kubelet/pki/kubelet-client-current.pem",
      "/var/lib/kubelet/pki/kubelet-server-current.pem",
    ]);
    expect(r.code).toBe(1);
    const m1 = report.hosts.find((h: { host: string }) => h.host === "master-1");
    expect(
      m1.components.map(
        (c: { name: string; state: string; versionOk: boolean }) => `${c.name} ${c.state} ${c.versionOk}`,
      ),
    ).toEqual([
      "etcd active true",
      "kube-apiserver active true",
      "kube-controller-manager active true",
      "kube-scheduler active true",
    ]);
    const api = m1.components.find((c: { name: string }) => c.name === "kube-apiserver");
    expect(api.certificate.status).toBe("valid");
    expect(api.certificate.daysLeft).toBeGreaterThan(360);
    const lb = report.hosts.find((h: { host: string }) => h.host === "loadbalancer");
    expect(lb.components).toEqual([
      expect.objectContaining({
        name: "haproxy",
        state: "active",
        version: "HAProxy version 2.6.12-1+deb12u1 2023/12/16",
      }),
    ]);
    // the exact, read-only command: one sudo'd script per host, data as positional parameters
    const w1 = commands("worker-1")[0]!;
    expect(w1.kind).toBe("shell");
    expect(w1.sudo).toBe(true);
    expect(w1.kind === "shell" && w1.args).toEqual([
      "containerd",
      "/usr/local/bin/containerd",
      "kubelet",
      "/usr/local/bin/kubelet",
      "kube-proxy",
      "/usr/local/bin/kube-proxy",
      "--",
      "/var/lib/kubernetes/pki/ca.crt",
      "/var/lib/kubernetes/pki/worker-1.crt",
      "/var/lib/kubernetes/pki/kube-proxy.crt",
    ]);
    expect(uploads()).toEqual([]);
    expect(commands().filter((c) => /restart|stop|start/.test(c.command))).toEqual([]);
    expectScriptsParse();
  });

  it("a failed service, a wrong version and an unreachable host make exit 1, each named", async () => {
    const answer = healthyStatus(join(dir, "pki"), { "master-2/kube-scheduler": "failed" });
    useExecutor(
      new RecordingExecutor({ unreachable: ["worker-2"] }).respond(/service\\t/, (op) => {
        const r = answer(op);
        return op.host === "worker-1"
          ? { stdout: r.stdout.replace("\tkubelet\tKubernetes v1.34.4", "\tkubelet\tKubernetes v1.33.1") }
          : r;
      }),
    );
    const r = await khw(dir, ["status"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/master-2\s+kube-scheduler\s+failed\s+v1\.34\.4\s+\d{4}-\d\d-\d\d \(\d+d\)/);
    expect(r.stdout).toMatch(/worker-1\s+kubelet\s+active\s+v1\.33\.1 \(spec: v1\.34\.4\)/);
    expect(r.stdout).toMatch(/worker-2\s+-\s+unreachable/);
    expect(r.stderr).toContain("error: worker-2:");
  });

  it("certificates expiring within --warn-days show in the table", async () => {
    useExecutor(
      new RecordingExecutor().respond(/service\\t/, healthyStatus(join(dir, "pki"))),
      new Date(Date.now() + 350 * 86_400_000),
    );
    const r = await khw(dir, ["status"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /master-1\s+kube-apiserver\s+active\s+v1\.34\.4\s+\d{4}-\d\d-\d\d \(1[45]d, expiring\)/,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("khw reset", () => {
  it("refuses without a terminal and without --yes; asks, and does nothing on no", async () => {
    const r = await khw(dir, ["reset"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no terminal to ask on");
    expect(r.stderr).toContain("--yes");
    let asked = "";
    setConfirmForTests(async (q) => {
      asked = q;
      return false;
    });
    const no = await khw(dir, ["reset"]);
    expect(no.code).toBe(1);
    expect(asked).toContain("Reset cluster 'kubernetes-the-hard-way'");
    expect(rec.ops).toEqual([]);
    expect(existsSync(join(dir, "pki/ca.key"))).toBe(true);
  });

  it("--yes: stops in reverse start order, removes khw's files, binaries and data, daemon-reload; keeps pki/", async () => {
    writeFileSync(join(dir, ".khw-placeholder"), "");
    const r = await khw(dir, ["reset", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    const stops = (h: string) =>
      execs(h)
        .filter((c) => c.argv[1] === "disable")
        .map((c) => c.argv[3]);
    expect(stops("master-1")).toEqual([
      "kube-scheduler",
      "kube-controller-manager",
      "kube-apiserver",
      "etcd",
    ]);
    expect(stops("worker-1")).toEqual(["kube-proxy", "kubelet", "containerd"]);
    expect(stops("loadbalancer")).toEqual(["haproxy"]);
    const rm = (h: string) =>
      execs(h)
        .find((c) => c.argv[0] === "rm")!
        .argv.slice(3);
    expect(rm("master-1")).toEqual(
      expect.arrayContaining([
        "/etc/systemd/system/etcd.service",
        "/var/lib/kubernetes/pki/ca.key",
        "/usr/local/bin/etcd",
        "/usr/local/bin/kube-apiserver",
        "/var/lib/etcd",
        "/etc/etcd",
        "/var/lib/khw",
        "/var/cache/khw",
      ]),
    );
    expect(rm("worker-1")).toEqual(
      expect.arrayContaining(["/usr/local/bin/kubelet", "/var/lib/kubelet", "/opt/cni/bin"]),
    );
    expect(rm("loadbalancer")).toEqual(expect.arrayContaining(["/etc/haproxy/haproxy.cfg"]));
    for (const h of HOSTS) {
      for (const p of rm(h)) expect(p.split("/").filter(Boolean).length).toBeGreaterThanOrEqual(2);
      expect(execArgv(h).at(-2)).toBe("systemctl daemon-reload");
    }
    expect(commands("worker-2").some((c) => c.kind === "shell" && c.script === WORKER_CLEANUP_SCRIPT)).toBe(
      true,
    );
    expect(commands("master-1").some((c) => c.kind === "shell")).toBe(false);
    expect(existsSync(join(dir, "pki/ca.key"))).toBe(true);
    expect(r.stdout).toContain("kept pki");
    expectScriptsParse();
  });

  it("--purge deletes the local PKI; a failing host is reported and exits 1", async () => {
    useExecutor(systemdHosts(new RecordingExecutor({ unreachable: ["worker-1"] })));
    const r = await khw(dir, ["reset", "--yes", "--purge"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[reset] worker-1:");
    expect(r.stderr).toContain("reset failed on worker-1");
    expect(execArgv("master-1")).toContain("systemctl daemon-reload");
    expect(existsSync(join(dir, "pki"))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------

/** Canned answers of a working cluster, keyed by what each smoke script does. */
function healthyCluster(): RecordingExecutor {
  return systemdHosts(new RecordingExecutor(), { active: ["master-2/kube-apiserver"] })
    .respond(/ delete namespace khw-smoke/, { stdout: 'namespace "khw-smoke" deleted\n' })
    .respond(/get --raw \/readyz/, { stdout: "ok" })
    .respond(/ apply -f /, { stdout: "namespace/khw-smoke created\n" })
    .respond(/etcdctl/, { stdout: "k8s:enc:aescbc:v1:key1:.....garbage" })
    .respond(/rollout status/, {
      stdout: 'deployment "nginx" successfully rolled out\nrc=0\nnginx-7d 1/1 Running\npod=nginx-7d\n',
    })
    .respond(/ logs "\$1"/, { stdout: "127.0.0.1 - GET /\n" })
    .respond(/ exec "\$1" -- nginx -v/, { stdout: "nginx version: nginx/1.27.3\n" })
    .respond(/port-forward/, { stdout: "code=200\nForwarding from 127.0.0.1:18080 -> 80\n" })
    .respond(/for ip in/, { stdout: "192.168.56.21 200\n192.168.56.22 200\n" })
    .respond(/wget -q/, { stdout: "nodes=worker-1->worker-2\npod=ok 10.244.1.2\nsvc=ok 10.96.0.20:80\n" })
    .respond(/nslookup "\$0"/, {
      stdout:
        "Server:    10.96.0.10\n\nName:      kubernetes\nAddress 1: 10.96.0.1 kubernetes.default.svc.cluster.local\n",
    })
    .respond(/consecutive=/, { stdout: "consecutive=5 tries=8\n" })
    .respond(/get lease/, {
      stdout: "kube-controller-manager=master-1_3f2a\nkube-scheduler=master-2_77c1\n",
    });
}

describe("khw smoke", () => {
  it("all pass: one result per REFERENCE.md test; HA stops and starts master-2's apiserver; cleans up", async () => {
    useExecutor(healthyCluster());
    const r = await khw(dir, ["smoke", "--json"]);
    expect(r.code, r.stdout).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tests.map((t: { id: string; outcome: string }) => `${t.id}:${t.outcome}`)).toEqual([
      "api:pass",
      "encryption-at-rest:pass",
      "deployment:pass",
      "logs:pass",
      "exec:pass",
      "port-forward:pass",
      "nodeport:pass",
      "pod-network:pass",
      "dns:pass",
      "ha:pass",
      "leader-election:pass",
    ]);
    expect(out).toMatchObject({ ok: true, passed: 11, failed: 0, couldNotRun: 0 });
    const net = commands("master-1").find((c) => c.kind === "shell" && /wget -q/.test(c.script))!;
    expect(net.kind === "shell" && net.script).toContain("exec net-client -- timeout 5 wget -q -O /dev/null");
    expect(execArgv("master-2")).toEqual(["systemctl stop kube-apiserver", "systemctl start kube-apiserver"]);
    expect(commands().every((c) => c.host === "master-1" || c.host === "master-2")).toBe(true);
    const manifest = uploads("master-1")[0]!;
    expect(manifest).toMatchObject({ path: "/var/lib/khw/smoke/smoke.yaml", mode: 0o600 });
    // a previous run's namespace, deleted without waiting, may still be terminating: gone before the apply
    const apply = commands("master-1").find((c) => c.kind === "shell" && / apply -f /.test(c.script))!;
    expect(apply.kind === "shell" && apply.script).toMatch(
      /wait --for=delete namespace\/khw-smoke --timeout=90s [^\n]*\n[\s\S]* apply -f "\$1"/,
    );
    const etcd = commands("master-1").find((c) => c.kind === "shell" && /etcdctl/.test(c.script))!;
    expect(etcd.kind === "shell" && etcd.args).toEqual([
      "/registry/secrets/khw-smoke/kubernetes-the-hard-way",
    ]);
    // etcdctl 3.6 warns on stderr about ETCDCTL_API=3, which 2>&1 would put in front of the value
    expect(etcd.kind === "shell" && etcd.script).not.toContain("ETCDCTL_API");
    expect(etcd.kind === "shell" && etcd.script).toContain("/usr/local/bin/etcdctl --endpoints=");
    // the busybox pod lives in khw-smoke: a bare `kubernetes` would search kubernetes.khw-smoke.svc…
    const dns = commands("master-1").find((c) => c.kind === "shell" && /nslookup/.test(c.script))!;
    expect(dns.kind === "shell" && dns.script).toContain(
      'exec busybox -- sh -c \'grep "^search" /etc/resolv.conf; nslookup "$0"\' "$2"',
    );
    expect(dns.kind === "shell" && dns.args).toEqual(["180", "kubernetes.default.svc.cluster.local"]);
    // the NodePort is asked again for up to min(60 s, --timeout) while kube-proxy catches up
    const np = commands("master-1").find((c) => c.kind === "shell" && /for ip in/.test(c.script))!;
    expect(np.kind === "shell" && np.args).toEqual(["30080", "60", "192.168.56.21", "192.168.56.22"]);
    expect(commands("master-1").at(-1)!.command).toContain("delete namespace khw-smoke");
    expectScriptsParse();
  });

  it("the text report says pass/fail/could-not-run per test with the fix", async () => {
    // rules are first-match-wins: put the failing answers first
    const failing = systemdHosts(new RecordingExecutor(), { active: ["master-2/kube-apiserver"] })
      .respond(/ logs "\$1"/, { code: 1, stderr: "Error from server (Forbidden): nodes/proxy is forbidden" })
      .respond(/etcdctl/, { stdout: "k8s\u0000\nv1\nSecret" });
    useExecutor(
      failing
        .respond(/get --raw \/readyz/, { stdout: "ok" })
        .respond(/ apply -f /, { stdout: "" })
        .respond(/rollout status/, { stdout: "rc=0\npod=nginx-7d\n" })
        .respond(/ exec "\$1" -- nginx -v/, { stdout: "nginx version: nginx/1.27.3\n" })
        .respond(/port-forward/, { stdout: "code=000\nerror: unable to upgrade connection: Forbidden\n" })
        .respond(/for ip in/, { stdout: "192.168.56.21 200\n192.168.56.22 000\n" })
        .respond(/wget -q/, {
          stdout:
            "nodes=worker-2->worker-1\npod=fail 10.244.0.5 wget: download timed out\nsvc=fail 10.96.0.20:80\n",
        })
        .respond(/nslookup "\$0"/, { stdout: "nslookup: can't resolve 'kubernetes.default'\n" })
        .respond(/consecutive=/, { stdout: "consecutive=0 tries=40\n" })
        .respond(/get lease/, { stdout: "kube-controller-manager=master-1_3f2a\nkube-scheduler=\n" }),
    );
    const r = await khw(dir, ["smoke"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("PASS  api:");
    expect(r.stdout).toMatch(
      /FAIL {2}encryption-at-rest: .*\n\s+etcd \/registry\/secrets\/khw-smoke\/kubernetes-the-hard-way is not encrypted/,
    );
    expect(r.stdout).toContain("--encryption-provider-config");
    expect(r.stdout).toMatch(/FAIL {2}logs: .*\n.*Forbidden.*\n\s+fix: .*kube-apiserver-kubelet-client/);
    expect(r.stdout).toMatch(
      /FAIL {2}nodeport: .*\n\s+worker-1 192\.168\.56\.21:30080 → 200; worker-2 192\.168\.56\.22:30080 → 000/,
    );
    expect(r.stdout).toContain("FAIL  dns:");
    expect(r.stdout).toContain("FAIL  ha:");
    expect(r.stdout).toContain("FAIL  leader-election:");
    expect(r.stdout).toMatch(
      /FAIL {2}pod-network: .*\n\s+worker-2 → worker-1: pod fail 10\.244\.0\.5 wget: download timed out/,
    );
    expect(r.stdout).toContain("smoke: 3 passed, 8 failed, 0 could not run (of 11)");
    // the apiserver is started again even though the HA check failed
    expect(execArgv("master-2")).toEqual(["systemctl stop kube-apiserver", "systemctl start kube-apiserver"]);
  });

  it("could not run, and why: API down → everything after it; deployment not ready → its dependants", async () => {
    useExecutor(
      new RecordingExecutor().respond(/get --raw \/readyz/, {
        code: 1,
        stdout: "The connection to the server 127.0.0.1:6443 was refused",
      }),
    );
    const down = JSON.parse((await khw(dir, ["smoke", "--json"])).stdout);
    expect(down.tests[0]).toMatchObject({ id: "api", outcome: "fail" });
    expect(
      down.tests
        .slice(1)
        .every(
          (t: { outcome: string; detail: string }) =>
            t.outcome === "could-not-run" && t.detail === "the API does not answer on master-1",
        ),
    ).toBe(true);
    expect(execArgv("master-2")).toEqual([]);

    useExecutor(
      new RecordingExecutor()
        .respond(/get --raw \/readyz/, { stdout: "ok" })
        .respond(/ apply -f /, { stdout: "namespace/khw-smoke created\n" })
        .respond(/ delete namespace khw-smoke/, { stdout: "" })
        .respond(/etcdctl/, { stdout: "k8s:enc:aescbc:v1:key1:xx" })
        .respond(/rollout status/, {
          stdout: "error: timed out waiting for the condition\nrc=1\nnginx-7d 0/1 ImagePullBackOff\npod=\n",
        })
        .respond(/nslookup/, {
          code: 3,
          stdout: "error: timed out waiting for the condition on pods/busybox\n",
        })
        .respond(/get lease/, { stdout: "kube-controller-manager=master-2_1\nkube-scheduler=master-1_2\n" }),
    );
    const r = await khw(dir, ["smoke", "--json", "--no-ha", "--timeout", "5"]);
    expect(r.code).toBe(1);
    const byId = Object.fromEntries(JSON.parse(r.stdout).tests.map((t: { id: string }) => [t.id, t]));
    expect(byId["deployment"]).toMatchObject({ outcome: "fail" });
    expect(byId["deployment"].detail).toContain("ImagePullBackOff");
    for (const id of ["logs", "exec", "port-forward", "nodeport", "pod-network"]) {
      expect(byId[id]).toMatchObject({
        outcome: "could-not-run",
        detail: "the nginx Deployment is not ready (see `deployment`)",
      });
    }
    expect(byId["dns"]).toMatchObject({ outcome: "could-not-run" });
    expect(byId["dns"].detail).toContain("pod busybox not ready");
    expect(byId["ha"]).toMatchObject({ outcome: "could-not-run", detail: "skipped by --no-ha" });
    expect(byId["encryption-at-rest"].outcome).toBe("pass");
    expect(byId["leader-election"].outcome).toBe("pass");
    expect(execArgv("master-2")).toEqual([]);
    const rollout = commands("master-1").find((c) => c.kind === "shell" && /rollout status/.test(c.script))!;
    expect(rollout.kind === "shell" && rollout.args).toEqual(["5"]);
  });

  it("a command that times out or loses its connection is a failed test, not a crash", async () => {
    const timeout = systemdHosts(new RecordingExecutor())
      .respond(/rollout status/, () => {
        throw new RemoteExecError("TIMEOUT", "command timed out after 240 s", { host: "master-1" });
      })
      .respond(/nslookup/, () => {
        throw new RemoteExecError("CONNECTION_LOST", "the connection dropped", { host: "master-1" });
      })
      .respond(/get --raw \/readyz/, { stdout: "ok" })
      .respond(/ apply -f /, { stdout: "namespace/khw-smoke created\n" })
      .respond(/ delete namespace khw-smoke/, { stdout: "" })
      .respond(/etcdctl/, { stdout: "k8s:enc:aescbc:v1:key1:xx" })
      .respond(/get lease/, { stdout: "kube-controller-manager=master-1_a\nkube-scheduler=master-1_b\n" });
    useExecutor(timeout);
    const r = await khw(dir, ["smoke", "--json", "--no-ha"]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("internal error");
    const byId = Object.fromEntries(JSON.parse(r.stdout).tests.map((t: { id: string }) => [t.id, t]));
    expect(byId["deployment"]).toMatchObject({ outcome: "fail" });
    expect(byId["deployment"].detail).toContain("command timed out after 240 s");
    expect(byId["logs"]).toMatchObject({ outcome: "could-not-run" });
    expect(byId["dns"]).toMatchObject({ outcome: "fail" });
    expect(byId["dns"].detail).toContain("the connection dropped");
  });

  it("no SSH to the first control plane: every test could not run, with the reason", async () => {
    useExecutor(new RecordingExecutor({ unreachable: ["master-1"] }));
    const r = await khw(dir, ["smoke", "--json"]);
    expect(r.code).toBe(1);
    const tests = JSON.parse(r.stdout).tests;
    expect(tests).toHaveLength(11);
    for (const t of tests) {
      expect(t.outcome).toBe("could-not-run");
      expect(t.detail).toMatch(/^cannot run commands on master-1: \[master-1\] cannot connect/);
    }
  });

  it("a single control plane without a load balancer cannot run the HA test", async () => {
    await khw(dir, ["init"]);
    const spec = readFileSync(join(dir, "cluster.yaml"), "utf8");
    const cut = spec
      .replace(/\n {2}- name: master-2[\s\S]*?(?=\n {2}- name: worker-1)/, "")
      .replace(/\n {2}- name: loadbalancer[\s\S]*?(?=\n\S|\n$)/, "");
    writeFileSync(join(dir, "cluster.yaml"), cut);
    expect((await khw(dir, ["validate"])).code).toBe(0);
    useExecutor(healthyCluster());
    const r = await khw(dir, ["smoke", "--json"]);
    const ha = JSON.parse(r.stdout).tests.find((t: { id: string }) => t.id === "ha");
    expect(ha).toMatchObject({
      outcome: "could-not-run",
      detail: "needs at least 2 control planes behind a load balancer",
    });
  });
});

describe("the scripts parse in a real shell", () => {
  it("status and worker cleanup", () => {
    for (const s of [STATUS_SCRIPT, WORKER_CLEANUP_SCRIPT, WORKER_LEFTOVERS_SCRIPT]) {
      expect(spawnSync("sh", ["-n", "-c", s]).status).toBe(0);
    }
  });
});
