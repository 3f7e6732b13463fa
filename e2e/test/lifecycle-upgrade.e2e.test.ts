/**
 * The upgrade suite (part of `pnpm test:e2e:lifecycle`): a lab cluster of the default spec brought up at
 * Kubernetes v1.34.3, an nginx Deployment of 2 replicas (one per worker, a PodDisruptionBudget of
 * minAvailable 1) behind a NodePort, then `khw upgrade apply --to v1.34.4` — interrupted with Ctrl-C after
 * the first control plane and run again — while this machine requests the NodePort on both workers in turn
 * the whole time, counting failed requests. Every node and apiserver at v1.34.4, smoke passes, cluster.yaml
 * says v1.34.4. The v1.34.3 bundle is built here (or found in the cache): CI starts from a clean machine.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseClusterYaml } from "@khw/spec";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { deployWebWorkload, type Lab, labSkipReason, startLab, stopLab } from "./_lab";
import { recordStep, scenario, summaryTable } from "./_scenario";
import { httpsGet, khw } from "./_support";
import { errorStats, serveLoop } from "./_traffic";

const SUITE = "upgrade";
const FROM = "v1.34.3";
const TO = "v1.34.4";
const NAMESPACE = "upgrade-e2e";
const NODE_PORT = 30555;
const unavailable = labSkipReason(SUITE);

let lab: Lab;
let release: () => void = () => {};
/** The directory the lab's mirror serves: the bundles of both versions, hard-linked from the cache. */
let mirror: string | undefined;

// biome-ignore lint/suspicious/noExplicitAny: parsed API objects
type Any = any;

const KHW_DEV = fileURLToPath(new URL("../../scripts/khw-dev.mjs", import.meta.url));

/** khw as its own process (Ctrl-C must reach it while this process keeps requesting the NodePort). */
function khwProcess(cwd: string, argv: string[]) {
  const child: ChildProcess = spawn(process.execPath, [KHW_DEV, ...argv], {
    cwd,
    env: { ...process.env, INIT_CWD: cwd, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const watchers: Array<{ text: string; fn: () => void }> = [];
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    for (const w of watchers.splice(0)) {
      if (stdout.includes(w.text)) w.fn();
      else watchers.push(w);
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }>(
    (resolve) => {
      const t0 = performance.now();
      child.on("close", (code) =>
        resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 }),
      );
    },
  );
  return {
    child,
    done,
    /** Calls `fn` once stdout contains `text`. */
    when(text: string, fn: () => void) {
      watchers.push({ text, fn });
    },
  };
}

/** Every Node's kubelet version, by name. */
async function kubeletVersions(): Promise<Record<string, string>> {
  const r = await lab.kubectl("get", "nodes", "-o", "json");
  expect(r.code, r.stderr).toBe(0);
  return Object.fromEntries(
    (JSON.parse(r.stdout) as Any).items.map((n: Any) => [n.metadata.name, n.status.nodeInfo.kubeletVersion]),
  );
}

/** Each control plane's own apiserver /version (not through the load balancer). */
async function apiserverVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const m of lab.hosts.masters) {
    const ca = join(lab.out, m, "var/lib/kubernetes/pki/ca.crt");
    const v = await httpsGet(`https://${lab.hosts.addresses[m]}:6443/version`, ca);
    out[m] = JSON.parse(v.body).gitVersion;
  }
  return out;
}

