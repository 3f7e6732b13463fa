// khw status, certs renew, smoke and reset against real OpenSSH servers in network namespaces whose
// /etc, /var, /opt and /usr/local are private overlays (up-sshd's sandbox hosts), so nothing of this
// machine is touched. There is no systemd inside: /usr/local/bin/systemctl is a stub that remembers
// unit states and logs every call, and the component binaries are stubs that print a version.
// Real here: SSH (keys, known_hosts accept-new, sudo for a non-root user), SFTP uploads, the status
// and cleanup scripts in a real shell, sed over the real certificate files, `haproxy -v`, `rm -rf`.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type HostTarget, SshExecutor } from "@khw/remote-exec";
import { pinnedBinaries, prerequisiteSkip } from "@khw/test-kit/pinned";
import {
  createSandboxLab,
  type SandboxLab,
  type SandboxSshd,
  startSandboxSshd,
} from "@khw/test-kit/sandbox-sshd";
import { generateKey } from "@khw/test-kit/sshd";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderArtifacts } from "../src/artifacts";
import { loadSpecFile } from "../src/spec-file";
import { readWorkdir, resetSeamsForTests, setSeamsForTests } from "../src/workdir";
import { cachedKeys } from "./day2-helpers";
import { khw, tempDir } from "./helpers";

const FAKE_SYSTEMCTL = `#!/bin/sh
# khw test stub: a systemd that only remembers unit states (in /var/lib/fake-systemd) and logs calls
d=/var/lib/fake-systemd; mkdir -p "$d"
echo "$*" >> /var/log/fake-systemctl.log
cmd=$1; shift
q=0; if [ "$1" = "--quiet" ]; then q=1; shift; fi
case "$cmd" in
  is-active) s=$(cat "$d/$1" 2>/dev/null || echo inactive); [ $q = 1 ] || echo "$s"; [ "$s" = active ] ;;
  restart|start) echo active > "$d/$1" ;;
  stop) echo inactive > "$d/$1" ;;
  disable) if [ "$q" = 0 ] && [ "$1" = "--now" ]; then shift; fi
    [ -f "/etc/systemd/system/$1.service" ] || [ -f "/lib/systemd/system/$1.service" ] || { echo "Unit file $1.service does not exist." >&2; exit 1; }
    echo inactive > "$d/$1" ;;
  *) exit 0 ;;
esac
`;

const NAMES = ["master-1", "worker-1", "lb"];
let lab: SandboxLab;
const sshds: SandboxSshd[] = [];
let work: { dir: string; cleanup: () => void };
let keyPath: string;
let ssh: SshExecutor;

const target = (i: number): HostTarget => ({
  name: NAMES[i]!,
  host: lab.hosts[i]!.address,
  user: i === 1 ? "khw" : "root",
  identityFile: keyPath,
});

function spec(extra = ""): string {
  const [m, w, l] = lab.hosts.map((h) => h.address);
  return `apiVersion: khw/v1alpha1
kind: Cluster
name: sandbox
nodes:
  - { name: master-1, role: controlplane, address: ${m}, ssh: { user: root, identityFile: id_ed25519 } }
  - { name: worker-1, role: worker, address: ${w}, ssh: { user: khw, identityFile: id_ed25519 } }
  - { name: lb, role: loadbalancer, address: ${l}, ssh: { user: root, identityFile: id_ed25519 } }
${extra}`;
}

async function sh(i: number, script: string): Promise<string> {
  const r = await ssh.shell(target(i), script, { sudo: true, check: false });
  return r.stdout;
}

/** The real `khw` (from sources) on a pseudo-terminal (`script`), `input` typed at it. */
function onTerminal(args: string[], input: string): { code: number | null; out: string } {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
  delete env["INIT_CWD"]; // khw-dev.mjs would chdir there
  const cmd = ["node", join(__dirname, "../../../scripts/khw-dev.mjs"), ...args].join(" ");
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], { cwd: work.dir, input, env, encoding: "utf8" });
  return { code: r.status, out: r.stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "") };
}

const systemctlLog = (i: number) => sh(i, "cat /var/log/fake-systemctl.log 2>/dev/null; true");

