/**
 * One lab for a suite: the lock, the bundle, `khw lab up` (a spec file, or the default), the hosts by
 * role, and what the scenarios share (kubectl with the admin kubeconfig, service start times, the smoke
 * report, khw as a real child process that can be interrupted).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBundle } from "@khw/bundle";
import { acquireLabLock, findLeftovers, labDown } from "@khw/lab";
import { parseClusterYaml } from "@khw/spec";
import { labUnavailableReason } from "@khw/test-kit/lab";
import { expect } from "vitest";
import { recordStep, summaryTable } from "./_scenario";
import { khw, khwBuilt, local, onHost, type Run, until } from "./_support";
import { probe } from "./_traffic";

export const E2E_LAB_NAME = "e2e";
export const CP_UNITS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];
export const WORKER_UNITS = ["containerd", "kubelet", "kube-proxy"];

export interface LabHosts {
  masters: string[];
  workers: string[];
  lb: string | undefined;
  addresses: Record<string, string>;
  /** Each worker's slice of the pod CIDR, from the spec (bridge-routes). */
  podCIDRs: Record<string, string>;
  podNetwork: string;
}

export interface Lab {
  suite: string;
  workdir: string;
  /** `khw gen` output of the running cluster (certificates to talk to etcd and the apiserver). */
  out: string;
  hosts: LabHosts;
  all(): string[];
  unitsOf(host: string): string[];
  kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Every khw unit's ActiveEnterTimestampMonotonic, by `host/unit`. */
  startTimes(): Promise<Record<string, string>>;
  /** Every khw unit's start time and systemd's count of its automatic restarts (Restart=), by `host/unit`. */
  unitStarts(): Promise<Record<string, { since: string; autoRestarts: number }>>;
  /** `khw smoke --json`; asserts every test passed (`notApplicable`: ids allowed to be could-not-run). */
  smokePasses(notApplicable?: string[]): Promise<Run>;
  /** Re-reads cluster.yaml (after a scenario changed it) and regenerates `out`. */
  refresh(): Promise<void>;
}

/** Throws in CI when the lab cannot run here; elsewhere returns the reason to skip. */
export function labSkipReason(suite: string): string | undefined {
  const unavailable = labUnavailableReason();
  if (unavailable && process.env["CI"])
    throw new Error(`the ${suite} e2e suite cannot run in CI: ${unavailable}`);
  if (unavailable) console.warn(`SKIPPED the ${suite} e2e suite: ${unavailable}`);
  return unavailable;
}

export interface LabStart {
  suite: string;
  /** cluster.yaml text given to `khw lab up -f` (default: the built-in spec). */
  spec?: string;
  labUpArgs?: string[];
  /** Run `khw up` once the lab is up (default true). */
  up?: boolean;
  /** The caller holds the lab lock already (holdLabLock): not taken again, not released by stopLab. */
  lockHeld?: boolean;
  /**
   * `built`: `khw lab up` and `khw up` run as users run them, the built CLI (apps/cli/dist/bin.js) in
   * a process of its own, instead of in-process from the sources (the default).
   */
  cli?: "sources" | "built";
}

/**
 * The lab lock for a whole suite of several labs one after another, so no other engineer's lab slips in
 * between them (pass `lockHeld: true` to startLab). Call the returned release when the suite ends.
 */
export function holdLabLock(suite: string): Promise<() => void> {
  return acquireLabLock({
    purpose: `e2e ${suite}`,
    waitForNetwork: true,
    timeoutSeconds: 40 * 60,
    onWait: (holder) => console.warn(`[e2e] ${suite}: waiting for the lab network, in use by ${holder}`),
  });
}

