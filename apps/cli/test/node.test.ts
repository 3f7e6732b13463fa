// khw node remove and the orphaned-node report, through the RecordingExecutor (the exact kubectl and
// reset commands per host, the refusals, the drain blocked by a PodDisruptionBudget); every recorded
// script through a real `sh -n`. The lab proves the same on real hosts (e2e/test/lifecycle-nodes).
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CommandOp, RecordingExecutor } from "@khw/remote-exec";
import { loadCluster, parseClusterYaml } from "@khw/spec";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { blockedPods, describeBlocked, selectorMatches } from "../src/day2/node-drain";
import {
  describeDrift,
  ETCD_MEMBERS_SCRIPT,
  membershipDrift,
  runningEtcdMembers,
} from "../src/day2/node-membership";
import { LIST_NODES_SCRIPT } from "../src/day2/node-orphans";
import { removeNodeFromSpecText } from "../src/day2/node-spec";
import { setConfirmForTests } from "../src/day2/reset";
import { resetSeamsForTests, setSeamsForTests } from "../src/workdir";
import { cachedKeys } from "./day2-helpers";
import { khw, tempDir } from "./helpers";

let dir: string;
let cleanup: () => void;
let rec: RecordingExecutor;

const script = (op: CommandOp) => (op.kind === "shell" ? op.script : "");
const argv = (op: CommandOp) => (op.kind === "exec" ? op.argv : []);

/** The first control plane's kubectl and the hosts' reset commands, answered as a healthy cluster would. */
function cluster(rec: RecordingExecutor, registered = ["worker-1", "worker-2"]): RecordingExecutor {
  return rec
    .respond(
      (op) => /kubectl .* get node "\$1" -o name/.test(script(op)),
      (op) =>
        op.kind === "shell" && registered.includes(op.args[0]!)
          ? { stdout: `node/${op.args[0]}\n` }
          : {
              code: 1,
              stdout: `Error from server (NotFound): nodes "${op.kind === "shell" ? op.args[0] : ""}" not found\n`,
            },
    )
    .respond(
      (op) => /kubectl .* drain "\$1"/.test(script(op)),
      (op) => ({
        stdout: `node/${op.kind === "shell" ? op.args[0] : ""} cordoned\nevicting pod default/web-1\npod/web-1 evicted\nnode/x drained\n`,
      }),
    )
    .respond((op) => /kubectl .* delete node "\$1"/.test(script(op)), { stdout: "node deleted\n" })
    .respond((op) => script(op) === LIST_NODES_SCRIPT, { stdout: `${registered.join("\n")}\n` })
    .respond((op) => argv(op)[0] === "true", {})
    .respond((op) => argv(op)[0] === "systemctl", {})
    .respond((op) => argv(op)[0] === "rm", {})
    .respond((op) => op.kind === "shell", {});
}

const commands = (host?: string) =>
  rec.ops.filter(
    (o): o is CommandOp =>
      (o.kind === "exec" || o.kind === "shell") && (host === undefined || o.host === host),
  );

function expectScriptsParse() {
  for (const op of commands()) {
    if (op.kind !== "shell") continue;
    const r = spawnSync("sh", ["-n", "-c", op.script], { encoding: "utf8" });
    expect(r.status, `sh -n failed for:\n${op.script}\n${r.stderr}`).toBe(0);
  }
}

beforeEach(async () => {
  ({ dir, cleanup } = tempDir());
  setSeamsForTests({ keys: cachedKeys });
  expect((await khw(dir, ["init"])).code).toBe(0);
  const g = await khw(dir, ["gen"]);
  expect(g.code, g.stderr).toBe(0);
  rec = cluster(new RecordingExecutor());
  setSeamsForTests({ keys: cachedKeys, executor: () => rec });
});
afterEach(() => {
  resetSeamsForTests();
  setConfirmForTests(undefined);
  cleanup();
});

