import { type Executor, fanOut, type HostTarget, isRemoteExecError } from "@khw/remote-exec";
import type { BinaryArtifact, Cluster, ClusterNode } from "@khw/spec/core";
import type { Artifacts } from "../artifacts";
import type { WorkdirPaths } from "../workdir";
import { apiBlocked } from "./api-ready";
import { ensureArtifact, type FetchedArtifact } from "./binaries";
import type { EventSink } from "./events";
import { type PhaseContext, type PhaseDefinition, phaseContext, type Step } from "./phases";
import { checkClockSkew, checkHostFacts, type HostFacts } from "./preflight";
import { addPending, clearPending, readState, type UpState, writeState } from "./state";
import {
  type Change,
  fetchReleaseFiles,
  handlerFor,
  type Outcome,
  type SeenFiles,
  type StepContext,
  type StepHost,
} from "./steps";
import { failureEvent, Interrupted, toUpError, UpError } from "./up-error";

export { UpError } from "./up-error";

export interface RunUpOptions {
  cluster: Cluster;
  artifacts: Artifacts;
  paths: WorkdirPaths;
  /**
   * Carries out every change (the SSH executor, or a RecordingExecutor in tests). In --dry-run:
   * nothing is carried out; a RecordingExecutor seeded with the hosts' files (plan.ts) is what the
   * upload probes compare with.
   */
  executor: Executor;
  /** Read-only probes (facts, is-active, sha256). Default: `executor`. In --dry-run: the real hosts. */
  probeExecutor?: Executor;
  targets: ReadonlyMap<string, HostTarget>;
  phases: readonly PhaseDefinition[];
  /** Hosts of one phase at once (at least 1). */
  concurrency: number;
  /** Report the probes' planned changes (`UpResult.plan`) instead of acting. */
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

/** One run's shared state, across its phases. */
interface Run {
  o: RunUpOptions;
  /** `act`: probe, then change; `plan` (--dry-run): probe, and report what would change. */
  mode: "act" | "plan";
  probe: Executor;
  state: UpState;
  result: UpResult;
  save(): void;
  artifact(a: BinaryArtifact): Promise<FetchedArtifact>;
  contents: Map<string, Buffer>;
  phaseCtx: PhaseContext;
  target(node: ClusterNode): HostTarget;
  /** Changes made on control planes so far in this run, and their count when the API was last found ready. */
  cpChanges: number;
  apiReadyAt: number;
}

/**
 * Runs the phases in order; hosts within a phase in parallel (bounded); on each host its steps, each
 * probed, then acted on (steps/). Idempotent: uploads only what changed, restarts only services whose
 * files changed, and records owed actions in `.khw/state.json` so that a run stopped by a failure or
 * Ctrl-C converges on the next run.
 */
export async function runUp(options: RunUpOptions): Promise<UpResult> {
  const run = startRun(options);
  const { result } = run;
  options.emit({
    type: "run-start",
    phases: options.phases.map((p) => p.name),
    hosts: options.cluster.nodes.map((n) => n.name),
    dryRun: run.mode === "plan",
  });
  const steps = options.phases.flatMap((p) =>
    p.hosts(options.cluster, options.artifacts).flatMap((n) => p.steps(run.phaseCtx, n)),
  );
  await fetchReleaseFiles(steps, (a) => run.artifact(a), options.log);
  for (const [index, phase] of options.phases.entries()) {
    if (options.signal?.aborted) {
      result.interrupted = true;
      break;
    }
    if ((await runPhase(run, phase, index)) === "interrupted") break;
  }
  result.pending = run.mode === "plan" ? {} : run.state.pending;
  options.emit({
    type: "run-done",
    ok: result.ok && !result.interrupted,
    changes: result.changes,
    ...(result.interrupted ? { interrupted: true } : {}),
  });
  return result;
}

function startRun(o: RunUpOptions): Run {
  const mode = o.dryRun ? "plan" : "act";
  const state = readState(o.paths.state);
  const fetched = new Map<string, Promise<FetchedArtifact>>();
  return {
    o,
    mode,
    probe: o.probeExecutor ?? o.executor,
    state,
    result: { ok: true, changes: 0, changesByPhase: {}, interrupted: false, pending: {}, plan: [] },
    save: () => {
      if (mode === "act") writeState(o.paths.state, state);
    },
    artifact(a) {
      let p = fetched.get(a.id);
      if (!p) {
        p = (o.fetchArtifact ?? ((x) => ensureArtifact(o.cluster, x, o)))(a);
        p.catch(() => {});
        fetched.set(a.id, p);
      }
      return p;
    },
    // Release files are read only when a host needs them uploaded (a converged run reads none).
    contents: new Map(),
    phaseCtx: phaseContext(o.cluster, o.artifacts),
    target(node) {
      const t = o.targets.get(node.name);
      if (!t) throw new Error(`no SSH target for ${node.name} (a bug in khw)`);
      return t;
    },
    cpChanges: 0,
    apiReadyAt: -1,
  };
}

/** One phase on its hosts; throws UpError when it fails, says "interrupted" after Ctrl-C. */
async function runPhase(run: Run, phase: PhaseDefinition, index: number): Promise<"done" | "interrupted"> {
  const { o, state, result } = run;
  const hosts = phase.hosts(o.cluster, o.artifacts);
  if (hosts.length === 0) {
    o.emit({ type: "phase-skipped", phase: phase.name, reason: "no hosts for this spec" });
    return "done";
  }
  await o.beforePhase?.(phase, index);
  // The API was found ready in this run and no control plane changed since: not asked again.
  if (phase.needsApi && run.mode === "act" && run.apiReadyAt !== run.cpChanges) {
    await requireApi(run, phase, hosts[0]!);
    run.apiReadyAt = run.cpChanges;
  }
  o.emit({ type: "phase-start", phase: phase.name, hosts: hosts.map((h) => h.name) });
  const ctx = stepContext(run, phase);
  /** Final readiness waits of hosts where this phase changed nothing: awaited at the phase's end. */
  const deferred: Array<{ host: string; done: Promise<void> }> = [];
  const concurrency = phase.together
    ? hosts.length
    : Math.min(Math.max(1, o.concurrency), phase.maxParallel ?? Number.POSITIVE_INFINITY);
  // Preflight only reads: every host is checked, so one run names every problem. Later phases
  // start no new host after a failure (hosts already running finish their steps).
  const results = await fanOut(hosts, (h) => runHost(run, ctx, phase, h, deferred), {
    concurrency,
    failFast: phase.name !== "preflight",
  });
  for (const [i, d] of (await Promise.allSettled(deferred.map((x) => x.done))).entries()) {
    const host = deferred[i]!.host;
    if (d.status === "rejected")
      results[results.findIndex((r) => r.host === host)] = { host, ok: false, error: d.reason as Error };
  }
  let phaseChanges = 0;
  for (const r of results) if (r.ok) phaseChanges += r.value;
  const failures = results.filter((r) => !r.ok) as Array<{ host: string; ok: false; error: Error }>;
  const interrupted = failures.some((f) => f.error instanceof Interrupted) || o.signal?.aborted;
  const real = failures.filter(
    (f) => !(f.error instanceof Interrupted) && !isRemoteExecError(f.error, "SKIPPED"),
  );
  result.changes += phaseChanges;
  result.changesByPhase[phase.name] = phaseChanges;
  if (real.length > 0) {
    for (const f of real) o.emit(failureEvent(phase.name, f.host, f.error));
    state.phases[phase.name] = {
      status: "failed",
      at: new Date().toISOString(),
      detail: real[0]!.error.message,
    };
    run.save();
    result.ok = false;
    throw toUpError(phase.name, real);
  }
  if (interrupted) {
    state.phases[phase.name] = { status: "interrupted", at: new Date().toISOString() };
    run.save();
    result.interrupted = true;
    result.ok = false;
    return "interrupted";
  }
  if (phase.name === "preflight") checkPreflight(run, ctx.facts);
  state.phases[phase.name] = { status: "done", at: new Date().toISOString() };
  run.save();
  o.emit({ type: "phase-done", phase: phase.name, changes: phaseChanges });
  return "done";
}

/** What the steps of one phase share (steps/types.ts). */
function stepContext(run: Run, phase: PhaseDefinition): StepContext {
  const { o, state } = run;
  const seen = run.mode === "plan" && hasFiles(o.executor) ? o.executor : undefined;
  return {
    phase: phase.name,
    cluster: o.cluster,
    artifacts: o.artifacts,
    paths: o.paths,
    probe: run.probe,
    executor: o.executor,
    seen,
    state,
    owe(host, owed) {
      addPending(state, host, owed);
      run.save();
    },
    settle(host, done) {
      clearPending(state, host, done);
      run.save();
    },
    artifact: (a) => run.artifact(a),
    contents: run.contents,
    facts: [],
    target: (node) => run.target(node),
    signal: o.signal,
    sleep: o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    emit: o.emit,
    log: o.log,
  };
}

const hasFiles = (x: object): x is SeenFiles => typeof (x as Partial<SeenFiles>).file === "function";

/** One host's steps, in order; returns its number of changes. */
async function runHost(
  run: Run,
  ctx: StepContext,
  phase: PhaseDefinition,
  node: ClusterNode,
  deferred: Array<{ host: string; done: Promise<void> }>,
): Promise<number> {
  const { emit } = run.o;
  emit({ type: "host-start", phase: phase.name, host: node.name });
  const host: Omit<StepHost, "found"> = {
    node,
    target: run.target(node),
    where: `[${phase.name}] ${node.name}`,
    unreached: run.mode === "plan" && (run.o.unreachable?.has(node.name) ?? false),
  };
  let changes = 0;
  const steps = phase.steps(run.phaseCtx, node);
  for (const [i, step] of steps.entries()) {
    if (run.o.signal?.aborted) throw new Interrupted("interrupted");
    const report = (st: Outcome) =>
      emit({
        type: "step",
        phase: phase.name,
        host: node.name,
        step: handlerFor(step).name(step),
        status: st.changes > 0 ? "changed" : st.check ? "ok" : "unchanged",
        ...(st.detail ? { detail: st.detail } : {}),
      });
    // A readiness wait that ends the host's steps where nothing was changed (no service restarted
    // or started here): the next host need not wait for it, even in a one-by-one phase.
    if (run.mode === "act" && step.kind === "wait" && changes === 0 && i === steps.length - 1) {
      const done = runStep(run, ctx, host, step).then((st) => {
        report(st);
        emit({ type: "host-done", phase: phase.name, host: node.name, changes: 0 });
      });
      done.catch(() => {});
      deferred.push({ host: node.name, done });
      return 0;
    }
    const st = await runStep(run, ctx, host, step);
    changes += st.changes;
    if (st.changes > 0 && node.role === "controlplane") run.cpChanges += st.changes;
    report(st);
  }
  emit({ type: "host-done", phase: phase.name, host: node.name, changes });
  return changes;
}

/** Probes the step; then acts on what the probe saw, or (--dry-run) reports it as the plan. */
async function runStep(
  run: Run,
  ctx: StepContext,
  on: Omit<StepHost, "found">,
  step: Step,
): Promise<Outcome> {
  const handler = handlerFor(step);
  // --dry-run: each change becomes a line of the plan when found; its owed actions are booked as acting would.
  const listed = new Set<Change>();
  const plan = (c: Change) => {
    listed.add(c);
    run.result.plan.push({
      host: c.host ?? on.node.name,
      phase: ctx.phase,
      what: c.what,
      ...(c.diff !== undefined ? { diff: c.diff } : {}),
    });
    ctx.log(`${on.where}: would ${c.what}`);
    if (c.owes) ctx.owe(on.node.name, c.owes);
    if (c.settles) ctx.settle(on.node.name, c.settles);
    return c;
  };
  const host: StepHost = { ...on, found: run.mode === "plan" ? plan : (c) => c };
  const seen = await handler.probe(ctx, host, step);
  if (run.mode === "act") return handler.act(ctx, host, step, seen);
  for (const c of seen.changes) if (!listed.has(c)) plan(c);
  const changes = seen.changes.filter((c) => !c.uncertain).length;
  return {
    changes,
    ...(seen.check ? { check: true } : {}),
    ...(changes > 0 && seen.detail ? { detail: seen.detail } : {}),
  };
}

/** A phase that needs the API: fails (the phase "not run") unless the apiserver answers /readyz. */
async function requireApi(run: Run, phase: PhaseDefinition, node: ClusterNode): Promise<void> {
  const { o, state } = run;
  const blocked = await apiBlocked(run.probe, run.target(node), node, o.log).catch((e: unknown) => {
    if (!isRemoteExecError(e)) throw e;
    o.emit(failureEvent(phase.name, node.name, e));
    return {
      reason: e.message.split("\n  hint: ")[0]!,
      hint: e.hint ?? "check the host, then run `khw up` again",
    };
  });
  if (!blocked) return;
  o.emit({ type: "phase-not-run", phase: phase.name, reason: blocked.reason, hint: blocked.hint });
  state.phases[phase.name] = { status: "not-run", at: new Date().toISOString(), detail: blocked.reason };
  run.save();
  throw new UpError(phase.name, node.name, `[${phase.name}] could not run: ${blocked.reason}`, blocked.hint);
}

/** Preflight's verdict on the facts gathered: warnings said, errors fail the phase naming each with its fix. */
function checkPreflight(run: Run, facts: HostFacts[]): void {
  const { o, state } = run;
  const problems = [
    ...facts.flatMap((f) => checkHostFacts(o.cluster, o.cluster.nodes.find((n) => n.name === f.host)!, f)),
    ...checkClockSkew(facts),
  ];
  for (const p of problems.filter((x) => x.severity === "warning"))
    o.emit({
      type: "warning",
      phase: "preflight",
      host: p.host,
      message: `${p.check}: ${p.message}`,
      fix: p.fix,
    });
  const errors = problems.filter((x) => x.severity === "error");
  if (errors.length === 0) return;
  state.phases.preflight = {
    status: "failed",
    at: new Date().toISOString(),
    detail: `${errors.length} problem(s)`,
  };
  run.save();
  for (const p of errors)
    o.emit({
      type: "host-failed",
      phase: "preflight",
      host: p.host,
      step: p.check,
      message: p.message,
      hint: p.fix,
    });
  throw new UpError(
    "preflight",
    errors[0]!.host,
    `[preflight] ${errors.length} problem(s):\n${errors.map((p) => `  ${p.host}: ${p.check}: ${p.message}\n    fix: ${p.fix}`).join("\n")}`,
    "fix the problems above, then run `khw up` again",
  );
}
