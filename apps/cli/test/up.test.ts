import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultClusterSpecInput, loadCluster, parseClusterYaml, renderClusterYaml } from "@khw/spec";
import { servingCsrObject, servingCsrPem } from "@khw/test-kit/csr";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ETCD_MEMBERS_SCRIPT } from "../src/day2/node-membership";
import { LIST_NODES_SCRIPT } from "../src/day2/node-orphans";
import { main } from "../src/main";
import type { UpEvent } from "../src/up/events";
import { PHASE_NAMES } from "../src/up/phases";
import { resetSeamsForTests, setSeamsForTests } from "../src/workdir";
import { FakeHosts, makeFakeBundle, writeBundleSpec } from "./golden/fake-hosts";
import { fixedSeams, UNUSUAL_SPEC } from "./golden/fixtures";
import { khw, tempDir } from "./helpers";

/** A kubelet-serving CSR as `kubectl get csr -o json` lists it, with a real openssl request. */
function servingCsr(
  name: string,
  node: string,
  sans: string[],
  over: { username?: string; approved?: boolean } = {},
): object {
  return {
    ...servingCsrObject(name, servingCsrPem(node, sans), {
      username: over.username ?? `system:node:${node}`,
      groups: ["system:nodes", "system:authenticated"],
    }),
    ...(over.approved ? { status: { conditions: [{ type: "Approved", status: "True" }] } } : {}),
  };
}

let dir: string;
let cleanup: () => void;
let hosts: FakeHosts;
let env: Record<string, string>;

/** The default spec with binaries from a local bundle directory (fake release files, real checksums). */
function writeSpec(): void {
  hosts = new FakeHosts(writeBundleSpec(dir)).readiness();
}

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  env = { XDG_CACHE_HOME: join(dir, "cache"), HOME: dir };
  writeSpec();
  setSeamsForTests({ ...fixedSeams(), executor: () => hosts, sleep: async () => {} });
});
afterEach(() => {
  resetSeamsForTests();
  cleanup();
});

const events = (stdout: string): UpEvent[] =>
  stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as UpEvent);

describe("khw up progress views", () => {
  it("on a TTY: a live host × phase table, redrawn in place", async () => {
    let out = "";
    const io = {
      cwd: dir,
      env: { ...env, NO_COLOR: "1" },
      stdout: (t: string) => {
        out += t;
      },
      stderr: () => {},
      isTTY: true,
    };
    expect(await main(["up", "--only", "preflight,pki"], io)).toBe(0);
    expect(out).toContain("\u001b["); // cursor movement: redrawn in place
    expect(out).toMatch(/prefl +pki/);
    expect(out).toMatch(/master-1 +✓ +▸/); // running
    expect(out).toMatch(/master-1 +✓ +✓17/); // done, 17 changes
    expect(out).toMatch(/loadbalancer +✓ +–/); // no pki files for the LB
  });
});

