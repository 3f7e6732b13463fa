/**
 * Control planes join and leave a running cluster (issue 15, item 2; part of `pnpm test:e2e:lifecycle`):
 * one lab booted with master-3's host too, the first `khw up` given the default cluster.yaml (2 control
 * planes). master-3 is added to cluster.yaml and `khw up` carries it in (etcd `member add`, master-3
 * joining as `existing`, the old apiservers restarted one at a time, HAProxy reloaded with a third
 * backend) while this machine requests a NodePort on the workers and the API through the load balancer
 * the whole time, counting failed requests; then `khw node remove master-3 --yes --update-spec` takes it
 * out again under the same traffic. After each: etcd's members, every running apiserver's
 * --etcd-servers, HAProxy's backends, smoke. Then master-3 back in and its host stopped: the removal is
 * refused before the first step, and `--unreachable` takes it out of etcd and HAProxy without reaching it.
 * Each scenario is named, bounded and timed.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultClusterSpecInput, renderClusterYaml } from "@khw/spec";
import { afterAll, beforeAll, describe, expect } from "vitest";
import {
  bringBack,
  CP_UNITS,
  deployWebWorkload,
  endSuite,
  type Lab,
  labSkipReason,
  loseHostExpectRefusal,
  resetLeftovers,
  restartsBetween,
  spawnKhw,
  startLabWithout,
} from "./_lab";
import { recordStep, scenario } from "./_scenario";
import { khw, onHost, until } from "./_support";
import { apiProber, errorStats, type Probe, requestLoop, serveLoop } from "./_traffic";

const SUITE = "lifecycle-control-plane";
const unavailable = labSkipReason(SUITE);
const NEW = "master-3";
const NAMESPACE = "membership-e2e";
const NODE_PORT = 30556;

/** The default spec with a third control plane (the lab boots its host too). */
function specWithThreeMasters(): string {
  const spec = defaultClusterSpecInput();
  const nodes = [...spec.nodes];
  nodes.splice(
    nodes.findIndex((n) => n.role === "worker"),
    0,
    {
      name: NEW,
      role: "controlplane",
      address: "192.168.56.13",
    },
  );
  return renderClusterYaml({ ...spec, nodes } as typeof spec);
}

const ETCDCTL =
  "ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/etcd/ca.crt --cert=/etc/etcd/etcd-server.crt --key=/etc/etcd/etcd-server.key";

let lab: Lab;
let release: () => void = () => {};
let specFile: string;
let fullSpec: string;

/** etcd's members as master-1 lists them: name (empty while unstarted) and client URLs. */
async function etcdMembers(): Promise<Array<{ name: string; clientURLs: string[] }>> {
  const r = await onHost(lab.workdir, "master-1", `${ETCDCTL} member list -w json`);
  return (JSON.parse(r.stdout) as { members: Array<{ name?: string; clientURLs?: string[] }> }).members.map(
    (m) => ({ name: m.name ?? "", clientURLs: m.clientURLs ?? [] }),
  );
}

/** The --etcd-servers of the kube-apiserver process running on `host` (not its unit file: the process). */
async function runningEtcdServers(host: string): Promise<string[]> {
  const r = await onHost(
    lab.workdir,
    host,
    "tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value kube-apiserver)/cmdline | grep -- '^--etcd-servers='",
  );
  return r.stdout.trim().replace("--etcd-servers=", "").split(",");
}