beforeAll(async () => {
  work = tempDir();
  lab = await createSandboxLab(3); // takes the machine-wide lock on its /27: sandbox test files take turns
  const key = await generateKey(work.dir, "id_ed25519");
  keyPath = key.privateKeyPath;
  for (const [i, h] of lab.hosts.entries()) {
    sshds.push(
      await startSandboxSshd({
        netns: h.netns,
        address: h.address,
        authorizedKey: key.publicKey,
        ...(i === 1 ? { sudoUser: "khw" } : {}),
      }),
    );
  }
  writeFileSync(join(work.dir, "cluster.yaml"), spec());
  setSeamsForTests({ keys: cachedKeys });
  expect((await khw(work.dir, ["gen"])).code).toBe(0);
  ssh = new SshExecutor({ hostKeyChecking: "insecure" });
  // the hosts as `khw up` would have left them: stub systemd and binaries, the PKI pushed
  const loaded = await loadSpecFile(work.dir, undefined, { allowDefault: false });
  const artifacts = renderArtifacts(loaded.cluster, readWorkdir(work.dir, loaded.cluster));
  const stub = (text: string) => `#!/bin/sh\necho "${text}"\n`;
  const bins: Record<string, string> = {
    etcd: "etcd Version: 3.6.16",
    "kube-apiserver": "Kubernetes v1.34.4",
    "kube-controller-manager": "Kubernetes v1.34.4",
    "kube-scheduler": "Kubernetes v1.33.0",
    containerd: "containerd github.com/containerd/containerd/v2 v2.1.4 0123abc",
    kubelet: "Kubernetes v1.34.4",
    "kube-proxy": "Kubernetes v1.34.4",
  };
  const states: Record<string, Record<string, string>> = {
    "master-1": {
      etcd: "active",
      "kube-apiserver": "active",
      "kube-controller-manager": "active",
      "kube-scheduler": "failed",
    },
    "worker-1": { containerd: "active", kubelet: "active", "kube-proxy": "active" },
    lb: {},
  };
  for (const [i, name] of NAMES.entries()) {
    const t = target(i);
    await ssh.upload(t, {
      path: "/usr/local/bin/systemctl",
      content: FAKE_SYSTEMCTL,
      mode: 0o755,
      sudo: true,
    });
    for (const [bin, text] of Object.entries(bins)) {
      await ssh.upload(t, { path: `/usr/local/bin/${bin}`, content: stub(text), mode: 0o755, sudo: true });
    }
    for (const [svc, state] of Object.entries(states[name]!)) {
      await ssh.upload(t, { path: `/var/lib/fake-systemd/${svc}`, content: `${state}\n`, sudo: true });
    }
    for (const f of artifacts.files.filter((x) => x.host === name)) {
      await ssh.upload(t, { path: f.path, content: f.contents, mode: f.mode, sudo: true });
    }
  }
}, 600_000);

afterAll(async () => {
  resetSeamsForTests();
  await ssh?.close();
  for (const s of sshds) await s.stop();
  await lab?.destroy();
  work?.cleanup();
});

// etcd v3.6.16 from the bundle (the version khw pins), never a machine's own; in CI a missing bundle fails.
const pinned = pinnedBinaries();
const noEtcd = prerequisiteSkip(pinned.missing);