describe("khw up --list / usage", () => {
  it("lists the 13 phases in bring-up order", async () => {
    const r = await khw(dir, ["up", "--list"], env);
    expect(r.code).toBe(0);
    const names = r.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual([...PHASE_NAMES]);
  });
  it("rejects unknown phases with the list of names (exit 2)", async () => {
    const r = await khw(dir, ["up", "--only", "etcd,bogus"], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown phase bogus");
    expect(r.stderr).toContain("control-plane");
  });
});

describe("khw up through the recording executor", () => {
  it("runs the phases in order, hosts in parallel within the bound, and converges", async () => {
    const r = await khw(dir, ["up", "--json", "--concurrency", "2"], env);
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    const started = ev.filter((e) => e.type === "phase-start").map((e) => (e as { phase: string }).phase);
    expect(started).toEqual([...PHASE_NAMES]);
    // the bound holds, and hosts did overlap
    let running = 0;
    let max = 0;
    for (const e of ev) {
      if (e.type === "host-start") max = Math.max(max, ++running);
      if (e.type === "host-done") running--;
    }
    expect(max).toBe(2);
    // control planes restart one at a time (each ready before the next), so the API stays up
    const cp = ev.filter(
      (e) => (e.type === "host-start" || e.type === "host-done") && e.phase === "control-plane",
    );
    expect(cp.map((e) => `${e.type} ${(e as { host: string }).host}`)).toEqual([
      "host-start master-1",
      "host-done master-1",
      "host-start master-2",
      "host-done master-2",
    ]);
    expect(hosts.maxRunning).toBeLessThanOrEqual(2);
    // every service started and enabled, after its files
    for (const s of [
      "master-1/etcd",
      "master-2/kube-apiserver",
      "worker-2/kubelet",
      "loadbalancer/haproxy",
    ]) {
      expect(hosts.active.has(s), s).toBe(true);
      expect(hosts.enabled.has(s), s).toBe(true);
    }
    expect(hosts.recorder.file("worker-1", "/usr/local/bin/kubelet")).toBeUndefined(); // installed by script
    expect(hosts.installed.get("worker-1//usr/local/bin/kubelet")).toBeDefined();
    expect(hosts.recorder.file("master-1", "/etc/etcd/etcd-server.key")?.mode).toBe(0o600);
    expect(existsSync(join(dir, "admin.kubeconfig"))).toBe(true);
    // cluster objects applied from master-1, in order; the smoke-test objects are left to `khw smoke`
    const applied = hosts.commands
      .filter((c) => c.command.includes(" apply -f "))
      .map((c) => `${c.host} ${c.command.split("/").pop()}`);
    expect(applied).toEqual([
      "master-1 03-weave-net.yaml",
      "master-1 01-tls-bootstrap.yaml",
      "master-1 02-apiserver-to-kubelet.yaml",
      "master-1 04-coredns.yaml",
    ]);
    // the log has every command, never a key
    const logs = readdirSync(join(dir, ".khw/logs"));
    const log = readFileSync(join(dir, ".khw/logs", logs[0]!), "utf8");
    expect(log).toContain("upload /etc/systemd/system/etcd.service");
    expect(log).not.toContain("PRIVATE KEY");
    // a second run changes nothing
    const from = hosts.recorder.ops.length;
    const again = await khw(dir, ["up"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("converged: no changes");
    expect(hosts.changesSince(from)).toEqual([]);
    const since = hosts.recorder.ops.slice(from);
    const shells = (re: RegExp) => since.filter((op) => op.kind === "shell" && re.test(op.script));
    // a converged run: the API is asked once (not before each of the 5 phases that need it) ...
    expect(shells(/missing-binaries/)).toHaveLength(1);
    // ... and the installed release files are compared with the hosts' records, never uploaded or hashed
    expect(since.filter((op) => op.kind === "upload" && op.path.startsWith("/var/cache/khw/"))).toEqual([]);
    expect(shells(/^rec="\$1"; sha="\$2"/).length).toBeGreaterThan(0);
  });

  it("the unusual spec (3 masters, 1 worker, bridge-routes, no tls-bootstrap) converges too; a single master without LB or workers as well", async () => {
    for (const text of [
      UNUSUAL_SPEC,
      "nodes:\n  - { name: solo, role: controlplane, address: 10.20.0.5 }\naddons: { dns: false }\n",
    ]) {
      const { cluster } = parseClusterYaml(`${text}binaries: { source: bundle, bundleDir: bundle }\n`);
      writeFileSync(join(dir, "cluster.yaml"), renderClusterYaml(cluster.spec));
      makeFakeBundle(cluster, join(dir, "bundle"));
      hosts = new FakeHosts(cluster).readiness();
      const r = await khw(dir, ["up", "--json"], env);
      expect(r.code, r.stderr).toBe(0);
      const ev = events(r.stdout);
      const skipped = ev.filter((e) => e.type === "phase-skipped").map((e) => (e as { phase: string }).phase);
      if (cluster.workers.length === 0) expect(skipped).toEqual(["loadbalancer", "workers", "dns"]);
      else expect(skipped).toEqual([]);
      for (const m of cluster.controlPlanes) expect(hosts.active.has(`${m.name}/etcd`)).toBe(true);
      const from = hosts.recorder.ops.length;
      expect((await khw(dir, ["up"], env)).stdout).toContain("converged: no changes");
      expect(hosts.changesSince(from)).toEqual([]);
      rmSync(join(dir, ".khw"), { recursive: true });
      rmSync(join(dir, "pki"), { recursive: true });
    }
  });

  it("rbac waits (bounded, polling) until every tls-bootstrap worker has a serving CSR, then reviews and approves", async () => {
    const { cluster } = loadCluster(defaultClusterSpecInput());
    makeFakeBundle(cluster, join(dir, "bundle"));
    let polls = 0;
    hosts = new FakeHosts(cluster, {
      rules: [
        {
          // worker-2's kubelet submits its serving CSR only on the third poll
          command: /serving-csr-missing=/,
          result: () => ({
            stdout: ++polls < 3 ? "serving-csr-missing=worker-2\n" : "serving-csr-missing=\n",
          }),
        },
      ],
    }).readiness();
    hosts.csrs.push(servingCsr("csr-w2", "worker-2", ["DNS:worker-2", "IP:192.168.56.22"]));
    const r = await khw(dir, ["up"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(polls).toBe(3);
    const ops = hosts.recorder.ops.flatMap((op) =>
      op.kind === "shell" ? [op.script] : op.kind === "exec" ? [op.command] : [],
    );
    const wait = ops.findIndex((sc) => sc.includes("serving-csr-missing="));
    const list = ops.findIndex((sc) => sc.endsWith(" get csr -o json"));
    const approve = ops.findIndex((sc) => sc.includes("certificate approve csr-w2"));
    expect(wait).toBeGreaterThanOrEqual(0);
    expect(list).toBeGreaterThan(wait);
    expect(approve).toBeGreaterThan(list);
    expect(hosts.approvedCsrs).toEqual(["csr-w2"]);
    // only the tls-bootstrap worker is waited for
    expect(ops[wait]).toContain("set -- worker-2\n");
    expect(ops[wait]).not.toContain("worker-1");
  });

  it("rbac approves only serving CSRs the review accepts, and says why each other one stays pending", async () => {
    hosts.csrs.push(
      servingCsr("good", "worker-2", ["DNS:worker-2", "IP:192.168.56.22"]),
      servingCsr("extra-san", "worker-2", ["DNS:worker-2", "IP:192.168.56.22", "DNS:kubernetes.default"]),
      servingCsr("nat-ip", "worker-1", ["DNS:worker-1", "IP:192.168.56.21", "IP:10.0.2.15"]),
      servingCsr("stranger", "intruder", ["DNS:intruder"]),
      servingCsr("not-a-node", "worker-1", ["DNS:worker-1"], { username: "admin" }),
      servingCsr("done", "worker-1", ["DNS:worker-1"], { approved: true }),
    );
    const r = await khw(dir, ["up"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(hosts.approvedCsrs).toEqual(["good"]);
    const said = r.stdout + r.stderr;
    expect(said).toMatch(
      /kubelet-serving CSR extra-san from system:node:worker-2 left pending, not approved: DNS names not of worker-2: kubernetes\.default/,
    );
    expect(said).toMatch(/CSR nat-ip .*IP addresses not of worker-1 \(192\.168\.56\.21\): 10\.0\.2\.15/);
    expect(said).toMatch(/CSR stranger .*intruder is not a node of this cluster/);
    expect(said).toMatch(/CSR not-a-node from admin .*not by a node/);
    expect(said).toContain("kubectl certificate deny extra-san");
    expect(said).not.toMatch(/CSR (good|done) /);
    // --dry-run plans the same, approving nothing
    hosts.approvedCsrs.length = 0;
    hosts.csrs.push(servingCsr("later", "worker-2", ["DNS:worker-2"]));
    const dry = await khw(dir, ["up", "--dry-run"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("[rbac] approve kubelet-serving CSR later of worker-2");
    expect(dry.stdout).not.toContain("CSR good"); // approved by the run before
    expect(dry.stderr + dry.stdout).toContain(
      "kubelet-serving CSR extra-san from system:node:worker-2 left pending",
    );
    expect(hosts.approvedCsrs).toEqual([]);
  });

  it("rbac fails with a hint when a tls-bootstrap worker never submits its serving CSR", async () => {
    const { cluster } = loadCluster(defaultClusterSpecInput());
    makeFakeBundle(cluster, join(dir, "bundle"));
    hosts = new FakeHosts(cluster, {
      rules: [{ command: /serving-csr-missing=/, result: { stdout: "serving-csr-missing=worker-2\n" } }],
    }).readiness();
    const r = await khw(dir, ["up"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[rbac]");
    expect(r.stderr).toContain("serving-csr-missing=worker-2");
  });

  it("on a running cluster: --dry-run reports an orphaned node; a control plane added to the spec is planned (test/membership.test.ts carries it out) before anything is re-issued or changed", async () => {
    expect((await khw(dir, ["up"], env)).code).toBe(0);
    hosts.recorder
      .respondFirst((op) => op.kind === "shell" && op.script === LIST_NODES_SCRIPT, {
        stdout: "worker-1\nworker-2\nworker-3\n",
      })
      .respondFirst((op) => op.kind === "shell" && op.script === ETCD_MEMBERS_SCRIPT, {
        stdout:
          "member\tmaster-1\thttps://192.168.56.11:2380\nmember\tmaster-2\thttps://192.168.56.12:2380\n",
      });
    const dry = await khw(dir, ["up", "--dry-run", "--json"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('{"type":"orphan","node":"worker-3"}');
    expect(dry.stderr).toContain(
      "orphaned node worker-3: registered but not in cluster.yaml — `khw node remove worker-3` or add it back",
    );
    const pki = readFileSync(join(dir, "pki/kube-apiserver.crt"), "utf8");
    const from = hosts.recorder.ops.length;
    const { cluster } = parseClusterYaml(readFileSync(join(dir, "cluster.yaml"), "utf8"));
    writeFileSync(
      join(dir, "cluster.yaml"),
      renderClusterYaml({
        ...cluster.spec,
        nodes: [{ name: "master-3", role: "controlplane", address: "192.168.56.13" }, ...cluster.spec.nodes],
      } as typeof cluster.spec),
    );
    const r = await khw(dir, ["up", "--dry-run"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("dry run: the spec adds control plane(s) master-3");
    expect(r.stdout).toContain("etcdctl member add master-3 --peer-urls=https://192.168.56.13:2380");
    expect(r.stdout).toContain("--initial-cluster-state=existing");
    expect(hosts.changesSince(from)).toEqual([]);
    expect(readFileSync(join(dir, "pki/kube-apiserver.crt"), "utf8")).toBe(pki);
  });

  it("--dry-run --json: the plan per host from what the hosts have (diffs for text, none for secrets); nothing changes", async () => {
    expect((await khw(dir, ["up"], env)).code).toBe(0);
    const sched = "/var/lib/kubernetes/kube-scheduler.kubeconfig";
    const before = hosts.recorder.file("master-2", sched)!;
    hosts.recorder.setFile("master-2", sched, {
      ...before,
      content: Buffer.from(`${before.content}# edited by hand\n`),
    });
    hosts.recorder.setFile("worker-1", "/var/lib/kubernetes/pki/worker-1.key", {
      ...before,
      content: Buffer.from("x"),
      mode: 0o600,
    });
    const from = hosts.recorder.ops.length;
    const r = await khw(dir, ["up", "--dry-run", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const plan = r.stdout
      .split("\n")
      .filter((l) => l.includes('"type":"plan"'))
      .map((l) => JSON.parse(l) as { host: string; phase: string; what: string; diff?: string });
    expect(plan.map((p) => `${p.host} ${p.what}`).sort()).toEqual(
      [
        `master-2 update ${sched} (mode 644)`,
        "master-2 systemctl restart kube-scheduler",
        "worker-1 update /var/lib/kubernetes/pki/worker-1.key (mode 600)",
        "worker-1 systemctl restart kubelet",
      ].sort(),
    );
    expect(plan.find((p) => p.what.includes(sched))!.diff).toContain("-# edited by hand");
    expect(plan.find((p) => p.what.includes("worker-1.key"))!.diff).toBeUndefined();
    expect(hosts.changesSince(from)).toEqual([]);
    expect(hosts.recorder.file("master-2", sched)!.content.toString()).toContain("# edited by hand");
  });

  it("--dry-run on fresh hosts plans the whole bring-up, changes nothing; the real run then writes exactly the planned files and restarts the planned services", async () => {
    const dry = await khw(dir, ["up", "--dry-run", "--json"], env);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = dry.stdout
      .split("\n")
      .filter((l) => l.includes('"type":"plan"'))
      .map((l) => JSON.parse(l) as { host: string; what: string });
    expect(hosts.changesSince(0)).toEqual([]);
    expect(hosts.active.size + hosts.enabled.size + hosts.installed.size).toBe(0);
    const from = hosts.recorder.ops.length;
    const real = await khw(dir, ["up"], env);
    expect(real.code, real.stderr).toBe(0);
    const done = hosts.changesSince(from);
    const files = (lines: string[]) => lines.sort();
    expect(
      files(
        plan
          .filter((p) => /^(create|update) \//.test(p.what))
          .map((p) => `${p.host} ${p.what.split(" ")[1]}`),
      ),
    ).toEqual(
      files(
        done
          .filter((c) => / upload \/(etc|var\/lib\/(kubernetes|kubelet|kube-proxy)|opt)\//.test(c))
          .map((c) => c.replace(" upload ", " ")),
      ),
    );
    const restarts = (lines: string[]) => lines.sort();
    expect(
      restarts(
        plan
          .filter((p) => p.what.startsWith("systemctl restart "))
          .map((p) => `${p.host} ${p.what.split(" ")[2]}`),
      ),
    ).toEqual(
      restarts(
        done
          .filter((c) => c.includes("systemctl restart "))
          .map((c) => `${c.split(" ")[0]} ${c.split(" ").at(-1)}`),
      ),
    );
    expect(plan.filter((p) => /^(create|update) \//.test(p.what)).length).toBeGreaterThan(50);
    expect(plan.filter((p) => p.what.startsWith("systemctl restart ")).length).toBeGreaterThan(10);
    expect(plan.map((p) => `${p.host} ${p.what}`)).toEqual(
      expect.arrayContaining([
        "worker-1 upload and install kubelet → /usr/local/bin/kubelet",
        "loadbalancer install haproxy and socat (distribution packages): install haproxy socat",
        "master-1 review and approve valid kubelet-serving CSRs (the API does not answer yet)",
      ]),
    );
  });

  it("--dry-run with a host that does not answer: planned as empty and said loudly; the others from what they have; the real run fails on it, no crash", async () => {
    expect((await khw(dir, ["up"], env)).code).toBe(0);
    hosts.down.add("loadbalancer");
    const from = hosts.recorder.ops.length;
    const dry = await khw(dir, ["up", "--dry-run", "--json"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toContain(
      "warning: loadbalancer is UNREACHABLE ([loadbalancer] cannot connect to loadbalancer:22: ECONNREFUSED): its plan below assumes it has NONE of khw's files",
    );
    const lines = dry.stdout.split("\n").filter((l) => l.startsWith("{"));
    expect(lines).toContain('{"type":"unreachable","host":"loadbalancer"}');
    const plan = lines
      .map((l) => JSON.parse(l) as { type: string; host: string; what: string })
      .filter((p) => p.type === "plan");
    expect(plan.map((p) => `${p.host} ${p.what}`).sort()).toEqual(
      [
        "loadbalancer create /etc/haproxy/haproxy.cfg (mode 644)",
        "loadbalancer create /etc/haproxy/kubernetes-ca.crt (mode 644)",
        "loadbalancer run (if needed): install haproxy and socat (distribution packages)",
        "loadbalancer systemctl enable haproxy",
        "loadbalancer systemctl restart haproxy",
      ].sort(),
    );
    expect(hosts.changesSince(from)).toEqual([]);
    const real = await khw(dir, ["up"], env);
    expect(real.code).toBe(1);
    expect(real.stderr).toContain(
      "[preflight] loadbalancer: failed: [loadbalancer] cannot connect to loadbalancer:22: ECONNREFUSED",
    );
    expect(real.stderr).toContain("fix: nothing listens on port 22");
    expect(real.stderr).not.toContain("internal error");
  });

  it("restarts only what changed: one SAN more re-issues the apiserver cert and restarts only kube-apiserver", async () => {
    expect((await khw(dir, ["up"], env)).code).toBe(0);
    const spec = readFileSync(join(dir, "cluster.yaml"), "utf8").replace(
      "extraApiserverSANs: []",
      "extraApiserverSANs: [api.example.test]",
    );
    writeFileSync(join(dir, "cluster.yaml"), spec);
    const from = hosts.recorder.ops.length;
    const r = await khw(dir, ["up"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("re-issued kube-apiserver");
    const changes = hosts.changesSince(from);
    expect(changes.sort()).toEqual(
      [
        "master-1 upload /var/lib/kubernetes/pki/kube-apiserver.crt",
        "master-2 upload /var/lib/kubernetes/pki/kube-apiserver.crt",
        "master-1 sudo -n -- systemctl restart kube-apiserver",
        "master-2 sudo -n -- systemctl restart kube-apiserver",
      ].sort(),
    );
  });

  it("--only runs the named phases; restarts owed by an earlier phase stay pending and are said", async () => {
    expect((await khw(dir, ["up"], env)).code).toBe(0);
    writeFileSync(
      join(dir, "cluster.yaml"),
      readFileSync(join(dir, "cluster.yaml"), "utf8").replace(
        "extraApiserverSANs: []",
        "extraApiserverSANs: [10.9.9.9]",
      ),
    );
    const r = await khw(dir, ["up", "--only", "pki"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("pending on master-1: restart kube-apiserver");
    const state = JSON.parse(readFileSync(join(dir, ".khw/state.json"), "utf8"));
    expect(state.pending["master-2"].restart).toEqual(["kube-apiserver"]);
    const from = hosts.recorder.ops.length;
    expect((await khw(dir, ["up", "--skip", "preflight"], env)).code).toBe(0);
    expect(hosts.changesSince(from).filter((c) => c.includes("restart"))).toEqual([
      "master-1 sudo -n -- systemctl restart kube-apiserver",
      "master-2 sudo -n -- systemctl restart kube-apiserver",
    ]);
  });

  /** Per phase: an operation to fail, characteristic of that phase. */
  const injections: Array<[string, (op: { kind: string; host: string; text: string }) => boolean]> = [
    ["preflight", (op) => op.kind === "shell" && op.text.includes("whoami=") && op.host === "worker-2"],
    ["pki", (op) => op.kind === "upload" && op.text.endsWith("/kube-proxy.crt") && op.host === "worker-1"],
    ["kubeconfigs", (op) => op.kind === "upload" && op.text.endsWith("kube-scheduler.kubeconfig")],
    ["encryption", (op) => op.kind === "upload" && op.text.endsWith("encryption-config.yaml")],
    [
      "etcd",
      (op) => op.kind === "exec" && op.text.includes("restart --no-block etcd") && op.host === "master-2",
    ],
    ["control-plane", (op) => op.kind === "exec" && op.text.includes("restart kube-scheduler")],
    ["loadbalancer", (op) => op.kind === "shell" && op.text.startsWith("haproxy -c")],
    ["workers", (op) => op.kind === "exec" && op.text.includes("restart kubelet") && op.host === "worker-2"],
    ["admin", (op) => op.kind === "shell" && op.text.includes("--server https://192.168.56.30:6443")],
    ["network", (op) => op.kind === "exec" && op.text.includes("03-weave-net.yaml")],
    [
      "rbac",
      (op) =>
        op.kind === "exec" &&
        op.text.includes("apply -f /var/lib/khw/manifests/02-apiserver-to-kubelet.yaml"),
    ],
    ["dns", (op) => op.kind === "shell" && op.text.includes("deployment coredns")],
    ["smoke", (op) => op.kind === "shell" && op.text.includes("get nodes")],
  ];
  for (const [phase, when] of injections) {
    it(`resumes and converges after a failure in ${phase}`, async () => {
      hosts.failWhen = when;
      const failed = await khw(dir, ["up"], env);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(new RegExp(`\\[${phase}\\] [a-z0-9-]+: `));
      expect(failed.stderr).toMatch(/exit|exited|injected|something went wrong/);
      const state = JSON.parse(readFileSync(join(dir, ".khw/state.json"), "utf8"));
      expect(state.phases[phase].status).toBe("failed");
      // resume: converges to what a clean run produces
      const r = await khw(dir, ["up"], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`resuming: the last run failed in ${phase}`);
      for (const s of [
        "master-1/etcd",
        "master-2/etcd",
        "master-1/kube-scheduler",
        "worker-2/kubelet",
        "loadbalancer/haproxy",
      ]) {
        expect(hosts.active.has(s), s).toBe(true);
      }
      const st = JSON.parse(readFileSync(join(dir, ".khw/state.json"), "utf8"));
      expect(st.pending).toEqual({});
      // and a third run has nothing left to do
      const from = hosts.recorder.ops.length;
      expect((await khw(dir, ["up"], env)).stdout).toContain("converged: no changes");
      expect(hosts.changesSince(from)).toEqual([]);
    });
  }

  it("control planes one by one: master-2 is not touched until master-1's apiserver answers /readyz", async () => {
    let polls = 0;
    hosts.recorder.respondFirst(
      (op) =>
        op.kind === "shell" && op.script.includes("get --raw /readyz") && !op.script.includes("--server"),
      () => ({ stdout: ++polls <= 3 ? "The connection to the server 127.0.0.1:6443 was refused\n" : "ok" }),
      "master-1",
    );
    const r = await khw(dir, ["up", "--only", "etcd,control-plane"], env);
    expect(r.code, r.stderr).toBe(0);
    const ops = hosts.recorder.ops.map((op, i) => ({ i, op }));
    const readyzOk = ops.filter(
      ({ op }) => op.kind === "shell" && op.host === "master-1" && op.script.includes("get --raw /readyz"),
    );
    expect(readyzOk).toHaveLength(4);
    const m2 = ops.find(
      ({ op }) => op.kind === "upload" && op.host === "master-2" && op.path.includes("kube-apiserver"),
    )!;
    expect(m2.i).toBeGreaterThan(readyzOk.at(-1)!.i);
  });

  it("a control plane whose apiserver never gets ready stops the phase there: the next one is never restarted", async () => {
    hosts.recorder.respondFirst(
      /get --raw \/readyz/,
      { stdout: "Error from server: etcdserver: request timed out\n" },
      "master-1",
    );
    const r = await khw(dir, ["up"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "[control-plane] master-1: kube-apiserver /readyz not reached after 60 attempts",
    );
    expect(r.stderr).toContain("etcdserver: request timed out");
    expect(hosts.active.has("master-1/kube-apiserver")).toBe(true);
    expect(hosts.active.has("master-2/kube-apiserver")).toBe(false);
    expect(
      hosts.recorder
        .opsFor("master-2")
        .some((op) => op.kind === "upload" && op.path === "/etc/systemd/system/kube-apiserver.service"),
    ).toBe(false);
    const state = JSON.parse(readFileSync(join(dir, ".khw/state.json"), "utf8"));
    expect(state.phases["control-plane"].status).toBe("failed");
    expect(state.phases.workers).toBeUndefined();
  });

  it("nodes that never get Ready: the run reads those workers' kubelet journals and names the cause it sees", async () => {
    const [w1, w2] = ["worker-1", "worker-2"];
    hosts.recorder.respondFirst(/get nodes --no-headers/, { stdout: `ready-node ${w1}\nready=1\n` });
    hosts.recorder.respondFirst(
      /journalctl -u kubelet/,
      {
        stdout:
          'E1202 12:00:01 run.go:72] "command failed" err="failed to run Kubelet: inotify_init: too many open files"\nunit-state=activating\n',
      },
      w2,
    );
    const r = await khw(dir, ["up"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`2 node(s) Ready not reached after 90 attempts`);
    expect(r.stderr).toContain(
      `${w2}: kubelet (activating): the kubelet cannot get an inotify instance (inotify_init: too many open files)`,
    );
    expect(r.stderr).toContain("sysctl -w fs.inotify.max_user_instances=1024");
    // only the worker that is not Ready is read
    expect(
      hosts.recorder.opsFor(w1).some((op) => op.kind === "shell" && op.script.includes("journalctl")),
    ).toBe(false);
  });

  it("a not-Ready worker whose journal shows nothing known is named with where to look", async () => {
    const w2 = "worker-2";
    hosts.recorder.respondFirst(/get nodes --no-headers/, { stdout: "ready-node worker-1\nready=1\n" });
    hosts.recorder.respondFirst(
      /journalctl -u kubelet/,
      { stdout: "I1202 started\nunit-state=active\n" },
      w2,
    );
    const r = await khw(dir, ["up"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${w2}: kubelet is active; its journal names no cause khw knows`);
  });

  it("a restart owed when the run stopped is done by the next run even though no file changes", async () => {
    hosts.failWhen = (op) =>
      op.kind === "exec" && op.text.includes("restart --no-block etcd") && op.host === "master-2";
    expect((await khw(dir, ["up"], env)).code).toBe(1);
    expect(hosts.active.has("master-2/etcd")).toBe(false);
    const from = hosts.recorder.ops.length;
    expect((await khw(dir, ["up"], env)).code).toBe(0);
    const changes = hosts.changesSince(from);
    expect(changes.filter((c) => c.includes("upload /etc/systemd/system/etcd.service"))).toEqual([]);
    expect(changes).toContain("master-2 sudo -n -- systemctl restart --no-block etcd");
  });

  it("Ctrl-C: steps in flight finish, nothing new starts, state is saved, the next run converges", async () => {
    const interrupt = new AbortController();
    setSeamsForTests({
      ...fixedSeams(),
      executor: () => hosts,
      sleep: async () => {},
      interrupt: interrupt.signal,
    });
    hosts.onOp = (op) => {
      if (op.kind === "upload" && op.text === "/etc/systemd/system/etcd.service" && op.host === "master-1")
        interrupt.abort();
    };
    const r = await khw(dir, ["up"], env);
    hosts.onOp = undefined;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("interrupted: finishing the steps in flight");
    expect(r.stderr).toContain("run `khw up` again to resume");
    const state = JSON.parse(readFileSync(join(dir, ".khw/state.json"), "utf8"));
    expect(state.phases.etcd.status).toBe("interrupted");
    expect(state.phases["control-plane"]).toBeUndefined();
    // the unit that was being uploaded landed whole, and its restart is owed
    expect(hosts.recorder.file("master-1", "/etc/systemd/system/etcd.service")).toBeDefined();
    expect(state.pending["master-1"].restart).toContain("etcd");
    expect(hosts.active.has("master-1/etcd")).toBe(false);
    setSeamsForTests({ ...fixedSeams(), executor: () => hosts, sleep: async () => {} });
    expect((await khw(dir, ["up"], env)).code).toBe(0);
    expect(hosts.active.has("master-1/etcd")).toBe(true);
    expect((await khw(dir, ["up"], env)).stdout).toContain("converged: no changes");
  });

  it("a release file missing from the bundle fails the run before any host is touched, naming each", async () => {
    rmSync(join(dir, "bundle/github.com/containerd"), { recursive: true, force: true });
    rmSync(join(dir, "bundle/github.com/opencontainers"), { recursive: true, force: true });
    const r = await khw(dir, ["up"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[binaries] 2 of 10 release file(s) could not be fetched and verified");
    expect(r.stderr).toMatch(
      /containerd: .*containerd-2\.1\.4-linux-amd64\.tar\.gz\.sha256sum is not in the bundle/,
    );
    expect(r.stderr).toMatch(/runc: .*is not in the bundle/);
    expect(hosts.recorder.ops).toEqual([]);
  });

  it("phases that need the API say clearly when they cannot run", async () => {
    const { cluster } = loadCluster(defaultClusterSpecInput());
    hosts = new FakeHosts(cluster, {
      rules: [{ command: /kube-apiserver \]/, result: { stdout: "missing-binaries\n" } }],
    });
    const r = await khw(dir, ["up", "--only", "admin"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[admin] could not run: master-1 has no kube-apiserver/kubectl");
  });

  it("preflight names each problem with a fix (swap, NAT address, ports, CIDR overlap, clock)", async () => {
    const { cluster } = loadCluster(defaultClusterSpecInput());
    hosts = new FakeHosts(cluster, {
      // worker-2 has only the NAT address: the node IP is not on any interface
      rules: [
        {
          command: (op) => op.kind === "shell" && op.script.includes("whoami=") && op.host === "worker-2",
          result: {
            stdout: "whoami=root\nkernel=Linux\nmachine=x86_64\nsystemd=yes\naddr=enp0s3 10.0.2.15/24\n",
          },
        },
      ],
      facts: (h) =>
        h === "worker-1"
          ? "swap_devices=1\ntime_ms=1"
          : h === "master-2"
            ? 'listen=0.0.0.0:2379 users:(("docker-proxy",pid=9,fd=3))\nroute=10.96.0.0/12 via 192.168.56.1 dev enp0s8'
            : "",
    });
    const r = await khw(dir, ["up", "--only", "preflight"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("worker-1: swap: swap is on");
    expect(r.stderr).toContain("swapoff -a");
    expect(r.stderr).toContain("master-2: ports: port 2379 is already in use by docker-proxy");
    expect(r.stderr).toContain("master-2: cidr-overlap: the service CIDR 10.96.0.0/16 overlaps the route");
    expect(r.stderr).toMatch(/worker-1: clock: the clock is -?\d+\.\d s off/);
    expect(r.stderr).toContain(
      "worker-2: node-address: 192.168.56.22 is not on any interface of worker-2 (it has 10.0.2.15/24 (enp0s3))",
    );
    expect(r.stderr).toContain("VirtualBox's NAT address");
  });

  it("preflight of a re-run: Flannel's own flannel.1 address and routes in the pod CIDR are not a conflict", async () => {
    const { cluster } = loadCluster(defaultClusterSpecInput());
    hosts = new FakeHosts(cluster, {
      rules: [
        {
          command: (op) => op.kind === "shell" && op.script.includes("whoami=") && op.host === "worker-1",
          result: {
            stdout:
              "whoami=root\nkernel=Linux\nmachine=x86_64\nsystemd=yes\naddr=enp0s8 192.168.56.21/24\naddr=flannel.1 10.244.0.0/32\naddr=cni0 10.244.0.1/24\n",
          },
        },
      ],
      facts: (h) =>
        h === "worker-1" ? "time_ms=1\nroute=10.244.1.0/24 via 10.244.1.0 dev flannel.1 onlink" : "time_ms=1",
    });
    const r = await khw(dir, ["up", "--only", "preflight"], env);
    expect(r.stderr).not.toContain("cidr-overlap");
  });
});