/** Lock, bundle, lab up (and khw up): the first khw up's result is returned with the lab. */
export async function startLab(o: LabStart): Promise<{ lab: Lab; release: () => void; up?: Run }> {
  // Other engineers' labs queue on the same lock: wait as long as the suite may run.
  const release = o.lockHeld ? () => {} : await holdLabLock(o.suite);
  const workdir = mkdtempSync(join(tmpdir(), `khw-e2e-${o.suite}-`));
  const out = join(workdir, "out");
  try {
    let t0 = performance.now();
    const bundle = await buildBundle({ kubernetesVersion: "v1.34.4", etcdVersion: "v3.6.16" });
    recordStep(o.suite, `bundle (cached: ${bundle.cached})`, (performance.now() - t0) / 1000, true);
    const specArgs: string[] = [];
    if (o.spec) {
      writeFileSync(join(workdir, "spec.yaml"), o.spec);
      specArgs.push("-f", "spec.yaml");
    }
    t0 = performance.now();
    const run = o.cli === "built" ? khwBuilt : khw;
    const labUp = await run(workdir, [
      "lab",
      "up",
      "--mirror-dir",
      bundle.dir,
      ...specArgs,
      // A lab name of its own: a `khw lab down` someone runs elsewhere for the default lab never hits it.
      "--name",
      E2E_LAB_NAME,
      ...(o.labUpArgs ?? []),
    ]);
    recordStep(o.suite, "khw lab up", (performance.now() - t0) / 1000, labUp.code === 0);
    expect(labUp.code, labUp.stderr).toBe(0);
    const lab = makeLab(o.suite, workdir, out);
    await lab.refresh();
    let up: Run | undefined;
    if (o.up !== false) {
      up = await run(workdir, ["up"]);
      recordStep(
        o.suite,
        `khw up (first${o.cli === "built" ? ", the built CLI" : ""})`,
        up.seconds,
        up.code === 0,
      );
      expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
    }
    return { lab, release, ...(up ? { up } : {}) };
  } catch (e) {
    await stopLab(o.suite, workdir, release);
    throw e;
  }
}

/** `khw lab down`, nothing of the lab left on the machine, the lock released, the workdir removed. */
/** A suite's afterAll: its lab down (or, when it never started, the lock released), then its timing table. */
export async function endSuite(suite: string, lab: Lab | undefined, release: () => void): Promise<void> {
  try {
    if (lab) await stopLab(suite, lab.workdir, release);
    else release();
  } finally {
    console.log(`e2e ${suite} suite:\n${summaryTable()}`);
  }
}

/**
 * A lab with one host more than its cluster: `extra` is booted (and in known_hosts) but left out of
 * cluster.yaml, as a host the user is about to add. `fullSpec` is the cluster.yaml that includes it.
 */
export async function startLabWithout(
  suite: string,
  spec: string,
  extra: string,
): Promise<{ lab: Lab; release: () => void; specFile: string; fullSpec: string }> {
  const { lab, release } = await startLab({ suite, spec, up: false });
  const specFile = join(lab.workdir, "cluster.yaml");
  const fullSpec = readFileSync(specFile, "utf8");
  writeFileSync(specFile, withoutNode(fullSpec, extra));
  await lab.refresh();
  return { lab, release, specFile, fullSpec };
}

export async function stopLab(suite: string, workdir: string, release: () => void): Promise<void> {
  try {
    const down = await labDown({ workdir });
    recordStep(suite, `khw lab down (${down.stoppedHosts.length} hosts)`, down.seconds, true);
    expect(await findLeftovers(down.labName)).toEqual([]);
  } finally {
    release();
    rmSync(workdir, { recursive: true, force: true });
  }
}

