/**
 * The day-2 suite (`pnpm test:e2e:day2`): on one lab of the default spec, every path a user takes after
 * the first bring-up — Ctrl-C and kill -9 of `khw up` at the start of every phase, a worker that dies
 * mid-run, certificate renewals, a dry run compared with the real run, a control plane host lost and
 * back — each ending in `khw smoke` all-pass. Named, bounded, timed; a table of times at the end.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseClusterYaml, renderClusterYaml } from "@khw/spec";
import { afterAll, beforeAll, describe, expect } from "vitest";
import {
  type Lab,
  labSkipReason,
  phaseTimes,
  restartsBetween,
  spawnKhw,
  startLab,
  stopLab,
  strayTempFiles,
} from "./_lab";
import { recordStep, scenario, summaryTable } from "./_scenario";
import { events, httpsGet, khw, local, onHost, until } from "./_support";

const SUITE = "day2";
/** 3 control planes (etcd survives losing one), 2 workers (one tls-bootstrap), the load balancer. */
const DAY2_SPEC = `apiVersion: khw/v1alpha1
kind: Cluster
name: day2
nodes:
  - { name: master-1, role: controlplane, address: 192.168.56.11 }
  - { name: master-2, role: controlplane, address: 192.168.56.12 }
  - { name: master-3, role: controlplane, address: 192.168.56.13 }
  - { name: worker-1, role: worker, address: 192.168.56.21 }
  - name: worker-2
    role: worker
    address: 192.168.56.22
    kubelet: { credentials: tls-bootstrap }
  - { name: loadbalancer, role: loadbalancer, address: 192.168.56.30 }
`;
const unavailable = labSkipReason(SUITE);
let lab: Lab;
let release: () => void = () => {};

/** A Node stack frame in khw's output: a crash instead of a per-host failure line. */
const STACK_FRAME = /^\s+at .+(\(|\s)\/?[^\s]+:\d+:\d+\)?$/m;

