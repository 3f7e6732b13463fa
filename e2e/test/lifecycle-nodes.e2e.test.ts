/**
 * Workers join and leave a running cluster (issue 15, items 1): one lab booted with 3 workers, the first
 * `khw up` given a cluster.yaml of 2; then worker-3 is added by editing cluster.yaml (`khw up` brings it
 * in, no unit on the old hosts restarts, no change is reported on them), reported as orphaned while it is
 * registered but out of cluster.yaml, and removed with `khw node remove worker-3 --yes --update-spec`
 * (drained with its pods moved, the Node deleted, the host clean, cluster.yaml edited with its comments
 * kept). Then a worker lost for good: worker-3 back in, its host stopped, `khw node remove` refused before it
 * changes anything, `--unreachable` deleting its Node and its pods moving to the live workers. Each
 * scenario is named, bounded and timed.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultClusterSpecInput, parseClusterYaml, renderClusterYaml } from "@khw/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bringBack,
  endSuite,
  type Lab,
  labSkipReason,
  loseHostExpectRefusal,
  resetLeftovers,
  restartsBetween,
  startLabWithout,
  WORKER_UNITS,
  withoutNode,
} from "./_lab";
import { recordStep, scenario } from "./_scenario";
import { events, khw, onHost, until } from "./_support";

const SUITE = "lifecycle-nodes";
const unavailable = labSkipReason(SUITE);
const NEW = "worker-3";
const NS = "khw-lifecycle";

/** The default spec and a third worker (TLS bootstrap, as worker-2): the lab boots all six hosts. */
function specWithThreeWorkers(): string {
  const spec = defaultClusterSpecInput();
  const nodes = [...spec.nodes];
  nodes.splice(
    nodes.findIndex((n) => n.role === "loadbalancer"),
    0,
    { name: NEW, role: "worker", address: "192.168.56.23", kubelet: { credentials: "tls-bootstrap" } },
  );
  return renderClusterYaml({ ...spec, nodes } as typeof spec);
}

// biome-ignore lint/suspicious/noExplicitAny: parsed API objects
type Any = any;

let lab: Lab;
let release: () => void = () => {};
let specFile: string;
let fullSpec: string;

/** The web pods: name, node, and whether each runs (not being deleted). */
async function podsOn(): Promise<Array<{ name: string; node: string; ready: boolean }>> {
  const r = await lab.kubectl("-n", NS, "get", "pods", "-l", "app=web", "-o", "json");
  return (JSON.parse(r.stdout) as Any).items.map((p: Any) => ({
    name: p.metadata.name,
    node: p.spec.nodeName,
    ready: p.status.phase === "Running" && !p.metadata.deletionTimestamp,
  }));
}

/** `kubectl get node` when its Ready condition is True, else undefined (for `until`). */
async function nodeReady(node: string) {
  const r = await lab.kubectl(
    "get",
    "node",
    node,
    "-o",
    'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
  );
  return r.stdout.trim() === "True" ? r : undefined;
}

