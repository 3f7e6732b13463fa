import { existsSync, readFileSync } from "node:fs";
import { type CertificateSigningRequest, reviewKubeletServingCsrFromCluster } from "@khw/addons";
import { type Executor, fanOut, type HostTarget, isRemoteExecError } from "@khw/remote-exec";
import type { BinaryArtifact, Cluster, ClusterNode } from "@khw/spec";
import { createTwoFilesPatch } from "diff";
import { ADMIN_KUBECONFIG_PATH, type Artifacts } from "../artifacts";
import { CliError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";
import type { WorkdirPaths } from "../workdir";
import {
  ensureArtifact,
  type FetchedArtifact,
  installedCheckScript,
  installScript,
  remoteCachePath,
} from "./binaries";
import type { EventSink } from "./events";
import { failureHint } from "./hints";
import { causesInJournal, journalScript } from "./journal-causes";
import { type PhaseDefinition, type PhaseName, phaseContext, REMOTE_MANIFEST_DIR, type Step } from "./phases";
import { checkClockSkew, checkHostFacts, FACTS_SCRIPT, type HostFacts, parseFacts } from "./preflight";
import { addPending, clearPending, readState, type UpState, writeState } from "./state";

export interface RunUpOptions {
  cluster: Cluster;
  artifacts: Artifacts;
  paths: WorkdirPaths;
  /** Carries out every change (the SSH executor, or a RecordingExecutor for --dry-run and tests). */
  executor: Executor;
  /** Read-only probes (facts, is-active, sha256). Default: `executor`. In --dry-run: the real hosts. */
  probeExecutor?: Executor;
  targets: ReadonlyMap<string, HostTarget>;
  phases: readonly PhaseDefinition[];
  /** Hosts of one phase at once (at least 1). */
  concurrency: number;
  dryRun?: boolean;
  signal?: AbortSignal;
  emit: EventSink;
  /** The full log: every command and its output (never secrets). */
  log: (line: string) => void;
  /** Release files: verified local copies (default: ensureArtifact into cacheDir). */
  fetchArtifact?: (artifact: BinaryArtifact) => Promise<FetchedArtifact>;
  cacheDir: string;
  baseDir: string;
  sleep?: (ms: number) => Promise<void>;
  /** Called (and awaited) before each phase that has hosts: `--explain` / `--step` (guide/up-hook.ts). */
  beforePhase?: (phase: PhaseDefinition, index: number) => Promise<void>;
  /**
   * --dry-run only: hosts that did not answer at all. They are planned as empty (nothing of khw's on
   * them) without probing them; the caller says so loudly.
   */
  unreachable?: ReadonlySet<string>;
}

export interface PlannedChange {
  host: string;
  phase: string;
  what: string;
  /** A unified diff for text files that are not secret. */
  diff?: string;
}

export interface UpResult {
  ok: boolean;
  changes: number;
  changesByPhase: Record<string, number>;
  interrupted: boolean;
  /** Actions still owed (e.g. restarts after `--only pki`). */
  pending: UpState["pending"];
  /** In --dry-run: what would change. */
  plan: PlannedChange[];
}

/** A step failed: names the phase, host, command, exit code and the last lines of stderr, with a hint. */
export class UpError extends CliError {
  constructor(
    readonly phase: string,
    readonly host: string,
    message: string,
    hint: string | undefined,
  ) {
    super("UP_FAILED", message, hint);
  }
}

class Interrupted extends Error {}

const lastLines = (text: string, n = 8) => text.trimEnd().split("\n").slice(-n).join("\n");

/**
 * Runs the phases in order; hosts within a phase in parallel (bounded). Idempotent: uploads only
 * what changed, restarts only services whose files changed, and records owed actions in
 * `.khw/state.json` so that a run stopped by a failure or Ctrl-C converges on the next run.
 */
export async function runUp(options: RunUpOptions): Promise<UpResult> {
  const { cluster, artifacts, paths, executor, emit, log } = options;
  const probe = options.probeExecutor ?? executor;
  const dryRun = options.dryRun ?? false;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const state = readState(paths.state);
  const save = () => {
    if (!dryRun) writeState(paths.state, state);
  };
  const ctx = phaseContext(cluster, artifacts);
  const result: UpResult = {
    ok: true,
    changes: 0,
    changesByPhase: {},
    interrupted: false,
    pending: {},
    plan: [],
  };
  // Release files are read only when a host needs them uploaded (a converged run reads none).
  const fetched = new Map<string, Promise<{ fetched: FetchedArtifact }>>();
  const getArtifact = (a: BinaryArtifact) => {
    let p = fetched.get(a.id);
    if (!p) {
      const fetch = options.fetchArtifact ?? ((x) => ensureArtifact(cluster, x, options));
      p = fetch(a).then((f) => ({ fetched: f }));
      p.catch(() => {});
      fetched.set(a.id, p);
    }
    return p;
  };
  const contents = new Map<string, Buffer>();
  /** Changes made on control planes so far in this run, and their count when the API was last found ready. */
  let cpChanges = 0;
  let apiReadyAt = -1;
  const target = (node: ClusterNode): HostTarget => {
    const t = options.targets.get(node.name);
    if (!t) throw new Error(`no SSH target for ${node.name} (a bug in khw)`);
    return t;
  };

  emit({
    type: "run-start",
    phases: options.phases.map((p) => p.name),
    hosts: cluster.nodes.map((n) => n.name),
    dryRun,
  });

  // Every release file the selected phases install is fetched and verified first, on the admin
  // machine: a missing or corrupt file fails the run before any host is touched, naming them all.
  const needed = new Map<string, BinaryArtifact>();
  for (const phase of options.phases) {
    for (const node of phase.hosts(cluster, artifacts)) {
      for (const step of phase.steps(ctx, node))
        if (step.kind === "install") needed.set(step.artifact.id, step.artifact);
    }
  }
  if (needed.size > 0) {
    const outcomes = await Promise.allSettled([...needed.values()].map((a) => getArtifact(a)));
    const failed = outcomes.flatMap((o, i) =>
      o.status === "rejected" ? [{ a: [...needed.values()][i]!, e: o.reason as Error }] : [],
    );
    for (const o of outcomes)
      if (o.status === "fulfilled")
        log(
          `binaries: ${o.value.fetched.artifact.path} sha256 ${o.value.fetched.sha256}${o.value.fetched.cached ? " (cached)" : ""}`,
        );
    if (failed.length > 0) {
      throw new UpError(
        "binaries",
        "admin",
        `[binaries] ${failed.length} of ${needed.size} release file(s) could not be fetched and verified:\n${failed.map((f) => `  ${f.a.id}: ${f.e.message}`).join("\n")}`,
        (failed[0]!.e as { hint?: string }).hint,
      );
    }
  }

  for (const phase of options.phases) {
    if (options.signal?.aborted) {
      result.interrupted = true;
      break;
    }
    const hosts = phase.hosts(cluster, artifacts);
    if (hosts.length === 0) {
      emit({ type: "phase-skipped", phase: phase.name, reason: "no hosts for this spec" });
      continue;
    }
    await options.beforePhase?.(phase, options.phases.indexOf(phase));
    // The API was found ready in this run and no control plane changed since: not asked again.
    if (phase.needsApi && !dryRun && apiReadyAt !== cpChanges) {
      const blocked = await apiBlocked(probe, target(hosts[0]!), hosts[0]!, log).catch((e: unknown) => {
        if (!isRemoteExecError(e)) throw e;
        emit(failureEvent(phase.name, hosts[0]!.name, e));
        return {
          reason: e.message.split("\n  hint: ")[0]!,
          hint: e.hint ?? "check the host, then run `khw up` again",
        };
      });
      if (blocked) {
        emit({ type: "phase-not-run", phase: phase.name, reason: blocked.reason, hint: blocked.hint });
        state.phases[phase.name] = {
          status: "not-run",
          at: new Date().toISOString(),
          detail: blocked.reason,
        };
        save();
        throw new UpError(
          phase.name,
          hosts[0]!.name,
          `[${phase.name}] could not run: ${blocked.reason}`,
          blocked.hint,
        );
      }
      apiReadyAt = cpChanges;
    }
    emit({ type: "phase-start", phase: phase.name, hosts: hosts.map((h) => h.name) });
    const facts: HostFacts[] = [];
    let phaseChanges = 0;
    /** Final readiness waits of hosts where this phase changed nothing: awaited at the phase's end. */
    const deferred: Array<{ host: string; done: Promise<void> }> = [];
    const runHost = async (node: ClusterNode): Promise<number> => {
      emit({ type: "host-start", phase: phase.name, host: node.name });
      let changes = 0;
      const steps = phase.steps(ctx, node);
      for (const [i, step] of steps.entries()) {
        if (options.signal?.aborted) throw new Interrupted("interrupted");
        const name = stepName(step);
        const report = (st: { changes: number; probe?: boolean; detail?: string }) =>
          emit({
            type: "step",
            phase: phase.name,
            host: node.name,
            step: name,
            status: st.changes > 0 ? "changed" : st.probe ? "ok" : "unchanged",
            ...(st.detail ? { detail: st.detail } : {}),
          });
        // A readiness wait that ends the host's steps where nothing was changed (no service restarted
        // or started here): the next host need not wait for it, even in a one-by-one phase.
        if (step.kind === "wait" && changes === 0 && i === steps.length - 1 && !dryRun) {
          const done = runStep(step, node, target(node)).then((st) => {
            report(st);
            emit({ type: "host-done", phase: phase.name, host: node.name, changes: 0 });
          });
          done.catch(() => {});
          deferred.push({ host: node.name, done });
          return 0;
        }
        const st = await runStep(step, node, target(node));
        changes += st.changes;
        if (st.changes > 0 && node.role === "controlplane") cpChanges += st.changes;
        report(st);
      }
      emit({ type: "host-done", phase: phase.name, host: node.name, changes });
      return changes;
    };

    /** Reads the journal of the suspects of a timed-out wait; one line per host with what it shows. */
    const journalCauses = async (
      d: NonNullable<Extract<Step, { kind: "wait" }>["diagnose"]>,
      out: string,
    ) => {
      const suspects = cluster.nodes.filter((n) => d.suspects(out).includes(n.name));
      const lines = await Promise.all(
        suspects.map(async (n) => {
          const j = await probe
            .shell(target(n), journalScript(d.unit), { sudo: true, check: false })
            .catch((e: Error) => ({ stdout: "", stderr: e.message }));
          log(`[${phase.name}] ${n.name}: journal of ${d.unit}\n${j.stdout}${j.stderr}`);
          const state = /^unit-state=(\S*)$/m.exec(j.stdout)?.[1] || "unknown";
          const seen = causesInJournal(j.stdout, d.causes);
          if (seen.length === 0)
            return `  ${n.name}: ${d.unit} is ${state}; its journal names no cause khw knows (\`journalctl -u ${d.unit}\` there)`;
          return seen
            .map((c) => `  ${n.name}: ${d.unit} (${state}): ${c.cause}\n    fix: ${c.fix}`)
            .join("\n");
        }),
      );
      return lines.length ? `\nwhat the ${d.unit} journals show:\n${lines.join("\n")}` : "";
    };

    const runStep = async (
      step: Step,
      node: ClusterNode,
      host: HostTarget,
    ): Promise<{ changes: number; probe?: boolean; detail?: string }> => {
      const where = `[${phase.name}] ${node.name}`;
      // --dry-run, a host that did not answer: planned as if it had nothing, never probed.
      const empty = dryRun && (options.unreachable?.has(node.name) ?? false);
      switch (step.kind) {
        case "facts": {
          if (empty) return { changes: 0, probe: true };
          const before = Date.now();
          await probe.connect(host);
          const r = await probe.shell(host, FACTS_SCRIPT, { sudo: true });
          const after = Date.now();
          log(`${where}: facts\n${r.stdout}`);
          facts.push(parseFacts(node.name, r.stdout, Math.round((before + after) / 2)));
          return { changes: 0, probe: true };
        }
        case "upload": {
          const f = step.file;
          const before = dryRun
            ? (executor as { file?: (h: string, p: string) => { content: Buffer } | undefined }).file?.(
                node.name,
                f.path,
              )
            : undefined;
          const r = await executor.upload(host, {
            path: f.path,
            content: f.contents,
            mode: f.mode,
            sudo: true,
          });
          log(`${where}: upload ${f.path} (${f.mode.toString(8)}) ${r.changed ? "changed" : "unchanged"}`);
          if (!r.changed) return { changes: 0 };
          const isUnit = f.path.startsWith("/etc/systemd/system/");
          if (!dryRun) {
            addPending(state, node.name, { restart: f.services, ...(isUnit ? { daemonReload: true } : {}) });
            save();
          } else {
            addPending(state, node.name, { restart: f.services, ...(isUnit ? { daemonReload: true } : {}) });
            result.plan.push({
              host: node.name,
              phase: phase.name,
              what: `${before ? "update" : "create"} ${f.path} (mode ${f.mode.toString(8)})`,
              ...(f.secret
                ? {}
                : {
                    diff: createTwoFilesPatch(
                      `${node.name}:${f.path}`,
                      `${node.name}:${f.path}`,
                      before?.content.toString("utf8") ?? "",
                      f.contents,
                      "current",
                      "khw",
                    ),
                  }),
            });
          }
          return { changes: 1, detail: f.path };
        }
        case "install": {
          const a = step.artifact;
          const remote = remoteCachePath(a);
          const { fetched: f } = await getArtifact(a);
          // What the host recorded at the last install, compared by size/mtime/inode (no hashing).
          const recorded = installedCheckScript(a, f.sha256);
          const same = empty
            ? { stdout: "" }
            : await probe.shell(host, recorded.script, { sudo: true, args: recorded.args, check: false });
          if (same.stdout.trim() === `installed ${f.sha256}`) return { changes: 0 };
          if (dryRun) {
            const r = empty
              ? { stdout: "" }
              : await probe.exec(host, ["sha256sum", remote], { sudo: true, check: false });
            if (r.stdout.startsWith(f.sha256)) return { changes: 0 };
            result.plan.push({
              host: node.name,
              phase: phase.name,
              what: `upload and install ${a.path.split("/").pop()} → ${Object.values(a.installAs).join(", ")}`,
            });
            return { changes: 1 };
          }
          const content = contents.get(a.id) ?? readFileSync(f.file);
          contents.set(a.id, content);
          const up = await executor.upload(host, { path: remote, content, mode: 0o644, sudo: true });
          const { script, args } = installScript(a, f.sha256);
          const r = await executor.shell(host, script, { sudo: true, args: [remote, ...args] });
          const changedDests = r.stdout
            .split("\n")
            .filter((l) => l.startsWith("changed "))
            .map((l) => l.slice(8));
          log(
            `${where}: install ${a.id}: upload ${up.changed ? "changed" : "unchanged"}; ${changedDests.join(", ") || "binaries unchanged"}`,
          );
          if (changedDests.length > 0) {
            const services = servicesUsing(artifacts, node.name, changedDests);
            addPending(state, node.name, { restart: services });
            save();
          }
          return {
            changes: changedDests.length,
            ...(changedDests.length ? { detail: changedDests.join(", ") } : {}),
          };
        }
        case "run": {
          // A probe checks what the run's own changes brought about (sysctls applied, haproxy.cfg
          // valid): a dry run made no changes, so on a fresh host it would fail on what the real
          // run fixes. Like the readiness waits, it is for the real run.
          if (dryRun && step.probe) return { changes: 0, probe: true };
          if (dryRun) {
            if (step.dryRun === undefined || empty) {
              result.plan.push({ host: node.name, phase: phase.name, what: `run (if needed): ${step.name}` });
              return { changes: 0 };
            }
            const would = await probe.shell(host, step.dryRun, {
              sudo: true,
              args: step.args ?? [],
              check: false,
            });
            const lines = would.stdout.split("\n").filter((l) => l.startsWith("changed "));
            for (const l of lines)
              result.plan.push({ host: node.name, phase: phase.name, what: `${step.name}: ${l.slice(8)}` });
            return { changes: lines.length };
          }
          const ex = step.probe ? probe : executor;
          const r = await ex.shell(host, step.script, {
            sudo: true,
            args: step.args ?? [],
            check: !step.expect,
          });
          log(`${where}: ${step.name}\n${r.stdout}${r.stderr}`);
          if (step.expect && !step.expect.test(r.stdout)) {
            throw new UpError(
              phase.name,
              node.name,
              `${where}: ${step.fail?.message ?? `${step.name}: unexpected output`}\n${lastLines(r.stdout + r.stderr)}`,
              step.fail?.hint,
            );
          }
          const changed = r.stdout.split("\n").filter((l) => l.startsWith("changed"));
          return { changes: changed.length, probe: !!step.probe };
        }
        case "services": {
          let changes = 0;
          const owed = state.pending[node.name] ?? {};
          if (owed.daemonReload) {
            if (dryRun)
              result.plan.push({ host: node.name, phase: phase.name, what: "systemctl daemon-reload" });
            else await executor.exec(host, ["systemctl", "daemon-reload"], { sudo: true });
            clearPending(state, node.name, { daemonReload: true });
            save();
            changes++;
          }
          for (const svc of step.services) {
            if (svc.enable) {
              const en = empty
                ? { code: 1 }
                : await probe.exec(host, ["systemctl", "is-enabled", "--quiet", svc.name], {
                    sudo: true,
                    check: false,
                  });
              if (en.code !== 0) {
                if (dryRun)
                  result.plan.push({
                    host: node.name,
                    phase: phase.name,
                    what: `systemctl enable ${svc.name}`,
                  });
                else await executor.exec(host, ["systemctl", "enable", svc.name], { sudo: true });
                changes++;
              }
            }
            if (owed.restart?.includes(svc.name)) {
              if (dryRun)
                result.plan.push({
                  host: node.name,
                  phase: phase.name,
                  what: `systemctl restart ${svc.name}`,
                });
              else {
                await executor.exec(
                  host,
                  ["systemctl", "restart", ...(step.noBlock ? ["--no-block"] : []), svc.name],
                  {
                    sudo: true,
                  },
                );
              }
              clearPending(state, node.name, { restart: [svc.name] });
              save();
              changes++;
              continue;
            }
            const active = empty
              ? { code: 3 }
              : await probe.exec(host, ["systemctl", "is-active", "--quiet", svc.name], {
                  sudo: true,
                  check: false,
                });
            if (active.code !== 0 && svc.enable) {
              if (dryRun)
                result.plan.push({ host: node.name, phase: phase.name, what: `systemctl start ${svc.name}` });
              else {
                await executor.exec(
                  host,
                  ["systemctl", "start", ...(step.noBlock ? ["--no-block"] : []), svc.name],
                  {
                    sudo: true,
                  },
                );
              }
              changes++;
            }
          }
          return { changes };
        }
        case "wait": {
          if (dryRun) return { changes: 0, probe: true };
          let out = "";
          for (let i = 0; i < step.attempts; i++) {
            if (options.signal?.aborted) throw new Interrupted("interrupted");
            const r = await probe.shell(host, step.script, { sudo: true, check: false });
            out = r.stdout + r.stderr;
            if (step.expect.test(r.stdout)) {
              log(`${where}: ${step.name}: ready\n${r.stdout}`);
              return { changes: 0, probe: true };
            }
            if (i < step.attempts - 1) await sleep(step.intervalMs);
          }
          log(`${where}: ${step.name}: not ready\n${out}`);
          const causes = step.diagnose ? await journalCauses(step.diagnose, out) : "";
          throw new UpError(
            phase.name,
            node.name,
            `${where}: ${step.name} not reached after ${step.attempts} attempts; last output:\n${lastLines(out)}${causes}`,
            step.hint,
          );
        }
        case "apply": {
          const m = step.manifest;
          const path = `${REMOTE_MANIFEST_DIR}/${m.file}`;
          const r = await executor.upload(host, {
            path,
            content: m.contents,
            mode: m.secret ? 0o600 : 0o644,
            sudo: true,
          });
          if (r.changed) {
            addPending(state, node.name, { apply: [m.file] });
            save();
          }
          if (!state.pending[node.name]?.apply?.includes(m.file)) return { changes: 0 };
          if (dryRun) {
            result.plan.push({
              host: node.name,
              phase: phase.name,
              what: `kubectl apply -f ${path} (${m.description})`,
              ...(m.secret
                ? {}
                : { diff: createTwoFilesPatch(path, path, "", m.contents, "current", "khw") }),
            });
          } else {
            const a = await executor.exec(
              host,
              [
                "/usr/local/bin/kubectl",
                "--kubeconfig",
                "/var/lib/kubernetes/admin.kubeconfig",
                "apply",
                "-f",
                path,
              ],
              { sudo: true },
            );
            log(`${where}: kubectl apply -f ${path}\n${a.stdout}`);
          }
          clearPending(state, node.name, { apply: [m.file] });
          save();
          return { changes: 1, detail: m.file };
        }
        case "approve-serving-csrs": {
          const kubectl = ["/usr/local/bin/kubectl", "--kubeconfig", "/var/lib/kubernetes/admin.kubeconfig"];
          const r = empty
            ? { code: 1, stdout: "" }
            : await probe.exec(host, [...kubectl, "get", "csr", "-o", "json"], {
                sudo: true,
                check: !dryRun,
              });
          if (r.code !== 0) {
            // --dry-run before the API is up: say what the real run will do.
            result.plan.push({
              host: node.name,
              phase: phase.name,
              what: "review and approve valid kubelet-serving CSRs (the API does not answer yet)",
            });
            return { changes: 0 };
          }
          let items: CertificateSigningRequest[];
          try {
            items = (JSON.parse(r.stdout) as { items?: CertificateSigningRequest[] }).items ?? [];
          } catch (e) {
            throw new UpError(
              phase.name,
              node.name,
              `${where}: \`kubectl get csr -o json\` printed no JSON (${(e as Error).message}): ${lastLines(r.stdout, 2)}`,
              "check that kubectl on this control plane matches the apiserver's version",
            );
          }
          let changes = 0;
          for (const csr of items) {
            const review = reviewKubeletServingCsrFromCluster(csr, cluster);
            if (review.verdict === "skip") continue;
            const name = csr.metadata?.name ?? "(unnamed)";
            if (review.verdict === "reject") {
              log(`${where}: serving CSR ${name} refused: ${review.reasons.join("; ")}`);
              emit({
                type: "warning",
                phase: phase.name,
                host: node.name,
                message: `kubelet-serving CSR ${name} from ${csr.spec.username ?? "(unknown)"} left pending, not approved: ${review.reasons.join("; ")}`,
                fix: `if it is not your node's own request, deny it: kubectl certificate deny ${name}; if the node really has that name or address, put it in the spec`,
              });
              continue;
            }
            if (dryRun) {
              result.plan.push({
                host: node.name,
                phase: phase.name,
                what: `approve kubelet-serving CSR ${name} of ${review.node}`,
              });
            } else {
              await executor.exec(host, [...kubectl, "certificate", "approve", name], { sudo: true });
              log(`${where}: approved serving CSR ${name} of ${review.node}`);
            }
            changes++;
          }
          return { changes };
        }
        case "admin-kubeconfig": {
          const f = artifacts.files.find((x) => x.host === "admin" && x.path === ADMIN_KUBECONFIG_PATH);
          if (!f) return { changes: 0 };
          const cur = existsSync(paths.adminKubeconfig)
            ? readFileSync(paths.adminKubeconfig, "utf8")
            : undefined;
          if (cur === f.contents) return { changes: 0 };
          if (dryRun) {
            result.plan.push({
              host: "admin",
              phase: phase.name,
              what: `write ${paths.adminKubeconfig} (0600)`,
            });
          } else writeFileAtomic(paths.adminKubeconfig, f.contents, 0o600);
          return { changes: 1, detail: paths.adminKubeconfig };
        }
      }
    };

    const concurrency = phase.together
      ? hosts.length
      : Math.min(Math.max(1, options.concurrency), phase.maxParallel ?? Number.POSITIVE_INFINITY);
    // Preflight only reads: every host is checked, so one run names every problem. Later phases
    // start no new host after a failure (hosts already running finish their steps).
    const results = await fanOut(hosts, (h) => runHost(h), {
      concurrency,
      failFast: phase.name !== "preflight",
    });
    for (const [i, d] of (await Promise.allSettled(deferred.map((x) => x.done))).entries()) {
      const host = deferred[i]!.host;
      if (d.status === "rejected")
        results[results.findIndex((r) => r.host === host)] = { host, ok: false, error: d.reason as Error };
    }
    for (const r of results) if (r.ok) phaseChanges += r.value;
    const failures = results.filter((r) => !r.ok) as Array<{ host: string; ok: false; error: Error }>;
    const interrupted = failures.some((f) => f.error instanceof Interrupted) || options.signal?.aborted;
    const real = failures.filter(
      (f) => !(f.error instanceof Interrupted) && !isRemoteExecError(f.error, "SKIPPED"),
    );
    result.changes += phaseChanges;
    result.changesByPhase[phase.name] = phaseChanges;
    if (real.length > 0) {
      for (const f of real) emit(failureEvent(phase.name, f.host, f.error));
      state.phases[phase.name] = {
        status: "failed",
        at: new Date().toISOString(),
        detail: real[0]!.error.message,
      };
      save();
      result.ok = false;
      throw toUpError(phase.name, real);
    }
    if (interrupted) {
      state.phases[phase.name] = { status: "interrupted", at: new Date().toISOString() };
      save();
      result.interrupted = true;
      result.ok = false;
      break;
    }
    if (phase.name === "preflight") {
      const problems = [
        ...facts.flatMap((f) => checkHostFacts(cluster, cluster.nodes.find((n) => n.name === f.host)!, f)),
        ...checkClockSkew(facts),
      ];
      for (const p of problems.filter((x) => x.severity === "warning")) {
        emit({
          type: "warning",
          phase: "preflight",
          host: p.host,
          message: `${p.check}: ${p.message}`,
          fix: p.fix,
        });
      }
      const errors = problems.filter((x) => x.severity === "error");
      if (errors.length > 0) {
        state.phases[phase.name] = {
          status: "failed",
          at: new Date().toISOString(),
          detail: `${errors.length} problem(s)`,
        };
        save();
        for (const p of errors) {
          emit({
            type: "host-failed",
            phase: "preflight",
            host: p.host,
            step: p.check,
            message: p.message,
            hint: p.fix,
          });
        }
        throw new UpError(
          "preflight",
          errors[0]!.host,
          `[preflight] ${errors.length} problem(s):\n${errors.map((p) => `  ${p.host}: ${p.check}: ${p.message}\n    fix: ${p.fix}`).join("\n")}`,
          "fix the problems above, then run `khw up` again",
        );
      }
    }
    state.phases[phase.name] = { status: "done", at: new Date().toISOString() };
    save();
    emit({ type: "phase-done", phase: phase.name, changes: phaseChanges });
  }
  result.pending = dryRun ? {} : state.pending;
  emit({
    type: "run-done",
    ok: result.ok && !result.interrupted,
    changes: result.changes,
    ...(result.interrupted ? { interrupted: true } : {}),
  });
  return result;
}

/** Services on a host that run one of these executables (restart them when a binary changed). */
function servicesUsing(artifacts: Artifacts, host: string, binaries: string[]): string[] {
  const units = artifacts.files.filter((f) => f.host === host && f.path.startsWith("/etc/systemd/system/"));
  return units
    .filter((u) => binaries.some((b) => u.contents.includes(b)))
    .map((u) => u.path.replace(/^.*\//, "").replace(/\.service$/, ""));
}

async function apiBlocked(
  probe: Executor,
  host: HostTarget,
  node: ClusterNode,
  log: (l: string) => void,
): Promise<{ reason: string; hint: string } | undefined> {
  const r = await probe.shell(
    host,
    'if [ ! -x /usr/local/bin/kubectl ] || [ ! -x /usr/local/bin/kube-apiserver ]; then echo "missing-binaries"; exit 0; fi\n' +
      "/usr/local/bin/kubectl --kubeconfig /var/lib/kubernetes/admin.kubeconfig get --raw /readyz --request-timeout=5s 2>&1 || true",
    { sudo: true, check: false },
  );
  log(`[api check] ${node.name}: ${r.stdout}`);
  if (r.stdout.includes("missing-binaries")) {
    return {
      reason: `${node.name} has no kube-apiserver/kubectl (the control-plane phase has not run)`,
      hint: "run `khw up` without --only/--skip for the earlier phases, or `khw up --only control-plane`",
    };
  }
  if (!/^ok/m.test(r.stdout)) {
    return {
      reason: `the kube-apiserver on ${node.name} is not ready (${lastLines(r.stdout, 2) || "no answer"})`,
      hint: "check `journalctl -u kube-apiserver` on that host, then run `khw up` again",
    };
  }
  return undefined;
}

function failureEvent(phase: string, host: string, error: Error) {
  const result = isRemoteExecError(error) ? error.result : undefined;
  return {
    type: "host-failed" as const,
    phase,
    host,
    step: "",
    message: error.message.split("\n")[0] ?? error.message,
    ...(result ? { exitCode: result.code, stderr: lastLines(result.stderr) } : {}),
    ...(isRemoteExecError(error) && error.hint ? { hint: error.hint } : {}),
  };
}

function toUpError(phase: PhaseName | string, failures: Array<{ host: string; error: Error }>): UpError {
  const first = failures[0]!;
  if (first.error instanceof UpError) return first.error;
  const e = first.error;
  const lines = [`[${phase}] ${first.host}: ${e.message.split("\n")[0]}`];
  let stderr = "";
  if (isRemoteExecError(e) && e.result) {
    lines.push(`  exit code ${e.result.code ?? e.result.signal}`);
    stderr = e.result.stderr;
    if (stderr.trim()) lines.push(`  stderr (last lines):\n${lastLines(stderr).replace(/^/gm, "    ")}`);
  }
  if (failures.length > 1)
    lines.push(
      `  (${failures.length - 1} more host(s) failed: ${failures
        .slice(1)
        .map((f) => f.host)
        .join(", ")})`,
    );
  const hint = failureHint(phase, stderr + e.message) ?? (isRemoteExecError(e) ? e.hint : undefined);
  return new UpError(phase, first.host, lines.join("\n"), hint);
}

function stepName(step: Step): string {
  switch (step.kind) {
    case "facts":
      return "facts";
    case "upload":
      return `upload ${step.file.path}`;
    case "install":
      return `install ${step.artifact.id}`;
    case "run":
    case "wait":
      return step.name;
    case "services":
      return `services ${step.services.map((s) => s.name).join(", ")}`;
    case "apply":
      return `apply ${step.manifest.file}`;
    case "admin-kubeconfig":
      return "admin kubeconfig";
    case "approve-serving-csrs":
      return "approve valid kubelet-serving CSRs";
  }
}