describe.skipIf(unavailable !== undefined)("upgrade on a lab of real hosts", () => {
  beforeAll(async () => {
    // The bundles of both versions into one directory for the lab's mirror, the way a user makes one:
    // `khw bundle build --kubernetes v1.34.3 -o DIR`, then the pinned version into the same DIR. The
    // second version's build reuses the Go module and build caches of the first.
    mirror = mkdtempSync(join(tmpdir(), "khw-e2e-upgrade-mirror-"));
    for (const version of [FROM, TO]) {
      const b = await khw(mirror, ["bundle", "build", "--kubernetes", version, "-o", mirror]);
      const line = b.stdout.trim().split("\n").pop() ?? "";
      console.log(`[e2e] ${SUITE}: ${line}`);
      recordStep(
        SUITE,
        `bundle ${version} (${/\(cached\)/.test(line) ? "cached" : "built"})`,
        b.seconds,
        b.code === 0,
      );
      expect(b.code, b.stderr.slice(-3000)).toBe(0);
    }
    const started = await startLab({ suite: SUITE, up: false, labUpArgs: ["--mirror-dir", mirror] });
    lab = started.lab;
    release = started.release;
    // The cluster starts at the older patch: versions.kubernetes edited in the lab's cluster.yaml.
    const file = join(lab.workdir, "cluster.yaml");
    const text = readFileSync(file, "utf8");
    const edited = text.replace(/^(\s+kubernetes:\s*)v\S+/m, `$1${FROM}`);
    expect(edited).not.toBe(text);
    writeFileSync(file, edited);
    expect(parseClusterYaml(edited).spec.versions.kubernetes).toBe(FROM);
    const up = await khw(lab.workdir, ["up"]);
    recordStep(SUITE, `khw up (first, ${FROM})`, up.seconds, up.code === 0);
    expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
    await lab.refresh();
  });

  afterAll(async () => {
    try {
      if (lab) await stopLab(SUITE, lab.workdir, release);
      else release();
    } finally {
      if (mirror) rmSync(mirror, { recursive: true, force: true });
      console.log(`e2e ${SUITE} suite:\n${summaryTable()}`);
    }
  });

  scenario(SUITE, `the cluster runs ${FROM}; upgrade plan refuses v1.36 and plans ${TO}`, 5, async () => {
    expect(Object.values(await kubeletVersions())).toEqual(lab.hosts.workers.map(() => FROM));
    expect(Object.values(await apiserverVersions())).toEqual(lab.hosts.masters.map(() => FROM));
    const skip = await khw(lab.workdir, ["upgrade", "plan", "--to", "v1.36.0"]);
    expect(skip.code).toBe(1);
    expect(skip.stdout).toContain("✗ one-minor-at-a-time");
    const plan = await khw(lab.workdir, ["upgrade", "plan", "--to", TO, "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    const p = JSON.parse(plan.stdout) as Any;
    expect(p.kind).toBe("patch");
    expect(p.notes).toEqual([]); // every host answered with the spec's versions
  });

  scenario(
    SUITE,
    "2 nginx replicas, one per worker, a PDB of minAvailable 1, a NodePort answering",
    5,
    async () => {
      await deployWebWorkload(lab, {
        namespace: NAMESPACE,
        replicas: 2,
        spread: "anti-affinity",
        minAvailable: 1,
        nodePort: NODE_PORT,
      });
      const pods = await lab.kubectl(
        "-n",
        NAMESPACE,
        "get",
        "pods",
        "-o",
        "jsonpath={.items[*].spec.nodeName}",
      );
      expect(pods.stdout.split(" ").sort()).toEqual([...lab.hosts.workers].sort());
    },
  );

  scenario(
    SUITE,
    `khw upgrade apply --to ${TO} (Ctrl-C after the first control plane, run again) under a NodePort loop`,
    30,
    async () => {
      const loop = serveLoop(
        lab.hosts.workers.map((w) => lab.hosts.addresses[w]!),
        NODE_PORT,
      );
      const t0 = performance.now();
      let first!: Awaited<ReturnType<typeof khwProcess>["done"]>;
      let second!: Awaited<ReturnType<typeof khwProcess>["done"]>;
      try {
        const p = khwProcess(lab.workdir, ["upgrade", "apply", "--to", TO, "--yes"]);
        p.when(
          `${lab.hosts.masters[0]}: kube-apiserver /readyz ok and /version at the new version: done`,
          () => p.child.kill("SIGINT"),
        );
        first = await p.done;
        console.log(
          `[e2e] ${SUITE}: first apply (Ctrl-C) ${first.seconds.toFixed(1)} s:\n${first.stdout}${first.stderr}`,
        );
        expect(first.code, first.stderr).not.toBe(0);
        expect(first.stderr).toContain("interrupted");
        second = await khwProcess(lab.workdir, ["upgrade", "apply", "--to", TO, "--yes"]).done;
        console.log(
          `[e2e] ${SUITE}: second apply ${second.seconds.toFixed(1)} s:\n${second.stdout}${second.stderr}`,
        );
      } finally {
        await loop.stop();
      }
      const seconds = (performance.now() - t0) / 1000;
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toContain(
        "etcd snapshot from master-1, copied to the admin machine: done by an earlier run",
      );
      expect(second.stdout).toContain(
        `${lab.hosts.masters[0]}: replace the control-plane binaries, restart kube-apiserver, kube-controller-manager, kube-scheduler: done by an earlier run`,
      );
      const s = errorStats(loop.probes);
      console.log(
        `[e2e] ${SUITE}: NodePort during the upgrade (${seconds.toFixed(0)} s): ${s.failed} of ${s.total} requests failed; longest error streak ${s.longest.toFixed(1)} s`,
      );
      for (const st of s.streaks)
        console.log(
          `[e2e] ${SUITE}:   errors at +${((st.from - loop.probes[0]!.at) / 1000).toFixed(1)} s for ${st.seconds.toFixed(1)} s: ${[...new Set(st.details)].join("; ")}`,
        );
      for (const w of lab.hosts.workers) {
        const one = errorStats(loop.probes.filter((p) => p.target === lab.hosts.addresses[w]));
        console.log(
          `[e2e] ${SUITE}:   ${w} alone: ${one.failed} of ${one.total} failed, longest streak ${one.longest.toFixed(1)} s`,
        );
      }
      recordStep(
        SUITE,
        `NodePort: ${s.failed}/${s.total} failed, longest streak ${s.longest.toFixed(1)} s`,
        seconds,
        s.longest <= 5,
      );
      expect(s.total).toBeGreaterThan(100);
      // The bar: at most a few seconds of errors in a row.
      expect(s.longest).toBeLessThanOrEqual(5);
    },
  );

  scenario(
    SUITE,
    `every node and apiserver at ${TO}, smoke passes, cluster.yaml says ${TO}`,
    10,
    async () => {
      expect(await kubeletVersions()).toEqual(Object.fromEntries(lab.hosts.workers.map((w) => [w, TO])));
      expect(await apiserverVersions()).toEqual(Object.fromEntries(lab.hosts.masters.map((m) => [m, TO])));
      const nodes = await lab.kubectl("get", "nodes", "-o", "jsonpath={.items[*].spec.unschedulable}");
      expect(nodes.stdout.trim()).toBe(""); // every worker uncordoned
      const text = readFileSync(join(lab.workdir, "cluster.yaml"), "utf8");
      expect(parseClusterYaml(text).spec.versions.kubernetes).toBe(TO);
      const again = await khw(lab.workdir, ["upgrade", "plan", "--to", TO]);
      expect(again.stdout).toContain(`the cluster is at ${TO} already`);
      // khw up on the upgraded cluster changes nothing: the upgrade left it as khw up would have.
      const up = await khw(lab.workdir, ["up"]);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stdout).toContain("converged: no changes");
      await lab.refresh();
      await lab.smokePasses();
    },
  );
});
