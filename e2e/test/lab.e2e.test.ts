/**
 * End to end on real hosts: `khw lab up` → `khw up` → checks over SSH and from this machine →
 * a second `khw up` changes nothing → `khw reset` → `khw lab down` leaves nothing behind.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBundle, pinnedBinaries } from "@khw/bundle";
import { labDown } from "@khw/lab";
import { acquireLabLock, findLeftovers, labUnavailableReason } from "@khw/lab/test-support";
import { parseClusterYaml } from "@khw/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { events, httpsGet, khw, local, onHost, type Run, until } from "./_support";

const unavailable = labUnavailableReason();
if (unavailable && process.env["CI"]) throw new Error(`the end-to-end test cannot run in CI: ${unavailable}`);
if (unavailable) console.warn(`SKIPPED the end-to-end test: ${unavailable}`);

const workdir = mkdtempSync(join(tmpdir(), "khw-e2e-"));
const out = join(workdir, "out");
const timings: Record<string, number> = {};
let release: (() => void) | undefined;
let up: Run;
let hosts: { masters: string[]; workers: string[]; lb: string; addresses: Record<string, string> };

const CP_UNITS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];
const WORKER_UNITS = ["containerd", "kubelet", "kube-proxy"];
const unitsOf = (host: string) =>
  hosts.masters.includes(host) ? CP_UNITS : hosts.workers.includes(host) ? WORKER_UNITS : ["haproxy"];
const all = () => [...hosts.masters, ...hosts.workers, hosts.lb];
const etcdTls = (host: string) => [
  `--cacert=${join(out, host, "etc/etcd/ca.crt")}`,
  `--cert=${join(out, host, "etc/etcd/etcd-server.crt")}`,
  `--key=${join(out, host, "etc/etcd/etcd-server.key")}`,
];
// Kubernetes objects read back as JSON: walked by field, as kubectl -o json prints them.
// biome-ignore lint/suspicious/noExplicitAny: parsed API objects
type Any = any;
// kubectl v1.34.4 and etcdctl v3.6.16 from the bundle (the versions khw pins), never a machine's own
const pinned = pinnedBinaries();
const kubectl = (...args: string[]) =>
  local(pinned.kubectl, ["--kubeconfig", join(out, "admin/admin.kubeconfig"), ...args]);

async function startTimes(): Promise<Record<string, string>> {
  const times: Record<string, string> = {};
  for (const host of all()) {
    const units = unitsOf(host);
    const r = await onHost(
      workdir,
      host,
      `systemctl show -p ActiveEnterTimestampMonotonic --value ${units.join(" ")}`,
    );
    r.stdout
      .trim()
      .split("\n")
      .forEach((t, i) => {
        times[`${host}/${units[i]}`] = t;
      });
  }
  return times;
}

describe.skipIf(unavailable !== undefined)("khw on a lab of real hosts", () => {
  beforeAll(async () => {
    release = await acquireLabLock({ purpose: "e2e", waitForNetwork: true });
    let t0 = performance.now();
    const bundle = await buildBundle({ kubernetesVersion: "v1.34.4", etcdVersion: "v3.6.16" });
    timings["bundle (cached: " + bundle.cached + ")"] = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const lab = await khw(workdir, ["lab", "up", "--mirror-dir", bundle.dir]);
    expect(lab.code, lab.stderr).toBe(0);
    timings["khw lab up"] = (performance.now() - t0) / 1000;
    const { cluster } = parseClusterYaml(readFileSync(join(workdir, "cluster.yaml"), "utf8"));
    hosts = {
      masters: cluster.controlPlanes.map((n) => n.name),
      workers: cluster.workers.map((n) => n.name),
      lb: cluster.loadBalancer!.name,
      addresses: Object.fromEntries(cluster.nodes.map((n) => [n.name, n.address])),
    };
    up = await khw(workdir, ["up"]);
    timings["khw up (first)"] = up.seconds;
    const gen = await khw(workdir, ["gen", "-o", out]);
    expect(gen.code, gen.stderr).toBe(0);
  });

  afterAll(async () => {
    try {
      const down = await labDown({ workdir });
      timings["khw lab down"] = down.seconds;
      expect(await findLeftovers(down.labName)).toEqual([]);
    } finally {
      release?.();
      rmSync(workdir, { recursive: true, force: true });
      console.log(`e2e timings (s): ${JSON.stringify(timings)}`);
    }
  });

  it("khw up succeeds", () => {
    expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
  });

  it("every installed unit is active", async () => {
    for (const host of all()) {
      const r = await onHost(workdir, host, `systemctl is-active ${unitsOf(host).join(" ")}`, true);
      expect(r.stdout.trim().split("\n"), host).toEqual(unitsOf(host).map(() => "active"));
    }
  });

  it("etcd is healthy over TLS with every member, and refuses a client without a certificate", async () => {
    const m = hosts.masters[0]!;
    const endpoints = hosts.masters.map((h) => `https://${hosts.addresses[h]}:2379`).join(",");
    const health = await local(
      pinned.etcdctl,
      [`--endpoints=${endpoints}`, ...etcdTls(m), "endpoint", "health"],
      {},
    );
    expect(health.code, health.stderr).toBe(0);
    expect((health.stdout + health.stderr).match(/is healthy/g)?.length).toBe(hosts.masters.length);
    const members = await local(
      pinned.etcdctl,
      [`--endpoints=${endpoints}`, ...etcdTls(m), "member", "list"],
      {},
    );
    for (const h of hosts.masters)
      expect(members.stdout).toContain(`, started, ${h}, https://${hosts.addresses[h]}:2380`);
    const noCert = await local(
      pinned.etcdctl,
      [
        `--endpoints=${endpoints}`,
        `--cacert=${join(out, m, "etc/etcd/ca.crt")}`,
        "--dial-timeout=3s",
        "--command-timeout=5s",
        "member",
        "list",
      ],
      {},
    );
    expect(noCert.code).not.toBe(0);
  });

  it("HAProxy forwards :6443 to the control planes and keeps forwarding when one apiserver stops", async () => {
    const url = `https://${hosts.addresses[hosts.lb]}:6443/version`;
    const ca = join(out, hosts.masters[0]!, "var/lib/kubernetes/pki/ca.crt");
    const v = await httpsGet(url, ca);
    expect(v.status).toBe(200);
    expect(JSON.parse(v.body).gitVersion).toBe("v1.34.4");
    await onHost(workdir, hosts.masters[0]!, "systemctl stop kube-apiserver");
    try {
      // Once HAProxy's health check has marked it down, every request succeeds.
      await until("HAProxy to route around the stopped apiserver", async () => {
        for (let i = 0; i < 10; i++) if ((await httpsGet(url, ca)).status !== 200) return undefined;
        return true;
      });
      for (let i = 0; i < 20; i++) expect((await httpsGet(url, ca)).status).toBe(200);
      const nodes = await kubectl("get", "--raw", "/readyz");
      expect(nodes.stdout.trim()).toBe("ok");
    } finally {
      await onHost(workdir, hosts.masters[0]!, "systemctl start kube-apiserver");
    }
  });

  it("both apiservers are ready, and exactly one controller-manager and one scheduler lead", async () => {
    for (const m of hosts.masters) {
      // An apiserver restarted by the HA test above needs a few seconds for its post-start hooks.
      const r = await until(`${m}'s apiserver ready`, async () => {
        const x = await onHost(
          workdir,
          m,
          "kubectl --kubeconfig /var/lib/kubernetes/admin.kubeconfig get --raw /readyz",
          true,
        );
        return x.code === 0 ? x : undefined;
      });
      expect(r.stdout.trim()).toBe("ok");
    }
    expect((await kubectl("get", "--raw", "/readyz")).stdout.trim()).toBe("ok");
    for (const lease of ["kube-controller-manager", "kube-scheduler"]) {
      const holder = await until(`a ${lease} leader`, async () => {
        const r = await kubectl(
          "-n",
          "kube-system",
          "get",
          "lease",
          lease,
          "-o",
          "jsonpath={.spec.holderIdentity}",
        );
        return r.code === 0 && r.stdout ? r.stdout : undefined;
      });
      expect(
        hosts.masters.some((m) => holder.startsWith(`${m}_`)),
        holder,
      ).toBe(true);
    }
  });

  it("secrets are encrypted at rest (aescbc)", async () => {
    await kubectl("delete", "secret", "kubernetes-the-hard-way", "--ignore-not-found");
    const created = await kubectl(
      "create",
      "secret",
      "generic",
      "kubernetes-the-hard-way",
      "--from-literal=mykey=mydata",
    );
    expect(created.code, created.stderr).toBe(0);
    const m = hosts.masters[0]!;
    const raw = await local(
      pinned.etcdctl,
      [
        `--endpoints=https://${hosts.addresses[m]}:2379`,
        ...etcdTls(m),
        "get",
        "/registry/secrets/default/kubernetes-the-hard-way",
        "--print-value-only",
      ],
      {},
    );
    expect(raw.stdout.startsWith("k8s:enc:aescbc:v1:key1:")).toBe(true);
    expect(raw.stdout).not.toContain("mydata");
  });

  it("the workers register: worker-1 with its certificate, worker-2 through TLS bootstrapping, each with its own IP and a pod CIDR", async () => {
    const nodes = await until(
      "every worker registered",
      async () => {
        const r = await kubectl("get", "nodes", "-o", "json");
        const items = r.code === 0 ? (JSON.parse(r.stdout).items as Array<Record<string, Any>>) : [];
        return items.length === hosts.workers.length ? items : undefined;
      },
      120,
    );
    for (const n of nodes) {
      const name = n["metadata"].name as string;
      expect(hosts.workers).toContain(name);
      const ip = (n["status"].addresses as Array<{ type: string; address: string }>).find(
        (a) => a.type === "InternalIP",
      );
      expect(ip?.address, `${name}'s InternalIP (the --node-ip trap)`).toBe(hosts.addresses[name]);
      expect(n["spec"].podCIDR, `${name} has a pod CIDR from the controller-manager`).toMatch(
        /^10\.244\.\d+\.0\/24$/,
      );
    }
    const csrs = JSON.parse((await kubectl("get", "csr", "-o", "json")).stdout).items as Array<
      Record<string, any>
    >;
    const approved = (c: Record<string, Any>) =>
      (c["status"]?.conditions ?? []).some((x: { type: string }) => x.type === "Approved") &&
      c["status"]?.certificate;
    const client = csrs.filter((c) => c["spec"].signerName === "kubernetes.io/kube-apiserver-client-kubelet");
    expect(
      client.some((c) => /^system:bootstrap:[a-z0-9]{6}$/.test(c["spec"].username) && approved(c)),
      "worker-2's bootstrap client CSR approved and issued",
    ).toBe(true);
    const serving = csrs.filter((c) => c["spec"].signerName === "kubernetes.io/kubelet-serving");
    for (const w of hosts.workers.filter((w) => w !== "worker-1")) {
      expect(
        serving.some((c) => c["spec"].username === `system:node:${w}` && approved(c)),
        `${w}'s serving CSR approved by khw`,
      ).toBe(true);
    }
  });

  it("the apiserver reaches every kubelet (apiserver→kubelet RBAC and TLS)", async () => {
    for (const w of hosts.workers) {
      const r = await until(`the kubelet of ${w} through the API`, async () => {
        const x = await kubectl("get", "--raw", `/api/v1/nodes/${w}/proxy/healthz`);
        return x.code === 0 ? x : undefined;
      });
      expect(r.stdout.trim()).toBe("ok");
    }
  });

  it("kube-proxy programs the service rules on every worker", async () => {
    for (const w of hosts.workers) {
      const rules = await until(`kube-proxy's rules on ${w}`, async () => {
        const r = await onHost(workdir, w, "iptables -t nat -S KUBE-SERVICES 2>/dev/null || true");
        return r.stdout.includes("10.96.0.1/32") ? r.stdout : undefined;
      });
      expect(rules).toMatch(/-d 10\.96\.0\.1\/32 .*--dport 443/);
    }
  });

  it("private keys are 0600; the CA and service-account keys exist only on control planes", async () => {
    for (const host of all()) {
      const keys = await onHost(
        workdir,
        host,
        "find /etc /var/lib -xdev \\( -name '*.key' -o -name '*-key.pem' \\) -not -path '/etc/ssh/*' -printf '%m %p\\n' 2>/dev/null || true",
      );
      for (const line of keys.stdout.trim().split("\n").filter(Boolean)) expect(line, host).toMatch(/^600 /);
      const names = keys.stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("/").pop());
      if (!hosts.masters.includes(host)) {
        expect(names, host).not.toContain("ca.key");
        expect(names, host).not.toContain("service-account.key");
      } else {
        expect(names, host).toContain("ca.key");
        expect(names, host).toContain("service-account.key");
      }
    }
    const lbFiles = await onHost(
      workdir,
      hosts.lb,
      "find /var/lib/kubernetes /etc/etcd -type f 2>/dev/null | sort || true",
    );
    expect(lbFiles.stdout.trim(), "the load balancer holds no cluster credentials").toBe("");
    for (const w of hosts.workers) {
      const files = await onHost(workdir, w, "ls /var/lib/kubernetes/pki | sort");
      const expected = ["ca.crt", "kube-proxy.crt", "kube-proxy.key"];
      const own = existsSync(join(out, w, `var/lib/kubernetes/pki/${w}.crt`)) ? [`${w}.crt`, `${w}.key`] : [];
      expect(files.stdout.trim().split("\n"), w).toEqual([...expected, ...own].sort());
    }
  });

  it("a second khw up changes nothing and restarts nothing", async () => {
    const before = await startTimes();
    const again = await khw(workdir, ["up", "--json"]);
    timings["khw up (converged)"] = again.seconds;
    expect(again.code, again.stderr).toBe(0);
    const done = events(again.stdout).find((e) => e["type"] === "run-done");
    expect(done).toMatchObject({ ok: true, changes: 0 });
    expect(await startTimes()).toEqual(before);
  });

  it("khw smoke: every smoke test of the guide passes (pods, logs, exec, port-forward, NodePort, DNS, HA)", async () => {
    const r = await khw(workdir, ["smoke", "--json"]);
    timings["khw smoke"] = r.seconds;
    const report = JSON.parse(r.stdout) as { tests: Array<{ id: string; outcome: string; detail: string }> };
    console.log(`khw smoke: ${report.tests.map((t) => `${t.id}=${t.outcome}`).join(" ")}`);
    expect(
      report.tests.filter((t) => t.outcome !== "pass").map((t) => `${t.id}: ${t.outcome}: ${t.detail}`),
    ).toEqual([]);
    expect(r.code).toBe(0);
  });

  it("the pod network is Flannel: kube-flannel-ds desired = ready = the workers", async () => {
    const ds = JSON.parse(
      (await kubectl("-n", "kube-flannel", "get", "ds", "kube-flannel-ds", "-o", "json")).stdout,
    );
    expect([ds.status.desiredNumberScheduled, ds.status.numberReady]).toEqual([
      hosts.workers.length,
      hosts.workers.length,
    ]);
    const pods = await kubectl("get", "pods", "-A", "-o", "wide");
    console.log(`kubectl get pods -A -o wide:\n${pods.stdout}`);
    expect(pods.code, pods.stderr).toBe(0);
  });

  it("khw reset leaves the hosts as they were", async () => {
    const r = await khw(workdir, ["reset", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    for (const host of all()) {
      const units = unitsOf(host);
      const left = await onHost(
        workdir,
        host,
        `ls /etc/systemd/system/ | grep -E '^(${units.join("|")})\\.service$' || true; ls -d /var/lib/kubernetes /etc/etcd /var/lib/etcd /var/lib/kubelet /var/lib/kube-proxy /usr/local/bin/kube* /usr/local/bin/etcd* 2>/dev/null || true`,
      );
      expect(left.stdout.trim(), host).toBe("");
    }
  });
});