describe.skipIf(unavailable !== undefined)("workers join and leave a running cluster", () => {
  beforeAll(async () => {
    // The cluster as it was before worker-3: its host is booted (and in known_hosts) but not in the spec.
    ({ lab, release, specFile, fullSpec } = await startLabWithout(SUITE, specWithThreeWorkers(), NEW));
    expect(lab.hosts.workers).toEqual(["worker-1", "worker-2"]);
    const up = await khw(lab.workdir, ["up"]);
    recordStep(SUITE, "khw up (first, 2 workers)", up.seconds, up.code === 0);
    expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
  });

  afterAll(() => endSuite(SUITE, lab, release));

  it("the first khw up left worker-3's host alone", async () => {
    const r = await onHost(
      lab.workdir,
      NEW,
      "ls /etc/systemd/system/kubelet.service /usr/local/bin/kubelet 2>&1 || true",
    );
    expect(r.stdout).toContain("No such file");
    expect((await lab.kubectl("get", "nodes", "-o", "name")).stdout.trim().split("\n").sort()).toEqual([
      "node/worker-1",
      "node/worker-2",
    ]);
  });

  scenario(
    SUITE,
    "add worker-3 to cluster.yaml: khw up brings it in, nothing on the old hosts changes",
    12,
    async () => {
      const oldHosts = lab.all();
      const before = await lab.unitStarts();
      writeFileSync(specFile, fullSpec);
      await lab.refresh();
      const dry = await khw(lab.workdir, ["up", "--dry-run", "--json"]);
      expect(dry.code, dry.stderr).toBe(0);
      const planned = events(dry.stdout).filter((e) => e["type"] === "plan");
      console.log(`[e2e] dry run: ${planned.map((e) => `${e["host"]}: ${e["what"]}`).join(" | ")}`);
      // only worker-3's host, and on the applying control plane only what concerns worker-3 (its CSR)
      const plannedElsewhere = planned.filter((e) => e["host"] !== NEW && !String(e["what"]).includes(NEW));
      expect(plannedElsewhere.map((e) => `${e["host"]}: ${e["what"]}`)).toEqual([]);

      const up = await khw(lab.workdir, ["up", "--json"]);
      recordStep(SUITE, "khw up (worker-3 added)", up.seconds, up.code === 0);
      expect(up.code, `${up.stdout.slice(-3000)}\n${up.stderr}`).toBe(0);
      const changed = events(up.stdout).filter((e) => e["type"] === "step" && e["status"] === "changed");
      // On the old hosts nothing; through the first control plane's kubectl only the approval of worker-3's
      // kubelet-serving CSR (a change of the cluster's objects, for worker-3, on no host's files or units).
      const master = lab.hosts.masters[0]!;
      const changedElsewhere = changed.filter(
        (e) =>
          e["host"] !== NEW && !(e["host"] === master && e["step"] === "approve valid kubelet-serving CSRs"),
      );
      console.log(
        `[e2e] changes: ${changed.filter((e) => e["host"] === NEW).length} on ${NEW}; elsewhere: ${changed
          .filter((e) => e["host"] !== NEW)
          .map((e) => `${e["host"]}: ${e["step"]}`)
          .join(", ")}`,
      );
      expect(changedElsewhere.map((e) => `${e["host"]}: ${e["step"]}`)).toEqual([]);
      const after = await lab.unitStarts();
      const old = (u: Record<string, { since: string; autoRestarts: number }>) =>
        Object.fromEntries(Object.entries(u).filter(([k]) => oldHosts.includes(k.split("/")[0]!)));
      const restarted = restartsBetween(old(before), old(after));
      // (systemd's own Restart= of a component is listed by restartsBetween, not counted as khw's)
      expect(restarted.ordered).toEqual([]);
      for (const u of WORKER_UNITS) expect(after[`${NEW}/${u}`]?.since, u).not.toBe("0");

      const ready = await until(`${NEW} Ready`, () => nodeReady(NEW));
      expect(ready.stdout.trim()).toBe("True");
      const again = await khw(lab.workdir, ["up"]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain("converged: no changes");
      await lab.smokePasses();
    },
  );

  scenario(
    SUITE,
    "worker-3 out of cluster.yaml while registered: khw up --dry-run and khw status name it orphaned",
    4,
    async () => {
      writeFileSync(specFile, withoutNode(fullSpec, NEW));
      try {
        const message = `orphaned node ${NEW}: registered but not in cluster.yaml — \`khw node remove ${NEW}\` or add it back`;
        const dry = await khw(lab.workdir, ["up", "--dry-run"]);
        expect(dry.code, dry.stderr).toBe(0);
        expect(dry.stderr).toContain(message);
        const status = await khw(lab.workdir, ["status"]);
        expect(status.stderr).toContain(message);
        expect(status.code).toBe(1);
        const json = await khw(lab.workdir, ["status", "--json"]);
        expect(JSON.parse(json.stdout).orphans).toEqual([NEW]);
      } finally {
        writeFileSync(specFile, fullSpec);
      }
    },
  );

  scenario(
    SUITE,
    "khw node remove worker-3 --yes --update-spec: drained, Node gone, host clean, spec edited",
    10,
    async () => {
      const { cluster } = parseClusterYaml(fullSpec);
      const image = cluster.spec.addons.images.nginx!;
      // One replica per worker (spread by hostname) and a budget that allows one disruption at a time.
      const objects = {
        apiVersion: "v1",
        kind: "List",
        items: [
          { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
          {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "web", namespace: NS },
            spec: {
              replicas: 3,
              selector: { matchLabels: { app: "web" } },
              template: {
                metadata: { labels: { app: "web" } },
                spec: {
                  topologySpreadConstraints: [
                    {
                      maxSkew: 1,
                      topologyKey: "kubernetes.io/hostname",
                      // one per node while 3 are schedulable; a cordoned node is no domain (Honor)
                      whenUnsatisfiable: "DoNotSchedule",
                      nodeTaintsPolicy: "Honor",
                      labelSelector: { matchLabels: { app: "web" } },
                    },
                  ],
                  containers: [{ name: "nginx", image }],
                },
              },
            },
          },
          {
            apiVersion: "policy/v1",
            kind: "PodDisruptionBudget",
            metadata: { name: "web", namespace: NS },
            spec: { minAvailable: 2, selector: { matchLabels: { app: "web" } } },
          },
        ],
      };
      // khw smoke deletes its namespace without waiting: its unmanaged pods (busybox) would make the
      // drain refuse without --force, as kubectl's does. Wait until they are gone.
      await until(
        "the smoke test's namespace gone",
        async () => ((await lab.kubectl("get", "namespace", "khw-smoke")).code !== 0 ? true : undefined),
        180,
      );
      const manifest = join(lab.workdir, "lifecycle.json");
      writeFileSync(manifest, JSON.stringify(objects));
      const applied = await lab.kubectl("apply", "-f", manifest);
      expect(applied.code, applied.stderr).toBe(0);
      const placed = await until(
        "3 web pods running, one on worker-3",
        async () => {
          const pods = await podsOn();
          return pods.filter((p) => p.ready).length === 3 && pods.some((p) => p.node === NEW)
            ? pods
            : undefined;
        },
        180,
      );
      console.log(`[e2e] before: ${placed.map((p) => `${p.name}@${p.node}`).join(" ")}`);

      // a comment of the user's own, on the entry that stays and on the one that goes
      const commented = fullSpec
        .replace("  - name: worker-1\n", "  # the first worker: keep it\n  - name: worker-1\n")
        .replace(`  - name: ${NEW}\n`, `  # added for the e2e\n  - name: ${NEW}\n`);
      writeFileSync(specFile, commented);
      const r = await khw(lab.workdir, ["node", "remove", NEW, "--yes", "--update-spec", "--timeout", "240"]);
      console.log(`[e2e] khw node remove (${r.seconds.toFixed(1)} s):\n${r.stdout}${r.stderr}`);
      recordStep(SUITE, "khw node remove worker-3", r.seconds, r.code === 0);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toContain(": left ");

      const gone = await lab.kubectl("get", "node", NEW);
      expect(gone.code).not.toBe(0);
      expect(gone.stderr).toContain("NotFound");
      const moved = await until(
        "3 web pods running on worker-1/worker-2",
        async () => {
          const pods = await podsOn();
          return pods.filter((p) => p.ready && p.node !== NEW).length === 3 ? pods : undefined;
        },
        180,
      );
      console.log(`[e2e] after: ${moved.map((p) => `${p.name}@${p.node}`).join(" ")}`);
      expect(moved.every((p) => p.node !== NEW)).toBe(true);

      const left = await resetLeftovers(lab.workdir, NEW, WORKER_UNITS, true);
      expect(left.files, `${NEW}: files left`).toBe("");
      expect(left.state, `${NEW}: routes, chains, mounts, links left`).toBe("");
      const active = await onHost(lab.workdir, NEW, `systemctl is-active ${WORKER_UNITS.join(" ")}`, true);
      expect(active.stdout.trim().split("\n")).toEqual(WORKER_UNITS.map(() => "inactive"));

      const spec = readFileSync(specFile, "utf8");
      expect(spec).not.toContain(NEW);
      expect(spec).toContain("  # the first worker: keep it\n  - name: worker-1\n");
      expect(spec).toBe(withoutNode(commented.replace("  # added for the e2e\n", ""), NEW));
      await lab.refresh();
      expect(lab.hosts.workers).toEqual(["worker-1", "worker-2"]);
      const up = await khw(lab.workdir, ["up"]);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stdout).toContain("converged: no changes");
      // no orphan, worker-3 no host of khw status any more (whatever else status judges, it is printed)
      const status = await khw(lab.workdir, ["status", "--json"]);
      const report = JSON.parse(status.stdout) as Any;
      expect(report.orphans).toEqual([]);
      expect(report.hosts.map((h: Any) => h.host)).not.toContain(NEW);
      const notOk = report.hosts.flatMap((h: Any) => [
        ...h.components
          .filter((c: Any) => c.state !== "active" || !c.versionOk)
          .map((c: Any) => `${h.host}/${c.name}: ${c.state} ${c.version}`),
        ...h.certificates
          .filter((c: Any) => c.status !== "valid")
          .map((c: Any) => `${h.host}:${c.path}: ${c.status}`),
      ]);
      console.log(
        `[e2e] khw status after the removal: exit ${status.code}; not ok: ${notOk.join(", ") || "none"}`,
      );
    },
  );

  scenario(
    SUITE,
    "a worker lost for good: khw node remove refuses before it changes anything; --unreachable deletes its Node, its pods move",
    12,
    async () => {
      // worker-3 back in (its host was reset by the removal above), with one of the web pods on it
      await bringBack(lab, SUITE, NEW, specFile, fullSpec);
      await until(`${NEW} Ready`, () => nodeReady(NEW), 180);
      expect((await lab.kubectl("-n", NS, "rollout", "restart", "deployment/web")).code).toBe(0);
      await until(
        "3 web pods running, one on worker-3",
        async () => {
          const pods = await podsOn();
          return pods.filter((p) => p.ready).length === 3 && pods.some((p) => p.ready && p.node === NEW)
            ? true
            : undefined;
        },
        240,
      );

      // without --unreachable: refused before anything changes (no cordon, no drain waiting on dead pods)
      await loseHostExpectRefusal(lab, SUITE, NEW);
      const still = await lab.kubectl("get", "node", NEW, "-o", "json");
      expect(still.code, still.stderr).toBe(0);
      expect((JSON.parse(still.stdout) as Any).spec.unschedulable).toBeUndefined();
      expect(readFileSync(specFile, "utf8")).toBe(fullSpec);

      const r = await khw(lab.workdir, ["node", "remove", NEW, "--unreachable", "--yes", "--update-spec"]);
      console.log(
        `[e2e] khw node remove ${NEW} --unreachable (${r.seconds.toFixed(1)} s):\n${r.stdout}${r.stderr}`,
      );
      recordStep(SUITE, `khw node remove ${NEW} --unreachable`, r.seconds, r.code === 0);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("not drained (its host is unreachable)");
      expect((await lab.kubectl("get", "node", NEW)).stderr).toContain("NotFound");
      // the pod that was on worker-3 is deleted with its Node (pod GC) and recreated on a live worker
      await until(
        "3 web pods running on worker-1/worker-2",
        async () => {
          const pods = await podsOn();
          return pods.length === 3 && pods.every((p) => p.ready && p.node !== NEW) ? true : undefined;
        },
        240,
      );
      expect(readFileSync(specFile, "utf8")).toBe(withoutNode(fullSpec, NEW));
      await lab.kubectl("delete", "namespace", NS, "--wait=false");
    },
  );
});
