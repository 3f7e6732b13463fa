/**
 * The default e2e suite (`pnpm test:e2e`, what CI runs): on one lab of the default spec, `khw up` →
 * checks over SSH and from this machine → a second `khw up` changes nothing → `khw smoke` → the load
 * balancer's readiness check → `khw reset` → `khw up` → `khw smoke` → `khw lab down` leaves nothing behind.
 * Each scenario is named, bounded and timed; the table of times is printed at the end.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, labSkipReason, resetLeftovers, startLab, stopLab } from "./_lab";
import { recordStep, scenario, summaryTable } from "./_scenario";
import { events, httpsGet, khw, local, onHost, type Run, until } from "./_support";

const SUITE = "default";
const unavailable = labSkipReason(SUITE);

let lab: Lab;
let release: () => void = () => {};
let up: Run;
let hosts: Lab["hosts"];
let workdir: string;
let out: string;
const all = () => lab.all();
const unitsOf = (h: string) => lab.unitsOf(h);
const kubectl = (...args: string[]) => lab.kubectl(...args);
const startTimes = () => lab.startTimes();
const etcdTls = (host: string) => [
  `--cacert=${join(out, host, "etc/etcd/ca.crt")}`,
  `--cert=${join(out, host, "etc/etcd/etcd-server.crt")}`,
  `--key=${join(out, host, "etc/etcd/etcd-server.key")}`,
];
// Kubernetes objects read back as JSON: walked by field, as kubectl -o json prints them.
// biome-ignore lint/suspicious/noExplicitAny: parsed API objects
type Any = any;

describe.skipIf(unavailable !== undefined)("khw on a lab of real hosts", () => {
  beforeAll(async () => {
    const started = await startLab({ suite: SUITE });
    lab = started.lab;
    release = started.release;
    up = started.up!;
    hosts = lab.hosts;
    workdir = lab.workdir;
    out = lab.out;
  });

  afterAll(async () => {
    try {
      if (lab) await stopLab(SUITE, lab.workdir, release);
    } finally {
      console.log(`e2e ${SUITE} suite:\n${summaryTable()}`);
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

  it("khw status: every component active and every certificate present, on a healthy cluster exit 0", async () => {
    const r = await khw(workdir, ["status"]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  });

  it("etcd is healthy over TLS with every member, and refuses a client without a certificate", async () => {
    const m = hosts.masters[0]!;
    const endpoints = hosts.masters.map((h) => `https://${hosts.addresses[h]}:2379`).join(",");
    const health = await local(
      "etcdctl",
      [`--endpoints=${endpoints}`, ...etcdTls(m), "endpoint", "health"],
      {},
    );
    expect(health.code, health.stderr).toBe(0);
    expect((health.stdout + health.stderr).match(/is healthy/g)?.length).toBe(hosts.masters.length);
    const members = await local("etcdctl", [`--endpoints=${endpoints}`, ...etcdTls(m), "member", "list"], {});
    for (const h of hosts.masters)
      expect(members.stdout).toContain(`, started, ${h}, https://${hosts.addresses[h]}:2380`);
    const noCert = await local(
      "etcdctl",
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
    const url = `https://${hosts.addresses[hosts.lb!]}:6443/version`;
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
      "etcdctl",
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
      if (hosts.podNetwork === "bridge-routes") {
        // One owner of each worker's pod range: the spec's slice (CNI config and routes), no allocation.
        expect(n["spec"].podCIDR, `${name}: the controller-manager allocates no pod CIDR`).toBeUndefined();
      } else {
        expect(n["spec"].podCIDR, `${name} has a pod CIDR from the controller-manager`).toMatch(
          /^10\.244\.\d+\.0\/24$/,
        );
      }
    }
    const csrs = JSON.parse((await kubectl("get", "csr", "-o", "json")).stdout).items as Array<
      Record<string, Any>
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
      hosts.lb!,
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

  scenario(SUITE, "a second khw up changes nothing and restarts nothing", 3, async () => {
    const before = await startTimes();
    const again = await khw(workdir, ["up", "--json"]);
    recordStep(SUITE, "khw up (converged)", again.seconds, again.code === 0);
    expect(again.code, again.stderr).toBe(0);
    const done = events(again.stdout).find((e) => e["type"] === "run-done");
    expect(done).toMatchObject({ ok: true, changes: 0 });
    expect(await startTimes()).toEqual(before);
  });

  scenario(SUITE, "khw smoke: every smoke test of the guide passes", 6, async () => {
    await lab.smokePasses();
    await podsInTheirNodesSlice();
  });

  scenario(
    SUITE,
    "the load balancer checks readiness: an apiserver cut off from etcd gets no requests",
    4,
    async () => {
      // The default lab's etcd has 2 members: stopping one loses quorum for both apiservers. So master-1's
      // apiserver is cut off from every etcd member (its own included) by rejecting its client connections
      // to :2379 on master-1, while etcd's peer traffic (:2380) keeps the quorum: the apiserver still listens
      // on :6443 (a TCP check would keep it in the pool) but reports not ready.
      const m = hosts.masters[0]!;
      const lbUrl = `https://${hosts.addresses[hosts.lb!]}:6443`;
      const ca = join(out, m, "var/lib/kubernetes/pki/ca.crt");
      const cut =
        "iptables -I OUTPUT -p tcp --dport 2379 -m comment --comment khw-e2e-cut -j REJECT --reject-with tcp-reset";
      const uncut =
        "iptables -D OUTPUT -p tcp --dport 2379 -m comment --comment khw-e2e-cut -j REJECT --reject-with tcp-reset";
      await onHost(workdir, m, cut);
      try {
        await until(
          `${m}'s apiserver to report not ready`,
          async () => {
            const r = await onHost(
              workdir,
              m,
              "curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:6443/readyz",
              true,
            );
            return r.stdout.trim() !== "200" && r.stdout.trim() !== "" ? r.stdout : undefined;
          },
          90,
        );
        const listening = await onHost(workdir, m, "ss -ltn 'sport = :6443' | tail -n +2", true);
        expect(listening.stdout.trim(), `${m}'s apiserver still listens`).not.toBe("");
        // HAProxy's check (inter 2s, fall 3) takes it out within ~4 s; then every request succeeds.
        await until("HAProxy to take the not-ready apiserver out", async () => {
          for (let i = 0; i < 10; i++)
            if ((await httpsGet(`${lbUrl}/readyz`, ca)).status !== 200) return undefined;
          return true;
        });
        for (let i = 0; i < 30; i++) {
          const r = await kubectl("get", "namespace", "default", "-o", "name", "--request-timeout=5s");
          expect(r.stdout.trim(), `request ${i} through the LB: ${r.stderr}`).toBe("namespace/default");
        }
        const stat = await onHost(workdir, hosts.lb!, "curl -s 'http://127.0.0.1:8404/stats;csv'");
        const state = (srv: string) =>
          stat.stdout
            .split("\n")
            .find((l) => l.startsWith(`kubernetes-control-planes,${srv},`))
            ?.split(",")[17];
        console.log(
          `[e2e] haproxy while ${m} is cut off from etcd: ${hosts.masters.map((h) => `${h}=${state(h)}`).join(" ")}`,
        );
        expect(state(m), `HAProxy marks ${m} down`).toMatch(/^DOWN/);
        expect(state(hosts.masters[1]!)).toBe("UP");
      } finally {
        await onHost(workdir, m, uncut, true);
      }
      await until(
        `${m}'s apiserver ready again`,
        async () => {
          const r = await onHost(workdir, m, "curl -sk https://127.0.0.1:6443/readyz", true);
          return r.stdout.trim() === "ok" ? true : undefined;
        },
        90,
      );
    },
  );

  it("the pod network runs as pods: with Flannel, kube-flannel-ds desired = ready = the workers", async () => {
    const pods = await kubectl("get", "pods", "-A", "-o", "wide");
    console.log(`kubectl get pods -A -o wide:\n${pods.stdout}`);
    expect(pods.code, pods.stderr).toBe(0);
    if (hosts.podNetwork !== "flannel") return;
    const ds = JSON.parse(
      (await kubectl("-n", "kube-flannel", "get", "ds", "kube-flannel-ds", "-o", "json")).stdout,
    );
    expect([ds.status.desiredNumberScheduled, ds.status.numberReady]).toEqual([
      hosts.workers.length,
      hosts.workers.length,
    ]);
  });

  scenario(SUITE, "khw reset leaves the hosts as they were, and says what it left", 3, async () => {
    const r = await khw(workdir, ["reset", "--yes", "--flush-iptables"]);
    console.log(`[e2e] khw reset:\n${r.stdout}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(": left ");
    for (const host of all()) {
      // no khw route, no KUBE-*/CNI-* chain, no mount of the kubelet, containerd or pods, no pod link
      const left = await resetLeftovers(workdir, host, unitsOf(host), hosts.workers.includes(host));
      expect(left.files, host).toBe("");
      expect(left.state, `${host}: routes, chains, mounts, links left`).toBe("");
    }
  });

  scenario(SUITE, "reset → up → smoke: the cluster comes back on the same hosts", 12, async () => {
    const again = await khw(workdir, ["up"]);
    recordStep(SUITE, "khw up (after reset)", again.seconds, again.code === 0);
    expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
    await lab.smokePasses();
    await podsInTheirNodesSlice();
  });
});

/** bridge-routes: every pod's IP lies in the spec's slice of the node it runs on (one owner per range). */
async function podsInTheirNodesSlice(): Promise<void> {
  if (hosts.podNetwork !== "bridge-routes") return;
  const r = await kubectl("get", "pods", "-A", "-o", "json");
  expect(r.code, r.stderr).toBe(0);
  const pods = (JSON.parse(r.stdout).items as Array<Record<string, Any>>).filter(
    (p) => !p["spec"].hostNetwork && p["status"].podIP && p["spec"].nodeName,
  );
  expect(pods.length, "pods with their own IP").toBeGreaterThan(0);
  for (const p of pods) {
    const node = p["spec"].nodeName as string;
    expect(
      inCidr(p["status"].podIP, hosts.podCIDRs[node]!),
      `${p["metadata"].name} ${p["status"].podIP} on ${node} (${hosts.podCIDRs[node]})`,
    ).toBe(true);
  }
}

function inCidr(ip: string, cidr: string): boolean {
  const toInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
  const [base, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(base!) / size);
}