function makeLab(suite: string, workdir: string, out: string): Lab {
  const lab: Lab = {
    suite,
    workdir,
    out,
    hosts: { masters: [], workers: [], lb: undefined, addresses: {}, podCIDRs: {}, podNetwork: "" },
    all: () => [...lab.hosts.masters, ...lab.hosts.workers, ...(lab.hosts.lb ? [lab.hosts.lb] : [])],
    unitsOf: (host) =>
      lab.hosts.masters.includes(host)
        ? CP_UNITS
        : lab.hosts.workers.includes(host)
          ? WORKER_UNITS
          : ["haproxy"],
    kubectl: (...args) => local("kubectl", ["--kubeconfig", join(out, "admin/admin.kubeconfig"), ...args]),
    async startTimes() {
      const times: Record<string, string> = {};
      for (const [k, v] of Object.entries(await lab.unitStarts())) times[k] = v.since;
      return times;
    },
    async unitStarts() {
      const out: Record<string, { since: string; autoRestarts: number }> = {};
      for (const host of lab.all()) {
        const units = lab.unitsOf(host);
        const r = await onHost(
          workdir,
          host,
          `for u in ${units.join(" ")}; do echo "$u $(systemctl show -p ActiveEnterTimestampMonotonic --value $u) $(systemctl show -p NRestarts --value $u)"; done`,
        );
        for (const line of r.stdout.trim().split("\n")) {
          const [unit, since, n] = line.split(" ");
          out[`${host}/${unit}`] = { since: since ?? "", autoRestarts: Number(n ?? 0) };
        }
      }
      return out;
    },
    async smokePasses(notApplicable: string[] = []) {
      const r = await khw(workdir, ["smoke", "--json"]);
      const report = JSON.parse(r.stdout) as {
        tests: Array<{ id: string; outcome: string; detail: string }>;
      };
      console.log(
        `[e2e] ${suite} khw smoke (${r.seconds.toFixed(1)} s): ${report.tests.map((t) => `${t.id}=${t.outcome}`).join(" ")}`,
      );
      const notOk = report.tests.filter(
        (t) => t.outcome !== "pass" && !(t.outcome === "could-not-run" && notApplicable.includes(t.id)),
      );
      expect(notOk.map((t) => `${t.id}: ${t.outcome}: ${t.detail}`)).toEqual([]);
      if (notApplicable.length === 0) expect(r.code).toBe(0);
      return r;
    },
    async refresh() {
      const { cluster } = parseClusterYaml(readFileSync(join(workdir, "cluster.yaml"), "utf8"));
      lab.hosts = {
        masters: cluster.controlPlanes.map((n) => n.name),
        workers: cluster.workers.map((n) => n.name),
        lb: cluster.loadBalancer?.name,
        addresses: Object.fromEntries(cluster.nodes.map((n) => [n.name, n.address])),
        podCIDRs: Object.fromEntries(cluster.workers.map((w) => [w.name, w.podCIDR ?? ""])),
        podNetwork: cluster.spec.addons.podNetwork,
      };
      rmSync(out, { recursive: true, force: true });
      const gen = await khw(workdir, ["gen", "-o", out]);
      expect(gen.code, gen.stderr).toBe(0);
    },
  };
  return lab;
}

type UnitStarts = Record<string, { since: string; autoRestarts: number }>;

/**
 * The units that were restarted between two `unitStarts()`: `ordered` by a command (khw), `byItself` by
 * systemd's Restart= (a component's own reaction, e.g. a controller-manager that lost its lease while its
 * local apiserver restarted): shown, not counted as khw's.
 */
export function restartsBetween(
  before: UnitStarts,
  after: UnitStarts,
): { ordered: string[]; byItself: string[] } {
  const changed = Object.keys(after).filter((k) => after[k]!.since !== before[k]?.since);
  const byItself = changed.filter((k) => after[k]!.autoRestarts > (before[k]?.autoRestarts ?? 0));
  if (byItself.length) console.log(`[e2e] restarted by systemd on its own: ${byItself.join(", ")}`);
  return { ordered: changed.filter((k) => !byItself.includes(k)).sort(), byItself };
}

/**
 * What `khw reset` (or `khw node remove`) left on a reset host: khw's units, kube files and binaries,
 * then routes to pod slices, KUBE-, CNI- and FLANNEL- chains, mounts of the kubelet, containerd or pods,
 * pod links. Empty strings when the host is clean.
 */
export async function resetLeftovers(
  workdir: string,
  host: string,
  units: string[],
  worker: boolean,
): Promise<{ files: string; state: string }> {
  const left = await onHost(
    workdir,
    host,
    `ls /etc/systemd/system/ | grep -E '^(${units.join("|")})\\.service$' || true; ls -d /var/lib/kubernetes /etc/etcd /var/lib/etcd /var/lib/kubelet /var/lib/kube-proxy /var/lib/cni /etc/cni/net.d /usr/local/bin/kube* /usr/local/bin/etcd* 2>/dev/null || true`,
  );
  // (every lab host has the lab's own empty tmpfs for a containerd store; on workers reset unmounts it)
  const state = await onHost(
    workdir,
    host,
    `ip -4 route show | grep -E '^10\\.244\\.' || true; iptables-save 2>/dev/null | grep -E '^:(KUBE|CNI|FLANNEL)-' || true; awk '$2 ~ "^/var/lib/kubelet" || $2 ~ "^${worker ? "/var/lib/containerd(/|$)" : "/var/lib/containerd/"}" || $2 ~ "^/run/(containerd|netns)" {print $2}' /proc/mounts; ip -o link show 2>/dev/null | grep -E ' (cni0|flannel\\.1|veth[^:]*)[:@]' || true`,
  );
  return { files: left.stdout.trim(), state: state.stdout.trim() };
}