describe("day-2 commands against real sshd hosts", () => {
  it("khw status: states, versions and the certificates read over SSH", async () => {
    const r = await khw(work.dir, ["status", "--json"]);
    expect(r.code).toBe(1); // kube-scheduler failed and at the wrong version, haproxy inactive
    const report = JSON.parse(r.stdout);
    const host = (n: string) => report.hosts.find((h: { host: string }) => h.host === n);
    expect(report.hosts.every((h: { reachable: boolean }) => h.reachable)).toBe(true);
    const m1 = host("master-1");
    expect(
      m1.components.map((c: { name: string; state: string; versionOk: boolean }) => [
        c.name,
        c.state,
        c.versionOk,
      ]),
    ).toEqual([
      ["etcd", "active", true],
      ["kube-apiserver", "active", true],
      ["kube-controller-manager", "active", true],
      ["kube-scheduler", "failed", false],
    ]);
    const apiCert = m1.components.find((c: { name: string }) => c.name === "kube-apiserver").certificate;
    expect(apiCert.status).toBe("valid");
    expect(apiCert.daysLeft).toBeGreaterThanOrEqual(364);
    expect(m1.certificates.map((c: { path: string }) => c.path)).toContain("/etc/etcd/etcd-server.crt");
    expect(m1.certificates.every((c: { status: string }) => c.status === "valid")).toBe(true);
    // a non-root user with sudo reads the root-owned certificates
    const w1 = host("worker-1");
    expect(w1.certificates.find((c: { path: string }) => c.path.endsWith("/worker-1.crt"))).toMatchObject({
      status: "valid",
      subject: "system:node:worker-1",
    });
    expect(
      w1.components.every((c: { state: string; versionOk: boolean }) => c.state === "active" && c.versionOk),
    ).toBe(true);
    const lb = host("lb").components[0];
    expect(lb.name).toBe("haproxy");
    expect(lb.state).toBe("inactive");
    expect(lb.version).toMatch(/^HA-?Proxy version \d+\.\d+/);
    const text = await khw(work.dir, ["status"]);
    expect(text.stdout).toMatch(
      /master-1\s+kube-scheduler\s+failed\s+v1\.33\.0 \(spec: v1\.34\.4\)\s+\d{4}-\d\d-\d\d \(\d+d\)/,
    );
  });

  it("khw status: an unreachable host is reported, the others still answer", async () => {
    writeFileSync(
      join(work.dir, "four.yaml"),
      spec(
        `  - { name: worker-9, role: worker, address: ${lab.unusedAddress}, ssh: { user: root, identityFile: id_ed25519 } }\n`,
      ).replace(/nodes:\n/, "nodes:\n"),
    );
    // worker-9 has no certificate in pki/ yet: issue it (gen -f) first
    expect((await khw(work.dir, ["gen", "-f", "four.yaml", "-o", "out4"])).code).toBe(0);
    const r = await khw(work.dir, ["status", "-f", "four.yaml", "--json"]);
    const report = JSON.parse(r.stdout);
    const w9 = report.hosts.find((h: { host: string }) => h.host === "worker-9");
    expect(w9.reachable).toBe(false);
    expect(w9.error).toContain("worker-9");
    expect(
      report.hosts.filter((h: { reachable: boolean }) => h.reachable).map((h: { host: string }) => h.host),
    ).toEqual(["master-1", "worker-1", "lb"]);
    expect(r.code).toBe(1);
  });

  it("khw certs renew kube-proxy: the new certificate lands on the worker (via sudo) and only kube-proxy restarts", async () => {
    const before = { m: await systemctlLog(0), w: await systemctlLog(1) };
    const r = await khw(work.dir, ["certs", "renew", "kube-proxy"]);
    expect(r.code, r.stderr).toBe(0);
    const local = readFileSync(join(work.dir, "pki/kube-proxy.crt"), "utf8");
    const remote = (
      await ssh.download(target(1), "/var/lib/kubernetes/pki/kube-proxy.crt", { sudo: true })
    ).toString();
    expect(remote).toBe(local);
    expect((await sh(1, "stat -c '%a %U' /var/lib/kubernetes/pki/kube-proxy.crt")).trim()).toBe("644 root");
    const wNew = (await systemctlLog(1)).slice(before.w.length).trim().split("\n");
    expect(wNew).toEqual(["restart kube-proxy", "is-active kube-proxy"]);
    expect(await systemctlLog(0)).toBe(before.m);
    expect((await sh(1, "cat /var/lib/fake-systemd/kube-proxy")).trim()).toBe("active");
  });

  it("khw smoke: without kubectl on the control plane the API test fails and says why; the rest could not run", async () => {
    const r = await khw(work.dir, ["smoke", "--json"]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.tests[0]).toMatchObject({ id: "api", outcome: "fail" });
    expect(out.tests[0].hint).toContain("kubectl or the admin kubeconfig is missing");
    expect(out.tests.slice(1).every((t: { outcome: string }) => t.outcome === "could-not-run")).toBe(true);
    expect(out).toMatchObject({ passed: 0, failed: 1, couldNotRun: 10 });
  });

  it.skipIf(noEtcd !== undefined)(
    `khw smoke against a real etcd: the encryption-at-rest check reads the stored Secret with etcdctl over TLS${noEtcd ? ` — skipped: ${noEtcd}` : ""}`,
    async () => {
      // A real etcd (the bundle's v3.6.16, pinnedBinaries) inside master-1's namespace with khw's certificates; /usr/local/bin/etcdctl
      // runs the real etcdctl; a kubectl stub answers /readyz and, on apply, stores the Secret the way an
      // apiserver with aescbc (or, with /var/lib/fake-plain, without encryption) would.
      const etcdctl = `${pinned.etcdctl} --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/ca.crt --cert=/etc/etcd/etcd-server.crt --key=/etc/etcd/etcd-server.key`;
      const kubectlStub = `#!/bin/sh
for a in "$@"; do [ "$a" = /readyz ] && { echo ok; exit 0; }; done
case " $* " in
  *" apply "*)
    key=/registry/secrets/khw-smoke/kubernetes-the-hard-way
    if [ -f /var/lib/fake-plain ]; then printf 'k8s\\000\\n\\014v1\\022\\006Secret' | ${etcdctl} put "$key" >/dev/null
    else ${etcdctl} put "$key" "k8s:enc:aescbc:v1:key1:$(head -c 32 /dev/urandom | base64)" >/dev/null; fi && echo created; exit $? ;;
esac
echo "kubectl test stub: not supported: $*" >&2; exit 1
`;
      await ssh.upload(target(0), { path: "/usr/local/bin/kubectl", content: kubectlStub, mode: 0o755 });
      await ssh.upload(target(0), {
        path: "/usr/local/bin/etcdctl",
        content: `#!/bin/sh\nexec ${pinned.etcdctl} "$@"\n`,
        mode: 0o755,
      });
      const pid = (
        await sh(
          0,
          `mkdir -p /var/lib/etcd-test && setsid ${pinned.etcd} --name m --data-dir /var/lib/etcd-test --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster m=http://127.0.0.1:2380 --cert-file /etc/etcd/etcd-server.crt --key-file /etc/etcd/etcd-server.key --trusted-ca-file /etc/etcd/ca.crt --client-cert-auth >/var/log/etcd-test.log 2>&1 </dev/null & echo $!`,
        )
      ).trim();
      try {
        expect(
          await sh(
            0,
            `for i in $(seq 1 100); do ${etcdctl} endpoint health >/dev/null 2>&1 && { echo healthy; exit 0; }; sleep 0.2; done; cat /var/log/etcd-test.log`,
          ),
        ).toContain("healthy");
        const run = async () => {
          const r = await khw(work.dir, ["smoke", "--json", "--timeout", "1"]);
          return Object.fromEntries(JSON.parse(r.stdout).tests.map((t: { id: string }) => [t.id, t]));
        };
        const enc = await run();
        expect(enc["api"]).toMatchObject({ outcome: "pass" });
        expect(enc["encryption-at-rest"]).toMatchObject({
          outcome: "pass",
          detail:
            "etcd /registry/secrets/khw-smoke/kubernetes-the-hard-way starts with k8s:enc:aescbc:v1:key1",
        });
        expect(enc["deployment"]).toMatchObject({ outcome: "fail" });
        expect(enc["logs"]).toMatchObject({ outcome: "could-not-run" });
        expect(enc["ha"]).toMatchObject({
          outcome: "could-not-run",
          detail: "needs at least 2 control planes behind a load balancer",
        });
        await ssh.upload(target(0), { path: "/var/lib/fake-plain", content: "" });
        const plain = await run();
        expect(plain["encryption-at-rest"]).toMatchObject({ outcome: "fail" });
        expect(plain["encryption-at-rest"].detail).toMatch(
          /is not encrypted with aescbc key1 \(starts with 'k8s\.\.\.v1/,
        );
      } finally {
        await sh(
          0,
          `kill ${pid} 2>/dev/null; rm -f /usr/local/bin/kubectl /usr/local/bin/etcdctl /var/lib/fake-plain; true`,
        );
      }
    },
  );

  it("khw smoke's deployment, logs, exec, port-forward, NodePort and lease scripts in a real shell with real curl", async () => {
    // kubectl is a stub that answers like a working cluster; port-forward starts a real HTTP server on
    // the local port (as kubectl would forward one), and worker-1 really serves the NodePort.
    const node = process.execPath;
    const kubectlStub = `#!/bin/sh
case " $* " in
  *" /readyz "*) echo ok ;;
  *" apply "*) echo "namespace/khw-smoke created" ;;
  *" rollout status "*) echo 'deployment "nginx" successfully rolled out' ;;
  *"jsonpath={.items[0].metadata.name}"*) printf nginx-1 ;;
  *" get pods "*) echo "nginx-1   1/1   Running   0   5s" ;;
  *" logs nginx-1 "*) echo "127.0.0.1 - - GET / 200" ;;
  *" exec nginx-1 -- nginx -v "*) echo "nginx version: nginx/1.27.0" >&2 ;;
  *" port-forward pod/nginx-1 "*)
    port=$(echo "$*" | sed -n 's/.* \\([0-9][0-9]*\\):80.*/\\1/p')
    exec ${node} -e "require('http').createServer((q,s)=>s.end('ok')).listen($port,'127.0.0.1')" ;;
  *" get lease "*) printf 'kube-controller-manager=master-1_a1\\nkube-scheduler=master-1_b2\\n' ;;
  *" delete namespace khw-smoke "*) : ;;
  *) echo "kubectl test stub: not supported: $*" >&2; exit 1 ;;
esac
`;
    await ssh.upload(target(0), { path: "/usr/local/bin/kubectl", content: kubectlStub, mode: 0o755 });
    const server = (
      await sh(
        1,
        `setsid ${node} -e "require('http').createServer((q,s)=>s.end('nginx')).listen(30080,'0.0.0.0')" >/dev/null 2>&1 </dev/null & echo $!; sleep 0.5`,
      )
    ).trim();
    try {
      const run = async () => {
        const r = await khw(work.dir, ["smoke", "--json", "--timeout", "1"]);
        return Object.fromEntries(JSON.parse(r.stdout).tests.map((t: { id: string }) => [t.id, t]));
      };
      const t = await run();
      const w1 = lab.hosts[1]!.address;
      expect(t["deployment"]).toMatchObject({
        outcome: "pass",
        detail: "deployment/nginx ready (pod nginx-1)",
      });
      expect(t["logs"]).toMatchObject({ outcome: "pass" });
      expect(t["exec"]).toMatchObject({ outcome: "pass", detail: "nginx version: nginx/1.27.0" });
      expect(t["port-forward"]).toMatchObject({
        outcome: "pass",
        detail: "127.0.0.1:18080 → nginx-1:80 answered 200",
      });
      expect(t["nodeport"]).toMatchObject({ outcome: "pass", detail: `worker-1 ${w1}:30080 → 200` });
      expect(t["dns"]).toMatchObject({ outcome: "could-not-run" });
      expect(t["leader-election"]).toMatchObject({
        outcome: "pass",
        detail: "kube-controller-manager leader master-1, kube-scheduler leader master-1",
      });
      // the port-forward process was stopped
      expect((await sh(0, "curl -s -m 2 http://127.0.0.1:18080/ || echo closed")).trim()).toBe("closed");
      await sh(1, `kill ${server}`);
      const down = await run();
      expect(down["nodeport"].outcome).toBe("fail");
      // asked again until --timeout (1 s) passed, and says for how long
      expect(down["nodeport"].detail).toMatch(
        new RegExp(`^worker-1 ${w1.replace(/\./g, "\\.")}:30080 → 000 \\(asked for \\d+ s\\)$`),
      );
    } finally {
      await sh(1, `kill ${server} 2>/dev/null; true`);
      await sh(0, "rm -f /usr/local/bin/kubectl; true");
    }
  });

  it("khw reset on a terminal: asks; 'n' changes nothing", async () => {
    const before = await systemctlLog(0);
    const r = onTerminal(["reset"], "n\n");
    expect(r.code).toBe(1);
    expect(r.out).toContain("Reset cluster 'sandbox': stop and remove etcd");
    expect(r.out).toContain("[y/N]");
    expect(r.out).toContain("reset: nothing done");
    expect(await systemctlLog(0)).toBe(before);
  });

  it("khw reset answered 'y' on a terminal: services stopped in reverse order, khw's files, binaries and data gone, the rest of /etc kept", async () => {
    const before = await systemctlLog(0);
    const tty = onTerminal(["reset"], "y\n");
    expect(tty.code, tty.out).toBe(0);
    const r = { stdout: tty.out };
    expect(r.stdout).toContain(
      "[reset] master-1: stopped kube-scheduler, kube-controller-manager, kube-apiserver, etcd; files removed",
    );
    expect(r.stdout).toContain("[reset] worker-1: stopped kube-proxy, kubelet, containerd; files removed");
    const log = (await systemctlLog(0)).slice(before.length).trim().split("\n");
    expect(log).toEqual([
      "disable --now kube-scheduler",
      "disable --now kube-controller-manager",
      "disable --now kube-apiserver",
      "disable --now etcd",
      "daemon-reload",
      "reset-failed",
    ]);
    const gone = (i: number, paths: string[]) =>
      sh(
        i,
        `for p in ${paths.join(" ")}; do [ -e "$p" ] && echo "still $p"; done; [ -e /etc/hostname ] && echo kept-etc; true`,
      );
    expect(
      (
        await gone(0, [
          "/var/lib/kubernetes",
          "/etc/etcd",
          "/usr/local/bin/etcd",
          "/usr/local/bin/kube-apiserver",
          "/etc/systemd/system/etcd.service",
        ])
      ).trim(),
    ).toBe("kept-etc");
    expect(
      (
        await gone(1, [
          "/var/lib/kubernetes",
          "/var/lib/kubelet",
          "/usr/local/bin/kubelet",
          "/etc/systemd/system/kubelet.service",
        ])
      ).trim(),
    ).toBe("kept-etc");
    expect((await gone(2, ["/etc/haproxy/haproxy.cfg"])).trim()).toBe("kept-etc");
    // the local PKI stays; a second reset is harmless
    expect(r.stdout).toContain("kept pki");
    const again = await khw(work.dir, ["reset", "--yes"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("✓ reset 3 host(s)");
    expect(again.stdout).not.toContain("kube-apiserver"); // its unit file is gone: nothing of it to stop
  });
});