describe("khw node remove", () => {
  it("drains on the first control plane, cleans only that host, then deletes the Node; says to edit cluster.yaml", async () => {
    const before = readFileSync(join(dir, "cluster.yaml"), "utf8");
    const r = await khw(dir, ["node", "remove", "worker-2", "--yes", "--timeout", "42"]);
    expect(r.code, r.stderr).toBe(0);
    // every command on the cluster goes through master-1's kubectl; only worker-2 is touched besides it
    expect([...new Set(commands().map((o) => o.host))].sort()).toEqual(["master-1", "worker-2"]);
    const m1 = commands("master-1").map(script);
    expect(m1).toHaveLength(3);
    expect(m1[0]).toMatch(/get node "\$1" -o name/);
    expect(m1[1]).toMatch(/drain "\$1" --ignore-daemonsets --delete-emptydir-data --timeout="\$2"s 2>&1$/);
    const drainOp = commands("master-1")[1]!;
    expect(drainOp.kind === "shell" && drainOp.args).toEqual(["worker-2", "42"]);
    expect(m1[2]).toMatch(/delete node "\$1" --ignore-not-found/);
    // the Node is deleted after the host stopped (its kubelet would register it again)
    const order = commands().map((o) => `${o.host} ${o.kind === "shell" ? o.script : o.argv.join(" ")}`);
    const lastStop = order.findLastIndex((l) => l.startsWith("worker-2 systemctl disable --now"));
    const del = order.findIndex((l) => /delete node/.test(l));
    expect(lastStop).toBeGreaterThan(0);
    expect(del).toBeGreaterThan(lastStop);
    const stops = commands("worker-2")
      .map(argv)
      .filter((a) => a[1] === "disable")
      .map((a) => a[3]);
    expect(stops).toEqual(["kube-proxy", "kubelet", "containerd"]);
    const rm = commands("worker-2")
      .map(argv)
      .find((a) => a[0] === "rm")!;
    expect(rm).toContain("/var/lib/kubelet");
    expect(rm).toContain("/usr/local/bin/kubelet");
    // iptables chains are flushed by default (the node leaves for good)
    const leftovers = commands("worker-2").find(
      (o) => o.kind === "shell" && o.script.startsWith('flush="$1"'),
    );
    expect(leftovers?.kind === "shell" && leftovers.args[0]).toBe("1");
    expect(r.stdout).toContain("[node] worker-2: drained (1 pod(s) evicted)");
    expect(r.stdout).toContain("delete worker-2 from cluster.yaml (or run again with --update-spec)");
    expect(readFileSync(join(dir, "cluster.yaml"), "utf8")).toBe(before);
    expectScriptsParse();
  });

  it("--update-spec drops the entry and keeps every comment; --json reports what was done", async () => {
    const path = join(dir, "cluster.yaml");
    const before = readFileSync(path, "utf8");
    writeFileSync(
      path,
      before.replace("  - name: worker-2\n", "  # the bootstrap worker\n  - name: worker-2\n"),
    );
    const r = await khw(dir, ["node", "remove", "worker-2", "--yes", "--update-spec", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      node: "worker-2",
      registered: true,
      drained: true,
      nodeDeleted: true,
      specUpdated: true,
      ok: true,
      evicted: ["web-1"],
    });
    const after = readFileSync(path, "utf8");
    expect(after).not.toContain("worker-2");
    for (const line of before.split("\n").filter((l) => l.trim().startsWith("#")))
      expect(after, line).toContain(line);
    expect(parseClusterYaml(after).cluster.workers.map((w) => w.name)).toEqual(["worker-1"]);
    // the rest of the file is byte for byte what it was
    expect(after).toBe(before.replace(/ {2}- name: worker-2\n[\s\S]*?(?= {2}- name: loadbalancer)/, ""));
  });

  it("a PodDisruptionBudget that blocks the drain: the error names the pod and the budget; host and Node untouched", async () => {
    const pods = {
      items: [
        {
          metadata: {
            name: "web-7d9f",
            namespace: "shop",
            labels: { app: "web", tier: "front" },
            ownerReferences: [{ kind: "ReplicaSet", name: "web-7d", controller: true }],
          },
          status: { phase: "Running" },
        },
        {
          metadata: {
            name: "kube-flannel-ds-x",
            namespace: "kube-flannel",
            labels: { app: "flannel" },
            ownerReferences: [{ kind: "DaemonSet", name: "kube-flannel-ds", controller: true }],
          },
          status: { phase: "Running" },
        },
      ],
    };
    const pdbs = {
      items: [
        {
          metadata: { name: "web-pdb", namespace: "shop" },
          spec: { minAvailable: 2, selector: { matchLabels: { app: "web" } } },
          status: { disruptionsAllowed: 0, currentHealthy: 2, desiredHealthy: 2 },
        },
        {
          metadata: { name: "other", namespace: "shop" },
          spec: { maxUnavailable: 1, selector: { matchLabels: { app: "db" } } },
          status: { disruptionsAllowed: 0 },
        },
      ],
    };
    rec
      .respondFirst((op) => /kubectl .* drain "\$1"/.test(script(op)), {
        code: 1,
        stdout:
          'node/worker-2 cordoned\nevicting pod shop/web-7d9f\nerror when evicting pods/"web-7d9f" -n "shop" (will retry after 5s): Cannot evict pod as it would violate the pod\'s disruption budget.\nerror: unable to drain node "worker-2" due to error: [error when evicting pods/"web-7d9f" -n "shop": global timeout reached: 30s], continuing command...\n',
      })
      .respondFirst((op) => /get pods -A --field-selector spec.nodeName="\$1"/.test(script(op)), {
        stdout: `${JSON.stringify(pods)}\n--- khw ---\n${JSON.stringify(pdbs)}\n`,
      });
    const r = await khw(dir, ["node", "remove", "worker-2", "--yes", "--timeout", "30"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the drain of worker-2 did not finish within 30 s");
    expect(r.stderr).toContain(
      "pod shop/web-7d9f is held by PodDisruptionBudget shop/web-pdb (minAvailable 2, 2 healthy, 0 disruption(s) allowed)",
    );
    expect(r.stderr).not.toContain("shop/other");
    expect(r.stderr).not.toContain("flannel");
    expect(r.stderr).toContain("the node stays cordoned and its host untouched");
    expect(r.stderr).toContain("kubectl uncordon worker-2");
    expect(r.stderr).not.toContain("    at "); // no stack
    // the host untouched: only the reachability check (`true`) ran on it, before the drain
    expect(commands("worker-2").map(argv)).toEqual([["true"]]);
    expect(
      commands("master-1")
        .map(script)
        .some((s) => /delete node/.test(s)),
    ).toBe(false);
    expectScriptsParse();
  });

  it("a pod without a controller blocks the drain unless --force, which kubectl drain gets", async () => {
    rec
      .respondFirst((op) => /drain "\$1" .*--timeout="\$2"s 2>&1$/.test(script(op)), {
        code: 1,
        stdout:
          'error: unable to drain node "worker-2" due to error: cannot delete Pods that declare no controller (use --force to override): default/lonely\n',
      })
      .respondFirst((op) => /get pods -A --field-selector/.test(script(op)), {
        stdout: `${JSON.stringify({ items: [{ metadata: { name: "lonely", namespace: "default" }, status: { phase: "Running" } }] })}\n--- khw ---\n{"items":[]}\n`,
      });
    const r = await khw(dir, ["node", "remove", "worker-2", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the drain of worker-2 was refused: pod default/lonely has no controller");
    expect(r.stderr).toContain("pass --force");
    rec = cluster(new RecordingExecutor());
    const forced = await khw(dir, ["node", "remove", "worker-2", "--yes", "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(
      commands("master-1")
        .map(script)
        .filter((s) => /drain "\$1" .* --force 2>&1$/.test(s)),
    ).toHaveLength(1);
  });

  it("refuses the load balancer, the last worker (unless --force) and a missing confirmation (a control plane's too)", async () => {
    const cp = await khw(dir, ["node", "remove", "master-2"]);
    expect(cp.code).toBe(2);
    expect(cp.stderr).toContain("takes a control plane and its etcd member out of the cluster");
    expect(cp.stderr).toContain("no terminal to ask on");
    const lb = await khw(dir, ["node", "remove", "loadbalancer", "--yes"]);
    expect(lb.code).toBe(1);
    expect(lb.stderr).toContain("loadbalancer is the load balancer");
    const ask = await khw(dir, ["node", "remove", "worker-2"]);
    expect(ask.code).toBe(2);
    expect(ask.stderr).toContain("no terminal to ask on");
    let asked = "";
    setConfirmForTests(async (q) => {
      asked = q;
      return false;
    });
    expect((await khw(dir, ["node", "remove", "worker-2"])).code).toBe(1);
    expect(asked).toContain("Remove worker-2 from cluster 'kubernetes-the-hard-way'");
    expect(rec.ops).toEqual([]);

    const path = join(dir, "cluster.yaml");
    writeFileSync(path, removeNodeFromSpecText(readFileSync(path, "utf8"), "worker-2", "cluster.yaml"));
    const last = await khw(dir, ["node", "remove", "worker-1", "--yes"]);
    expect(last.code).toBe(2);
    expect(last.stderr).toContain("worker-1 is the last worker");
    expect(last.stderr).toContain("--force");
    expect(rec.ops).toEqual([]);
    const forced = await khw(dir, ["node", "remove", "worker-1", "--yes", "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
  });

  it("a control plane's --dry-run prints @khw/pki's membership plan and connects nowhere (test/membership.test.ts carries it out)", async () => {
    const r = await khw(dir, ["node", "remove", "master-2", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(rec.ops).toEqual([]);
    expect(r.stdout).toContain("as khw carries it out (nothing is changed now)");
    expect(r.stdout).toContain("1. loadbalancer: HAProxy backends master-1, reload");
    expect(r.stdout).toMatch(/master-1: etcdctl member remove <id of master-2>/);
    expect(r.stdout).toContain("SAN IP 192.168.56.12 (master-2) removed");
    const j = JSON.parse((await khw(dir, ["node", "remove", "master-2", "--dry-run", "--json"])).stdout);
    expect(j).toMatchObject({ dryRun: true, removed: ["master-2"] });
  });

  it("--dry-run connects nowhere and prints the plan", async () => {
    const r = await khw(dir, ["node", "remove", "worker-1", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(rec.ops).toEqual([]);
    expect(r.stdout).toContain(
      "master-1: kubectl drain worker-1 --ignore-daemonsets --delete-emptydir-data --timeout=300s",
    );
    expect(r.stdout).toContain("worker-1: stop and disable kube-proxy, kubelet, containerd");
    const j = await khw(dir, ["node", "remove", "worker-1", "--dry-run", "--json"]);
    expect(JSON.parse(j.stdout)).toMatchObject({
      dryRun: true,
      node: "worker-1",
      inSpec: true,
      via: "master-1",
    });
  });

  it("an orphaned node (registered, not in cluster.yaml): drained and deleted; its host is not touched", async () => {
    rec = cluster(new RecordingExecutor(), ["worker-1", "worker-2", "worker-3"]);
    const r = await khw(dir, ["node", "remove", "worker-3", "--yes"]);
    expect(r.code, r.stderr).toBe(0);
    expect([...new Set(commands().map((o) => o.host))]).toEqual(["master-1"]);
    expect(r.stdout).toContain("worker-3 is not in cluster.yaml: its host was not cleaned");
    // run again: the Node is gone, nothing to drain, still fine
    rec = cluster(new RecordingExecutor(), ["worker-1", "worker-2"]);
    const again = await khw(dir, ["node", "remove", "worker-3", "--yes"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("no Node registered (already deleted)");
  });
});

describe("a worker whose host does not answer", () => {
  it("is refused before anything changes, with --unreachable named as the way out", async () => {
    rec = cluster(new RecordingExecutor({ unreachable: ["worker-2"] }));
    const r = await khw(dir, ["node", "remove", "worker-2", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("worker-2: its host does not answer over SSH");
    expect(r.stderr).toContain("nothing was changed");
    expect(r.stderr).toContain("khw node remove worker-2 --unreachable");
    // not even a cordon: the first control plane was asked nothing
    expect(commands("master-1")).toEqual([]);
  });

  it("--unreachable: no drain, no reset; the Node deleted through the first control plane, the spec edited", async () => {
    rec = cluster(new RecordingExecutor({ unreachable: ["worker-2"] }));
    const dry = await khw(dir, ["node", "remove", "worker-2", "--unreachable", "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("no drain, no host reset (--unreachable)");
    expect(dry.stdout).not.toContain("kubectl drain");
    expect(commands()).toEqual([]);
    const r = await khw(dir, [
      "node",
      "remove",
      "worker-2",
      "--unreachable",
      "--yes",
      "--update-spec",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect([...new Set(commands().map((o) => o.host))]).toEqual(["master-1"]);
    const m1 = commands("master-1").map(script);
    expect(m1.some((s) => /drain/.test(s))).toBe(false);
    expect(m1.at(-1)).toMatch(/delete node "\$1" --ignore-not-found/);
    expect(JSON.parse(r.stdout)).toMatchObject({
      node: "worker-2",
      nodeDeleted: true,
      specUpdated: true,
      ok: true,
    });
    expect(r.stderr).toContain("worker-2: not drained (its host is unreachable)");
    rec = cluster(new RecordingExecutor({ unreachable: ["worker-2"] }));
    const plain = await khw(dir, ["node", "remove", "worker-2", "--unreachable", "--yes"]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain(
      "worker-2's host was not touched: should it come back, its kubelet registers",
    );
    expect(
      parseClusterYaml(readFileSync(join(dir, "cluster.yaml"), "utf8")).cluster.workers.map((w) => w.name),
    ).toEqual(["worker-1"]);
  });
});

describe("orphaned nodes", () => {
  it("khw status names a registered node cluster.yaml does not list, and fails", async () => {
    const registered = ["worker-1", "worker-2", "worker-3"];
    rec = cluster(new RecordingExecutor(), registered);
    const r = await khw(dir, ["status", "--json"]);
    expect(JSON.parse(r.stdout).orphans).toEqual(["worker-3"]);
    expect(r.code).toBe(1);
    rec = cluster(new RecordingExecutor(), registered);
    const t = await khw(dir, ["status"]);
    expect(t.stderr).toContain(
      "orphaned node worker-3: registered but not in cluster.yaml — `khw node remove worker-3` or add it back",
    );
  });
});

describe("control planes that differ from etcd's members", () => {
  it("etcd's member list is read on the first control plane that answers; a drift comes with the plan", async () => {
    const { cluster } = parseClusterYaml(readFileSync(join(dir, "cluster.yaml"), "utf8"));
    const r = new RecordingExecutor({ unreachable: ["master-1"] }).respond(
      (op) => script(op) === ETCD_MEMBERS_SCRIPT,
      // etcdctl member list's simple output, through the script's awk
      () => {
        const out = execFileSync(
          "sh",
          ["-c", ETCD_MEMBERS_SCRIPT.split("\n")[1]!.replace(/^.*\| awk/, "awk")],
          {
            input:
              "8e9e05c52164694d, started, master-1, https://192.168.56.11:2380, https://192.168.56.11:2379, false\n91bc3c398fb3c146, started, master-2, https://192.168.56.12:2380, https://192.168.56.12:2379, false\n",
            encoding: "utf8",
          },
        );
        return { stdout: out };
      },
    );
    const hostsMap = new Map(
      cluster.nodes.map((n) => [n.name, { name: n.name, host: n.address, port: 22, user: "root" }]),
    );
    const members = await runningEtcdMembers(cluster, r, hostsMap as never);
    expect(members).toEqual([
      { name: "master-1", peerURL: "https://192.168.56.11:2380" },
      { name: "master-2", peerURL: "https://192.168.56.12:2380" },
    ]);
    expect(membershipDrift(cluster, members!)).toBeUndefined();
    // the spec adds master-3: drift, with @khw/pki's plan
    const spec = cluster.spec;
    const grown = loadCluster({
      ...spec,
      nodes: [{ name: "master-3", role: "controlplane", address: "192.168.56.13" }, ...spec.nodes],
    }).cluster;
    const drift = membershipDrift(grown, members!)!;
    expect(drift).toMatchObject({ added: ["master-3"], removed: [] });
    expect(drift.plan?.steps.map((s) => s.kind)).toContain("etcd-member-add");
    const lines = describeDrift(drift);
    expect(lines[0]).toContain("the spec adds control plane(s) master-3");
    expect(lines.join("\n")).toContain("etcdctl member add master-3 --peer-urls=https://192.168.56.13:2380");
    // the spec drops master-2 (still a member): its address comes from the peer URL
    const shrunk = loadCluster({ ...spec, nodes: spec.nodes.filter((n) => n.name !== "master-2") }).cluster;
    const gone = membershipDrift(shrunk, members!)!;
    expect(gone).toMatchObject({ added: [], removed: ["master-2"] });
    expect(describeDrift(gone).join("\n")).toContain("SAN IP 192.168.56.12 (master-2) removed");
  });
});

describe("the pure parts", () => {
  it("label selectors as Kubernetes evaluates them", () => {
    const labels = { app: "web", tier: "front" };
    expect(selectorMatches({ matchLabels: { app: "web" } }, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: "db" } }, labels)).toBe(false);
    expect(selectorMatches({}, labels)).toBe(true);
    expect(selectorMatches(undefined, labels)).toBe(false);
    expect(
      selectorMatches(
        { matchExpressions: [{ key: "tier", operator: "In", values: ["front", "x"] }] },
        labels,
      ),
    ).toBe(true);
    expect(
      selectorMatches({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["front"] }] }, labels),
    ).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "gone", operator: "DoesNotExist" }] }, labels)).toBe(
      true,
    );
    expect(selectorMatches({ matchExpressions: [{ key: "app", operator: "Exists" }] }, labels)).toBe(true);
  });

  it("a budget that still allows a disruption does not hold a pod; finished and mirror pods are ignored", () => {
    const pod = (name: string, extra: object = {}) => ({
      metadata: {
        name,
        namespace: "ns",
        labels: { app: "a" },
        ownerReferences: [{ kind: "ReplicaSet", name: "r", controller: true }],
      },
      status: { phase: "Running" },
      ...extra,
    });
    const blocked = blockedPods(
      [pod("p1"), pod("done", { status: { phase: "Succeeded" } })],
      [
        {
          metadata: { name: "b", namespace: "ns" },
          spec: { selector: { matchLabels: { app: "a" } } },
          status: { disruptionsAllowed: 1 },
        },
      ],
    );
    expect(blocked).toEqual([{ pod: "ns/p1", budgets: [], unmanaged: false, terminating: false }]);
    expect(describeBlocked(blocked)).toBe("pod ns/p1 was not evicted");
    // an unmanaged pod is the whole cause without --force (kubectl evicts nothing then); with it, not
    const lonely = {
      metadata: { name: "lonely", namespace: "ns", deletionTimestamp: "2026-01-01T00:00:00Z" },
      status: { phase: "Running" },
    };
    const both = blockedPods([pod("p1"), lonely], []);
    expect(describeBlocked(both)).toBe(
      "pod ns/lonely has no controller (terminating): kubectl drain deletes it only with --force, and nothing recreates it",
    );
    expect(describeBlocked(both, true)).toBe("pod ns/p1 was not evicted; pod ns/lonely is still terminating");
  });

  it("an anchor in the removed entry (as khw lab up writes them) leaves no dangling alias", () => {
    const text = [
      "apiVersion: khw/v1alpha1",
      "kind: Cluster",
      "name: x",
      "nodes:",
      "  - name: m",
      "    role: controlplane",
      "    address: 10.1.0.2",
      "  - name: w1",
      "    role: worker",
      "    address: 10.1.0.3",
      "    kubelet:",
      "      extraConfig:",
      "        enforceNodeAllocatable: &a1 []",
      "        conntrack: &a2",
      "          maxPerCore: 0",
      "  # the second worker",
      "  - name: w2",
      "    role: worker",
      "    address: 10.1.0.4",
      "    kubelet:",
      "      extraConfig:",
      "        enforceNodeAllocatable: *a1",
      "        conntrack: *a2",
      "",
    ].join("\n");
    const out = removeNodeFromSpecText(text, "w1", "c.yaml");
    expect(out).not.toContain("w1");
    expect(out).not.toContain("*a");
    expect(out).toContain("  # the second worker\n  - name: w2\n");
    const w2 = parseClusterYaml(out).cluster.workers[0]!;
    expect(w2.name).toBe("w2");
    expect(out).toContain("enforceNodeAllocatable: []");
    expect(out).toMatch(/conntrack:\n\s+maxPerCore: 0/);
  });

  it("removing the only node of a role the spec requires is refused, the text left as it was", () => {
    const text =
      "apiVersion: khw/v1alpha1\nkind: Cluster\nname: x\nnodes:\n  - name: m\n    role: controlplane\n    address: 10.1.0.2\n";
    expect(() => removeNodeFromSpecText(text, "m", "c.yaml")).toThrow(/would not be a valid spec without m/);
    expect(removeNodeFromSpecText(text, "absent", "c.yaml")).toBe(text);
  });
});