/** Files a run left half-written on a host: khw's temp names next to their targets, staged uploads. */
export async function strayTempFiles(lab: Lab): Promise<string[]> {
  const found: string[] = [];
  for (const host of lab.all()) {
    const r = await onHost(
      lab.workdir,
      host,
      // temp uploads (.<name>.khw-XXXX), sudo staging (~/.khw-upload-*), binary installs (*.khw-new),
      // archive extraction dirs, *.tmp; the components' own state dirs are theirs.
      "find /etc /var/lib /var/cache/khw /usr/local /opt /root /home -xdev \\( -path /var/lib/kubelet -o -path /var/lib/etcd -o -path /var/lib/containerd \\) -prune -o \\( -name '.*.khw-*' -o -name '.khw-upload-*' -o -name '*.khw-new' -o -name '.extract.*' -o -name '*.tmp' \\) -print 2>/dev/null || true",
    );
    for (const f of r.stdout.trim().split("\n").filter(Boolean)) found.push(`${host}:${f}`);
  }
  return found;
}

const KHW_DEV = fileURLToPath(new URL("../../scripts/khw-dev.mjs", import.meta.url));

/** khw as its own process (so it can be sent SIGINT or SIGKILL), with --json events on stdout. */
export interface KhwProcess {
  child: ChildProcess;
  /** Resolves with the first event matching, or undefined when the process ended first. */
  waitFor(match: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | undefined>;
  /** Every --json event with when it arrived (ms since the process was spawned). */
  timeline: Array<{ ms: number; event: Record<string, unknown> }>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export function spawnKhw(cwd: string, argv: string[]): KhwProcess {
  const spawned = performance.now();
  const timeline: KhwProcess["timeline"] = [];
  const child = spawn(process.execPath, [KHW_DEV, ...argv], {
    cwd,
    env: { ...process.env, INIT_CWD: cwd, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let buffered = "";
  const waiters: Array<{
    match: (e: Record<string, unknown>) => boolean;
    resolve: (e?: Record<string, unknown>) => void;
  }> = [];
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    buffered += d;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      timeline.push({ ms: performance.now() - spawned, event: e });
      for (const w of [...waiters]) {
        if (w.match(e)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const done = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    child.on("close", (code, signal) => {
      for (const w of waiters.splice(0)) w.resolve(undefined);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    done,
    timeline,
    waitFor: (match) => new Promise((resolve) => waiters.push({ match, resolve })),
  };
}

/**
 * "preflight 0.4, pki 0.1, …": each phase's seconds from its phase-start to its phase-done (or the next
 * phase's start), and before the first phase (process start, spec, artifacts, binaries checked).
 */
export function phaseTimes(timeline: KhwProcess["timeline"]): string {
  const starts = timeline.filter((t) => t.event["type"] === "phase-start");
  const parts = [`start ${((starts[0]?.ms ?? 0) / 1000).toFixed(1)}`];
  for (const [i, s] of starts.entries()) {
    const end =
      timeline.find((t) => t.event["type"] === "phase-done" && t.event["phase"] === s.event["phase"]) ??
      starts[i + 1] ??
      timeline.at(-1)!;
    parts.push(`${String(s.event["phase"])} ${((end.ms - s.ms) / 1000).toFixed(1)}`);
  }
  return parts.join(", ");
}

export interface WebWorkload {
  namespace: string;
  /** The nginx image of the spec (`spec.addons.images.nginx`; deployWebWorkload reads it from cluster.yaml). */
  image: string;
  replicas: number;
  /** `anti-affinity`: at most one replica per node (a drained node's replica waits, Pending). */
  spread: "anti-affinity";
  /** The PodDisruptionBudget's minAvailable. */
  minAvailable: number;
  /** A NodePort Service in front of the replicas. */
  nodePort?: number;
}

/**
 * The nginx Deployment the lifecycle scenarios keep serving while they change the cluster: a readiness
 * probe on /, a PodDisruptionBudget, and (with `nodePort`) a NodePort Service; as one kubectl List.
 */
export function webWorkload(w: WebWorkload) {
  const labels = { app: "web" };
  return {
    apiVersion: "v1",
    kind: "List",
    items: [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: w.namespace } },
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: w.namespace },
        spec: {
          replicas: w.replicas,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              affinity: {
                podAntiAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: [
                    { labelSelector: { matchLabels: labels }, topologyKey: "kubernetes.io/hostname" },
                  ],
                },
              },
              containers: [
                {
                  name: "nginx",
                  image: w.image,
                  ports: [{ containerPort: 80, name: "http" }],
                  readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 2 },
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: { name: "web", namespace: w.namespace },
        spec: { minAvailable: w.minAvailable, selector: { matchLabels: labels } },
      },
      ...(w.nodePort
        ? [
            {
              apiVersion: "v1",
              kind: "Service",
              metadata: { name: "web", namespace: w.namespace },
              spec: {
                type: "NodePort",
                selector: labels,
                ports: [{ port: 80, targetPort: "http", nodePort: w.nodePort }],
              },
            },
          ]
        : []),
    ],
  };
}

/** cluster.yaml without one node's entry, edited as a user would: the lines of its list item deleted. */
export function withoutNode(text: string, name: string): string {
  const lines = text.split("\n");
  const start = lines.indexOf(`  - name: ${name}`);
  expect(start, `${name} in cluster.yaml`).toBeGreaterThan(0);
  let end = start + 1;
  while (end < lines.length && /^ {4}/.test(lines[end]!)) end++;
  return [...lines.slice(0, start), ...lines.slice(end)].join("\n");
}

/** The web workload applied on the lab's cluster (the spec's nginx image), its rollout awaited (3 min), and with `nodePort` every worker's NodePort answering. */
export async function deployWebWorkload(lab: Lab, w: Omit<WebWorkload, "image">): Promise<void> {
  const { spec } = parseClusterYaml(readFileSync(join(lab.workdir, "cluster.yaml"), "utf8"));
  const manifest = join(lab.workdir, `web-${w.namespace}.json`);
  writeFileSync(manifest, JSON.stringify(webWorkload({ ...w, image: spec.addons.images.nginx! })));
  const apply = await lab.kubectl("apply", "-f", manifest);
  expect(apply.code, apply.stderr).toBe(0);
  const roll = await lab.kubectl("-n", w.namespace, "rollout", "status", "deployment/web", "--timeout=180s");
  expect(roll.code, `${roll.stdout}${roll.stderr}`).toBe(0);
  if (w.nodePort === undefined) return;
  for (const worker of lab.hosts.workers)
    await until(`the NodePort on ${worker}`, async () =>
      (await probe(lab.hosts.addresses[worker]!, w.nodePort!)).ok ? true : undefined,
    );
}

/**
 * A node back in the cluster after its removal: cluster.yaml `spec` (that lists it) written and `khw up`
 * run, for the lost-host scenarios that follow.
 */
export async function bringBack(lab: Lab, suite: string, name: string, specFile: string, spec: string) {
  writeFileSync(specFile, spec);
  const up = await khw(lab.workdir, ["up"]);
  recordStep(suite, `khw up (${name} back)`, up.seconds, up.code === 0);
  expect(up.code, up.stderr).toBe(0);
}

/**
 * `name`'s host powered off (`khw lab stop`), then `khw node remove name` must be refused before it changes
 * anything, naming `--unreachable`: the caller checks that nothing changed.
 */
export async function loseHostExpectRefusal(lab: Lab, suite: string, name: string): Promise<void> {
  const stop = await khw(lab.workdir, ["lab", "stop", name]);
  expect(stop.code, stop.stderr).toBe(0);
  recordStep(suite, `khw lab stop ${name}`, stop.seconds, true);
  const refused = await khw(lab.workdir, ["node", "remove", name, "--yes", "--update-spec"]);
  console.log(
    `[e2e] ${suite}: khw node remove ${name}, host stopped (${refused.seconds.toFixed(1)} s):\n${refused.stderr}`,
  );
  recordStep(suite, `khw node remove ${name} (host stopped): refused`, refused.seconds, refused.code === 1);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("its host does not answer over SSH");
  expect(refused.stderr).toContain(`khw node remove ${name} --unreachable`);
}