/** HAProxy's API backend servers and their status, from its admin socket. */
async function haproxyBackends(): Promise<Record<string, string>> {
  const r = await onHost(
    lab.workdir,
    lab.hosts.lb!,
    'echo "show stat" | socat stdio /run/haproxy/admin.sock',
  );
  const head = r.stdout.split("\n")[0]!.replace(/^# /, "").split(",");
  const [px, sv, st] = ["pxname", "svname", "status"].map((c) => head.indexOf(c));
  return Object.fromEntries(
    r.stdout
      .split("\n")
      .slice(1)
      .map((l) => l.split(","))
      .filter((f) => f[px!] === "kubernetes-control-planes" && f[sv!] !== "BACKEND" && f[sv!] !== "FRONTEND")
      .map((f) => [f[sv!]!, f[st!]!]),
  );
}

type Stats = Record<"web" | "api", ReturnType<typeof errorStats>>;

/** The NodePort loop on the workers and the API loop through the load balancer, started together. */
function traffic() {
  const api = apiProber(join(lab.out, "admin/admin.kubeconfig"));
  const web = serveLoop(
    lab.hosts.workers.map((w) => lab.hosts.addresses[w]!),
    NODE_PORT,
  );
  const apiLoop = requestLoop([api.server], () => api.run());
  const t0 = performance.now();
  return {
    async stop(what: string): Promise<Stats> {
      await Promise.all([web.stop(), apiLoop.stop()]);
      const seconds = (performance.now() - t0) / 1000;
      const report = (name: string, probes: Probe[]) => {
        const s = errorStats(probes);
        console.log(
          `[e2e] ${SUITE}: ${name} during ${what} (${seconds.toFixed(0)} s): ${s.failed} of ${s.total} requests failed; longest error streak ${s.longest.toFixed(1)} s`,
        );
        for (const st of s.streaks)
          console.log(
            `[e2e] ${SUITE}:   errors at +${((st.from - t0) / 1000).toFixed(1)} s for ${st.seconds.toFixed(1)} s: ${[...new Set(st.details)].join("; ")}`,
          );
        recordStep(
          SUITE,
          `${name} during ${what}: ${s.failed}/${s.total} failed, longest streak ${s.longest.toFixed(1)} s`,
          seconds,
          s.longest <= 5,
        );
        return s;
      };
      return { web: report("NodePort", web.probes), api: report("API via the LB", apiLoop.probes) };
    },
  };
}

describe.skipIf(unavailable !== undefined)("control planes join and leave a running cluster", () => {
  beforeAll(async () => {
    // The cluster as it was before master-3: its host is booted (and in known_hosts) but not in the spec.
    ({ lab, release, specFile, fullSpec } = await startLabWithout(SUITE, specWithThreeMasters(), NEW));
    expect(lab.hosts.masters).toEqual(["master-1", "master-2"]);
    const up = await khw(lab.workdir, ["up"]);
    recordStep(SUITE, "khw up (first, 2 control planes)", up.seconds, up.code === 0);
    expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
  });

  afterAll(() => endSuite(SUITE, lab, release));

  scenario(SUITE, "2 nginx replicas, one per worker, behind a NodePort", 4, async () => {
    await deployWebWorkload(lab, {
      namespace: NAMESPACE,
      replicas: 2,
      spread: "anti-affinity",
      minAvailable: 1,
      nodePort: NODE_PORT,
    });
    expect((await etcdMembers()).map((m) => m.name).sort()).toEqual(["master-1", "master-2"]);
  });

  scenario(
    SUITE,
    "add master-3 to cluster.yaml: khw up joins it to etcd, rolls the apiservers, HAProxy gets 3 backends",
    10,
    async () => {
      const before = await lab.unitStarts();
      writeFileSync(specFile, fullSpec);
      const dry = await khw(lab.workdir, ["up", "--dry-run"]);
      console.log(`[e2e] ${SUITE}: khw up --dry-run:\n${dry.stdout}`);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(
        "master-1: etcdctl member add master-3 --peer-urls=https://198.18.0.13:2380",
      );
      expect(dry.stdout).toContain("--initial-cluster-state=existing");
      expect(restartsBetween(before, await lab.unitStarts()).ordered).toEqual([]);

      const load = traffic();
      let up!: Awaited<ReturnType<typeof spawnKhw>["done"]>;
      let stats!: Stats;
      const t0 = performance.now();
      try {
        up = await spawnKhw(lab.workdir, ["up"]).done;
      } finally {
        stats = await load.stop("the addition");
      }
      const seconds = (performance.now() - t0) / 1000;
      console.log(
        `[e2e] ${SUITE}: khw up (master-3 added, ${seconds.toFixed(1)} s):\n${up.stdout}${up.stderr}`,
      );
      recordStep(SUITE, "khw up (master-3 added)", seconds, up.code === 0);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stdout).toContain("[membership] control plane master-3 added");

      const members = await etcdMembers();
      expect(members.map((m) => m.name).sort()).toEqual(["master-1", "master-2", "master-3"]);
      expect(members.every((m) => m.clientURLs.length === 1)).toBe(true); // every one started
      const health = await onHost(lab.workdir, "master-1", `${ETCDCTL} endpoint health --cluster`);
      expect(health.stdout.match(/ is healthy/g)).toHaveLength(3);
      await lab.refresh();
      expect(lab.hosts.masters).toEqual(["master-1", "master-2", NEW]);
      const urls = lab.hosts.masters.map((m) => `https://${lab.hosts.addresses[m]}:2379`);
      for (const m of lab.hosts.masters) expect(await runningEtcdServers(m), m).toEqual(urls);
      const backends = await until("HAProxy: 3 backends UP", async () => {
        const b = await haproxyBackends();
        return Object.values(b).filter((s) => s === "UP").length === 3 ? b : undefined;
      });
      expect(Object.keys(backends).sort()).toEqual(["master-1", "master-2", NEW]);
      // etcd on the old members was not restarted (it reloads its certificate per handshake)
      const after = await lab.unitStarts();
      for (const m of ["master-1", "master-2"]) {
        expect(after[`${m}/etcd`]?.since, `${m}/etcd`).toBe(before[`${m}/etcd`]?.since);
        expect(after[`${m}/kube-apiserver`]?.since, `${m}/kube-apiserver`).not.toBe(
          before[`${m}/kube-apiserver`]?.since,
        );
      }
      expect(stats.web.failed, "NodePort requests failed during the addition").toBe(0);
      expect(stats.api.total).toBeGreaterThan(20);
      expect(stats.api.longest).toBeLessThanOrEqual(5);

      const again = await khw(lab.workdir, ["up"]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain("converged: no changes");
      await lab.smokePasses();
    },
  );

  scenario(
    SUITE,
    "khw node remove master-3 --yes --update-spec: member removed, apiservers rolled, HAProxy 2 backends, host clean",
    10,
    async () => {
      const dry = await khw(lab.workdir, ["node", "remove", NEW, "--dry-run"]);
      expect(dry.code, dry.stderr).toBe(0);
      console.log(`[e2e] ${SUITE}: khw node remove ${NEW} --dry-run:\n${dry.stdout}`);
      const before = await lab.unitStarts();
      const load = traffic();
      let r!: Awaited<ReturnType<typeof spawnKhw>["done"]>;
      let stats!: Stats;
      const t0 = performance.now();
      try {
        r = await spawnKhw(lab.workdir, ["node", "remove", NEW, "--yes", "--update-spec"]).done;
      } finally {
        stats = await load.stop("the removal");
      }
      const seconds = (performance.now() - t0) / 1000;
      console.log(`[e2e] ${SUITE}: khw node remove (${seconds.toFixed(1)} s):\n${r.stdout}${r.stderr}`);
      recordStep(SUITE, "khw node remove master-3", seconds, r.code === 0);
      expect(r.code, r.stderr).toBe(0);

      expect((await etcdMembers()).map((m) => m.name).sort()).toEqual(["master-1", "master-2"]);
      const spec = readFileSync(specFile, "utf8");
      expect(spec).not.toContain(NEW);
      await lab.refresh();
      expect(lab.hosts.masters).toEqual(["master-1", "master-2"]);
      const urls = lab.hosts.masters.map((m) => `https://${lab.hosts.addresses[m]}:2379`);
      for (const m of lab.hosts.masters) expect(await runningEtcdServers(m), m).toEqual(urls);
      const backends = await haproxyBackends();
      expect(Object.keys(backends).sort()).toEqual(["master-1", "master-2"]);
      const after = await lab.unitStarts();
      for (const m of lab.hosts.masters)
        expect(after[`${m}/etcd`]?.since, `${m}/etcd`).toBe(before[`${m}/etcd`]?.since);
      const left = await resetLeftovers(lab.workdir, NEW, CP_UNITS, false);
      expect(left.files, `${NEW}: files left`).toBe("");
      const active = await onHost(lab.workdir, NEW, `systemctl is-active ${CP_UNITS.join(" ")}`, true);
      expect(active.stdout.trim().split("\n")).toEqual(CP_UNITS.map(() => "inactive"));
      expect(stats.web.failed, "NodePort requests failed during the removal").toBe(0);
      expect(stats.api.longest).toBeLessThanOrEqual(5);

      const up = await khw(lab.workdir, ["up"]);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stdout).toContain("converged: no changes");
      await lab.smokePasses();
      await lab.kubectl("delete", "namespace", NAMESPACE, "--wait=false");
    },
  );

  scenario(
    SUITE,
    "a control plane lost for good: refused before the first step; --unreachable takes it out of etcd and HAProxy without reaching it",
    12,
    async () => {
      // master-3 back in (its host was reset by the removal above), then its host lost
      await bringBack(lab, SUITE, NEW, specFile, fullSpec);
      expect((await etcdMembers()).map((m) => m.name).sort()).toEqual(["master-1", "master-2", NEW]);
      await loseHostExpectRefusal(lab, SUITE, NEW);
      expect((await etcdMembers()).map((m) => m.name).sort()).toEqual(["master-1", "master-2", NEW]);
      expect(Object.keys(await haproxyBackends()).sort()).toEqual(["master-1", "master-2", NEW]);
      expect(readFileSync(specFile, "utf8")).toBe(fullSpec);

      const r = await khw(lab.workdir, ["node", "remove", NEW, "--unreachable", "--yes", "--update-spec"]);
      console.log(
        `[e2e] ${SUITE}: khw node remove ${NEW} --unreachable (${r.seconds.toFixed(1)} s):\n${r.stdout}${r.stderr}`,
      );
      recordStep(SUITE, `khw node remove ${NEW} --unreachable`, r.seconds, r.code === 0);
      expect(r.code, r.stderr).toBe(0);
      expect((await etcdMembers()).map((m) => m.name).sort()).toEqual(["master-1", "master-2"]);
      expect(readFileSync(specFile, "utf8")).not.toContain(NEW);
      await lab.refresh();
      expect(lab.hosts.masters).toEqual(["master-1", "master-2"]);
      const urls = lab.hosts.masters.map((m) => `https://${lab.hosts.addresses[m]}:2379`);
      for (const m of lab.hosts.masters) expect(await runningEtcdServers(m), m).toEqual(urls);
      expect(Object.keys(await haproxyBackends()).sort()).toEqual(["master-1", "master-2"]);
      const again = await khw(lab.workdir, ["up"]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain("converged: no changes");
      await lab.smokePasses();
    },
  );
});