async function phaseNames(): Promise<string[]> {
  const r = await khw(lab.workdir, ["up", "--list"]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter(Boolean);
}

/**
 * Which phases each signal cuts in this run. Every phase of `khw up --list` (a new one included) is cut in
 * every run, by SIGINT or by SIGKILL: alternate phases, the pairing swapped by the rotation (the UTC
 * day's parity, or E2E_INTERRUPT_ROTATION=0|1), so two runs on consecutive days cut each phase with both.
 * E2E_INTERRUPT_ALL=1 cuts every phase with both signals in one run (twice the time).
 */
function phasesCutBy(sig: "SIGINT" | "SIGKILL", phases: string[]): string[] {
  if (process.env["E2E_INTERRUPT_ALL"] === "1") return phases;
  const day = Math.floor(Date.now() / 86_400_000);
  const rotation = Number(process.env["E2E_INTERRUPT_ROTATION"] ?? day % 2) % 2;
  const parity = (sig === "SIGINT" ? 0 : 1) ^ rotation;
  const mine = phases.filter((_, i) => i % 2 === parity);
  console.log(
    `[e2e] ${sig} cuts ${mine.join(", ")} (rotation ${rotation}; the other signal cuts the rest; E2E_INTERRUPT_ROTATION=${1 - rotation} swaps, E2E_INTERRUPT_ALL=1 cuts all)`,
  );
  return mine;
}

/**
 * `khw up` interrupted with `sig` at the start of phases in turn (see phasesCutBy): run 1 stops at the
 * first, run 2 (which resumes) at the next, … Then a run converges.
 */
async function interruptEveryPhase(sig: "SIGINT" | "SIGKILL"): Promise<void> {
  const all = await phaseNames();
  expect(all.length).toBeGreaterThan(5);
  const phases = phasesCutBy(sig, all);
  const cut: string[] = [];
  for (const phase of phases) {
    const p = spawnKhw(lab.workdir, ["up", "--json"]);
    const started = await p.waitFor((e) => e["type"] === "phase-start" && e["phase"] === phase);
    if (started) p.child.kill(sig);
    const r = await p.done;
    expect(r.stderr, `${sig} at ${phase}: no stack trace`).not.toMatch(STACK_FRAME);
    if (!started) {
      // the phase has nothing to do in this cluster, or the run ended before it
      expect(r.code, `${sig} at ${phase}: ${r.stderr}`).toBe(0);
      continue;
    }
    cut.push(phase);
    if (sig === "SIGKILL") expect(r.signal).toBe("SIGKILL");
    else {
      expect(r.code, `SIGINT at ${phase}`).not.toBe(0);
      expect(events(r.stdout).find((e) => e["type"] === "run-done")).toMatchObject({ interrupted: true });
      expect(r.stderr).toContain("interrupted");
    }
  }
  console.log(`[e2e] ${sig} at the start of: ${cut.join(", ")}`);
  expect(cut, "phases cut").toEqual(phases);
  const last = await khw(lab.workdir, ["up", "--json"]);
  expect(last.code, `${last.stdout}\n${last.stderr}`).toBe(0);
  expect(await strayTempFiles(lab)).toEqual([]);
}

describe.skipIf(unavailable !== undefined)("day 2 on a lab of real hosts", () => {
  beforeAll(async () => {
    // No first `khw up` here: the SIGINT scenario brings the cluster up, one phase per run (run the
    // other scenarios alone with E2E_DAY2_UP=1 and -t "<name>": then a plain khw up brings it up).
    const started = await startLab({
      suite: SUITE,
      spec: DAY2_SPEC,
      up: process.env["E2E_DAY2_UP"] === "1",
    });
    lab = started.lab;
    release = started.release;
  });

  afterAll(async () => {
    try {
      if (lab) await stopLab(SUITE, lab.workdir, release);
    } finally {
      console.log(`e2e ${SUITE} suite:\n${summaryTable()}`);
    }
  });

  scenario(
    SUITE,
    "SIGINT at the start of every phase (first bring-up), then khw up converges",
    15,
    async () => {
      await interruptEveryPhase("SIGINT");
      await lab.refresh();
      await lab.smokePasses();
    },
  );

  scenario(
    SUITE,
    "a converged khw up changes nothing and restarts nothing (wall time and per-phase times printed)",
    3,
    async () => {
      const before = await lab.unitStarts();
      // as a user runs it (a new process: Node, the CLI's modules, the spec, then the hosts) ...
      const t0 = performance.now();
      const p = spawnKhw(lab.workdir, ["up", "--json"]);
      const r = await p.done;
      const wall = performance.now() - t0;
      expect(r.code, r.stderr).toBe(0);
      expect(events(r.stdout).find((e) => e["type"] === "run-done")).toMatchObject({ ok: true, changes: 0 });
      console.log(
        `[e2e] converged khw up (own process): ${(wall / 1000).toFixed(1)} s: ${phaseTimes(p.timeline)}`,
      );
      recordStep(SUITE, "khw up (converged, own process)", wall / 1000, true);
      // ... and in-process, as the default suite's "khw up (converged)" measures it
      const again = await khw(lab.workdir, ["up", "--json"]);
      expect(again.code, again.stderr).toBe(0);
      recordStep(SUITE, "khw up (converged)", again.seconds, true);
      console.log(`[e2e] converged khw up (in-process): ${again.seconds.toFixed(1)} s`);
      expect(restartsBetween(before, await lab.unitStarts()).ordered).toEqual([]);
    },
  );

  scenario(
    SUITE,
    "SIGKILL at the start of every phase after khw reset, then khw up converges",
    15,
    async () => {
      const reset = await khw(lab.workdir, ["reset", "--yes"]);
      expect(reset.code, reset.stderr).toBe(0);
      await interruptEveryPhase("SIGKILL");
      await lab.smokePasses();
    },
  );

  scenario(
    SUITE,
    "a worker dies mid-run: one clear line, the others finish, exit 1; started again, khw up converges",
    10,
    async () => {
      const phases = await phaseNames();
      const victim = lab.hosts.workers.at(-1)!;
      const survivor = lab.hosts.workers[0]!;
      // Work for the workers phase on every worker, so the run is busy there when the victim powers off
      // at the start of its workers steps: the victim's binaries to install again (it dies in the middle),
      // and on the others kube-proxy's only (restarting a survivor's containerd and kubelet too left
      // its flanneld running outside its container: see the report of issue 18).
      for (const w of lab.hosts.workers) {
        await onHost(
          lab.workdir,
          w,
          w === victim
            ? "rm -f /usr/local/bin/kube-proxy /usr/local/bin/kubelet /usr/local/bin/containerd"
            : "rm -f /usr/local/bin/kube-proxy",
        );
      }
      expect(phases).toContain("workers");
      const p = spawnKhw(lab.workdir, ["up", "--json"]);
      const hit = await p.waitFor(
        (e) => e["type"] === "host-start" && e["phase"] === "workers" && e["host"] === victim,
      );
      expect(hit, "the run reached the victim's workers steps").toBeDefined();
      await khw(lab.workdir, ["lab", "stop", victim]);
      try {
        const r = await p.done;
        const ev = events(r.stdout);
        console.log(`[e2e] khw up with ${victim} gone:\n${r.stderr}`);
        expect(r.code).toBe(1);
        expect(r.stderr).not.toMatch(STACK_FRAME);
        const failed = ev.filter((e) => e["type"] === "host-failed");
        expect(failed.map((e) => e["host"])).toEqual([victim]);
        expect(failed[0]!["phase"]).toBe("workers");
        expect(
          ev.some((e) => e["type"] === "host-done" && e["phase"] === "workers" && e["host"] === survivor),
        ).toBe(true);
        const named = r.stderr.split("\n").filter((l) => l.includes(victim));
        expect(named.length, "a line naming the host").toBeGreaterThanOrEqual(1);
      } finally {
        // the next scenarios need the whole cluster, also when an assertion above failed
        const start = await khw(lab.workdir, ["lab", "start", victim]);
        // logged, not thrown: an error here must not hide the assertion that failed above
        if (start.code !== 0) console.log(`[e2e] khw lab start ${victim} failed: ${start.stderr}`);
      }
      const again = await khw(lab.workdir, ["up"]);
      expect(again.code, `${again.stdout}\n${again.stderr}`).toBe(0);
      expect(await strayTempFiles(lab)).toEqual([]);
      // A clean restart of the converged worker: its routes to the other workers' pod slices come back
      // with its kubelet (ExecStartPre), before any khw run.
      await khw(lab.workdir, ["lab", "stop", victim]);
      const bootedAt = Date.now();
      const restarted = await khw(lab.workdir, ["lab", "start", victim]);
      expect(restarted.code, restarted.stderr).toBe(0);
      // As a user would before using it again: the worker is back once its kubelet has reported (a
      // heartbeat after the boot) and its pods are ready again (the node stays "Ready" in the API for
      // up to 40 s after its kubelet stopped, so pods may still be scheduled there meanwhile).
      const back = performance.now();
      let notReady: string[] = [];
      await until(
        `${victim} back: its kubelet reporting again and its pods ready`,
        async () => {
          const hb = await lab.kubectl(
            "get",
            "node",
            victim,
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Ready")].lastHeartbeatTime} {.status.conditions[?(@.type=="Ready")].status}',
          );
          const [at, status] = hb.stdout.trim().split(" ");
          if (status !== "True" || Date.parse(at ?? "") < bootedAt - 1000) return undefined;
          const pods = await lab.kubectl(
            "get",
            "pods",
            "-A",
            "--field-selector",
            `spec.nodeName=${victim}`,
            "-o",
            "json",
          );
          // pods being deleted (the previous smoke's, say) are the kubelet's to finish, not to be ready
          const items = (
            JSON.parse(pods.stdout || "{}") as {
              items?: Array<{
                metadata: { namespace: string; name: string; deletionTimestamp?: string };
                status?: { conditions?: Array<{ type: string; status: string }> };
              }>;
            }
          ).items?.filter((p) => !p.metadata.deletionTimestamp);
          notReady = (items ?? [])
            .filter((p) => !p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
            .map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
          return items?.length && notReady.length === 0 ? true : undefined;
        },
        180,
      ).catch((e: Error) => {
        throw new Error(`${e.message} (not ready: ${notReady.join(", ") || "none listed"})`);
      });
      console.log(
        `[e2e] ${victim} back ${((performance.now() - back) / 1000).toFixed(1)} s after its start returned`,
      );
      // bridge-routes: the restarted worker's routes to the other workers' pods come back with its kubelet.
      if (lab.hosts.podNetwork === "bridge-routes") {
        await until(`${victim}'s pod routes after its restart`, async () => {
          const routes = await onHost(lab.workdir, victim, "ip -4 route show", true);
          return lab.hosts.workers
            .filter((w) => w !== victim)
            .every((w) => routes.stdout.includes(`${lab.hosts.podCIDRs[w]} via ${lab.hosts.addresses[w]}`))
            ? true
            : undefined;
        });
      }
      await lab.smokePasses();
    },
  );

  scenario(
    SUITE,
    "khw certs renew (one leaf, then all): exactly the affected services restart, new expiry served",
    10,
    async () => {
      const m = lab.hosts.masters[0]!;
      const served = async () => {
        const r = await local("sh", [
          "-c",
          `openssl s_client -connect ${lab.hosts.addresses[m]}:6443 -servername kubernetes </dev/null 2>/dev/null | openssl x509 -noout -enddate`,
        ]);
        return r.stdout.trim();
      };
      const renew = async (args: string[]) => {
        const plan = await khw(lab.workdir, ["certs", "renew", ...args, "--dry-run"]);
        expect(plan.code, plan.stderr).toBe(0);
        const expected = new Set<string>();
        for (const line of plan.stdout.split("\n")) {
          const mm = /^\[certs\] (\S+): restart (.+)$/.exec(line);
          if (mm) for (const s of mm[2]!.split(", ")) expected.add(`${mm[1]}/${s}`);
        }
        const before = await lab.unitStarts();
        const r = await khw(lab.workdir, ["certs", "renew", ...args]);
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        const restarted = restartsBetween(before, await lab.unitStarts()).ordered;
        expect(restarted, `restarted by certs renew ${args.join(" ")}`).toEqual([...expected].sort());
        return expected;
      };
      const oldExpiry = await served();
      expect(oldExpiry).toMatch(/^notAfter=/);
      await new Promise((r) => setTimeout(r, 1500)); // a new notAfter differs by at least a second
      const one = await renew(["kube-apiserver"]);
      expect([...one].every((k) => k.endsWith("/kube-apiserver"))).toBe(true);
      const newExpiry = await until("the apiserver to serve its new certificate", async () => {
        const e = await served();
        return e && e !== oldExpiry ? e : undefined;
      });
      expect(Date.parse(newExpiry.slice(9))).toBeGreaterThan(Date.parse(oldExpiry.slice(9)));
      const all = await renew(["--all"]);
      // Renewing every leaf restarts what reads one; the LB (CA only) and containerd (none) stay up.
      for (const k of all) expect(k).not.toMatch(/\/(haproxy|containerd)$/);
      await lab.refresh();
      await lab.smokePasses();
    },
  );

  scenario(
    SUITE,
    "khw up --dry-run after a spec change shows exactly what the real run does",
    8,
    async () => {
      const file = join(lab.workdir, "cluster.yaml");
      const { cluster } = parseClusterYaml(readFileSync(file, "utf8"));
      const spec = {
        ...cluster.spec,
        pki: {
          ...cluster.spec.pki,
          extraApiserverSANs: [...cluster.spec.pki.extraApiserverSANs, "api.e2e.example"],
        },
      };
      writeFileSync(file, renderClusterYaml(spec));
      const dry = await khw(lab.workdir, ["up", "--dry-run", "--json"]);
      expect(dry.code, dry.stderr).toBe(0);
      const plan = events(dry.stdout).filter((e) => e["type"] === "plan");
      const plannedFiles = new Set(
        plan
          .map((e) => /^(?:update|create) (\S+) \(mode/.exec(String(e["what"])))
          .map((mm, i) => (mm ? `${plan[i]!["host"]}:${mm[1]}` : ""))
          .filter(Boolean),
      );
      const plannedRestarts = new Set(
        plan
          .map((e, i) =>
            /^systemctl restart (\S+)$/.exec(String(e["what"]))
              ? `${plan[i]!["host"]}/${String(e["what"]).slice(18)}`
              : "",
          )
          .filter(Boolean),
      );
      console.log(
        `[e2e] dry run: files ${[...plannedFiles].join(" ")}; restarts ${[...plannedRestarts].join(" ")}`,
      );
      expect(plannedFiles.size).toBeGreaterThan(0);
      const before = await lab.unitStarts();
      const real = await khw(lab.workdir, ["up", "--json"]);
      expect(real.code, real.stderr).toBe(0);
      const after = await lab.unitStarts();
      const changedFiles = new Set(
        events(real.stdout)
          .filter(
            (e) =>
              e["type"] === "step" && e["status"] === "changed" && String(e["step"]).startsWith("upload "),
          )
          .map((e) => `${e["host"]}:${String(e["step"]).slice(7)}`),
      );
      const restarted = new Set(restartsBetween(before, after).ordered);
      expect([...changedFiles].sort()).toEqual([...plannedFiles].sort());
      expect([...restarted].sort()).toEqual([...plannedRestarts].sort());
      // the new name is in the certificate the apiserver serves
      const m = lab.hosts.masters[0]!;
      const san = await local("sh", [
        "-c",
        `openssl s_client -connect ${lab.hosts.addresses[m]}:6443 -servername kubernetes </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName`,
      ]);
      expect(san.stdout).toContain("api.e2e.example");
      await lab.refresh();
    },
  );

  scenario(
    SUITE,
    "a control plane host stopped: the API answers through the LB, leases move, it rejoins etcd",
    10,
    async () => {
      // etcd keeps its quorum only with 3 members: the day-2 lab has 3 control planes for this.
      expect(
        lab.hosts.masters.length,
        "control planes (2 etcd members lose quorum with one gone)",
      ).toBeGreaterThanOrEqual(3);
      const [gone, survivor] = lab.hosts.masters as [string, string];
      const survivors = lab.hosts.masters.filter((m) => m !== gone);
      const lbUrl = `https://${lab.hosts.addresses[lab.hosts.lb!]}:6443`;
      const ca = join(lab.out, survivor, "var/lib/kubernetes/pki/ca.crt");
      const t0 = performance.now();
      await khw(lab.workdir, ["lab", "stop", gone]);
      try {
        recordStep(SUITE, `khw lab stop ${gone}`, (performance.now() - t0) / 1000, true);
        // Once HAProxy's check has taken the host out (a vanished host: ~10 s), every request succeeds.
        await until("HAProxy to route around the lost host", async () => {
          for (let i = 0; i < 10; i++)
            if ((await httpsGet(`${lbUrl}/readyz`, ca)).status !== 200) return undefined;
          return true;
        });
        for (let i = 0; i < 20; i++) {
          const r = await lab.kubectl("get", "namespace", "default", "-o", "name", "--request-timeout=5s");
          expect(r.stdout.trim(), r.stderr).toBe("namespace/default");
        }
        // Leases: 15 s duration; the survivor takes over within duration + retry period (~17 s) of the expiry.
        const moved = performance.now();
        for (const lease of ["kube-controller-manager", "kube-scheduler"]) {
          await until(
            `the ${lease} lease to move to ${survivors.join(" or ")}`,
            async () => {
              const r = await lab.kubectl(
                "-n",
                "kube-system",
                "get",
                "lease",
                lease,
                "-o",
                "jsonpath={.spec.holderIdentity}",
              );
              return survivors.some((m) => r.stdout.startsWith(`${m}_`)) ? r.stdout : undefined;
            },
            45,
          );
        }
        console.log(
          `[e2e] leases held by the survivors ${((performance.now() - moved) / 1000).toFixed(1)} s after the checks began`,
        );
      } finally {
        const start = await khw(lab.workdir, ["lab", "start", gone]);
        // logged, not thrown: an error here must not hide the assertion that failed above
        if (start.code !== 0) console.log(`[e2e] khw lab start ${gone} failed: ${start.stderr}`);
      }
      const etcdTls = [
        `--cacert=${join(lab.out, survivor, "etc/etcd/ca.crt")}`,
        `--cert=${join(lab.out, survivor, "etc/etcd/etcd-server.crt")}`,
        `--key=${join(lab.out, survivor, "etc/etcd/etcd-server.key")}`,
      ];
      const endpoints = lab.hosts.masters.map((h) => `https://${lab.hosts.addresses[h]}:2379`).join(",");
      await until(
        `${gone} to rejoin etcd`,
        async () => {
          const h = await local(
            "etcdctl",
            [`--endpoints=${endpoints}`, ...etcdTls, "endpoint", "health"],
            {},
          );
          return h.code === 0 &&
            (h.stdout + h.stderr).match(/is healthy/g)?.length === lab.hosts.masters.length
            ? true
            : undefined;
        },
        90,
      );
      await until(
        `${gone}'s apiserver ready`,
        async () => {
          const r = await onHost(lab.workdir, gone, "curl -sk https://127.0.0.1:6443/readyz", true);
          return r.stdout.trim() === "ok" ? true : undefined;
        },
        90,
      );
      await lab.smokePasses();
    },
  );
});
