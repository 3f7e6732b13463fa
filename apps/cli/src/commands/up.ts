import { appendFileSync, mkdirSync } from "node:fs";
import { join, relative } from "node:path";
import { type Executor, isRemoteExecError } from "@khw/remote-exec";
import type { Command } from "commander";
import { carryOutAddition, checkControlPlanes } from "../day2/node-membership";
import { orphanMessage } from "../day2/node-orphans";
import { CliError, UsageError } from "../errors";
import { upExplainHook } from "../guide/up-hook";
import { colors, type Io } from "../io";
import { OUTPUT_OPTION, outputFormat, printStructured } from "../output";
import { loadSpecFile } from "../spec-file";
import { defaultCacheDir } from "../up/binaries";
import type { EventSink, UpEvent } from "../up/events";
import { hostTargets, sshExecutorForSpec } from "../up/executor";
import { PHASE_NAMES, PHASES, type PhaseDefinition } from "../up/phases";
import { seededRecorder } from "../up/plan";
import { jsonProgress, plainProgress, ttyProgress } from "../up/progress";
import { runUp, type UpResult } from "../up/runner";
import { readState } from "../up/state";
import { readUnfinishedUpgrade, upgradeStatePath } from "../upgrade/state";
import { currentSeams } from "../workdir";
import { prepareArtifacts } from "./gen";

export interface UpOptions {
  file?: string;
  only?: string;
  skip?: string;
  list?: boolean;
  concurrency: string;
  dryRun?: boolean;
  json?: boolean;
  output?: string;
  explain?: boolean;
  step?: boolean;
}

function parsePhaseList(text: string | undefined, flag: string): string[] | undefined {
  if (text === undefined) return undefined;
  const names = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(PHASE_NAMES as readonly string[]).includes(n));
  if (unknown.length || names.length === 0) {
    throw new UsageError(
      `${flag}: unknown phase${unknown.length === 1 ? "" : "s"} ${unknown.join(", ") || "(none given)"}`,
      `use phase names from \`khw up --list\`: ${PHASE_NAMES.join(", ")}`,
    );
  }
  return names;
}

/** The phases selected by --only / --skip, in bring-up order. */
export function selectPhases(only: string[] | undefined, skip: string[] | undefined): PhaseDefinition[] {
  return PHASES.filter((p) => (only ? only.includes(p.name) : true) && !(skip ?? []).includes(p.name));
}

export function registerUp(program: Command, io: Io): void {
  program
    .command("up")
    .description("Bring the cluster up over SSH in named phases: parallel, idempotent, resumable")
    .option("-f, --file <file>", "the cluster spec (default: ./cluster.yaml, else the built-in default)")
    .option("--only <phases>", "run only these phases (comma-separated)")
    .option("--skip <phases>", "skip these phases (comma-separated)")
    .option("--list", "list the phases and exit")
    .option("--concurrency <n>", "hosts of a phase at once", "5")
    .option("--dry-run", "show what would change on each host (diffs, commands, restarts); change nothing")
    .option("--json", "one JSON event per line on stdout (with --list: the phases as JSON)")
    .option(...OUTPUT_OPTION)
    .option("--explain", "before each phase: what it builds and why, and the commands that do it by hand")
    .option("--step", "pause between phases (press Enter) to look at the hosts; needs a terminal")
    .action(async (opts: UpOptions) => {
      await upCommand(io, opts);
    });
}

async function upCommand(io: Io, opts: UpOptions): Promise<void> {
  const c = colors(io);
  const only = parsePhaseList(opts.only, "--only");
  const skip = parsePhaseList(opts.skip, "--skip");
  const concurrency = Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UsageError(`--concurrency: '${opts.concurrency}' is not a whole number ≥ 1`);
  }
  if (opts.list) {
    const loaded = await loadSpecFile(io.cwd, opts.file, { allowDefault: true }).catch(() => undefined);
    const width = Math.max(...PHASES.map((p) => p.name.length));
    const rows = PHASES.map((p) => {
      const hosts = loaded
        ? p.hosts(loaded.cluster, { cluster: loaded.cluster, files: [], manifests: [], services: {} })
        : [];
      return {
        name: p.name,
        description: p.description,
        viaApi: !!p.needsApi,
        hosts: hosts.map((h) => h.name),
      };
    });
    const format = outputFormat(opts);
    if (format) {
      await printStructured(io, format, rows);
      return;
    }
    for (const p of rows) {
      const on = p.viaApi ? "via the API" : p.hosts.join(", ");
      io.stdout(`${p.name.padEnd(width)}  ${p.description}${on ? c.dim(`  [${on}]`) : ""}\n`);
    }
    return;
  }
  if (opts.output !== undefined)
    throw new UsageError("-o json|yaml goes with --list; a run streams events with --json");
  const phases = selectPhases(only, skip);
  if (phases.length === 0) throw new UsageError("--only/--skip leave no phase to run");

  const say = opts.json ? io.stderr : io.stdout;
  const controller = new AbortController();
  const beforePhase =
    opts.explain || opts.step
      ? upExplainHook((await loadSpecFile(io.cwd, opts.file, { allowDefault: true })).cluster, {
          explain: !!opts.explain,
          step: !!opts.step,
          signal: controller.signal,
          say,
        })
      : undefined;
  // Before any certificate is re-issued: control planes that differ from etcd's members (an addition is
  // carried out below, before the usual run; --dry-run prints its plan and stops).
  const controlPlanes = await checkControlPlanes(io, opts.file, {
    dryRun: !!opts.dryRun,
    json: !!opts.json,
    partial: only !== undefined || skip !== undefined,
  });
  if (controlPlanes.kind === "printed") return;
  const { loaded, workdir, artifacts } = await prepareArtifacts(io, opts.file, say);
  refuseDuringUpgrade(workdir.paths.state, loaded.cluster.spec.versions.kubernetes);
  const seams = currentSeams();
  const targets = hostTargets(loaded, io.env);

  mkdirSync(workdir.paths.logs, { recursive: true });
  const logFile = join(workdir.paths.logs, `up-${seams.now().toISOString().replace(/[:.]/g, "-")}.log`);
  const log = (line: string) => {
    appendFileSync(logFile, `${line.endsWith("\n") ? line : `${line}\n`}`, { mode: 0o600 });
    // -v=2 and up: the run's log on stderr too (the file keeps it either way).
    if ((io.verbosity ?? 0) >= 2) io.stderr(`${c.dim(`I ${line.replace(/\n$/, "")}`)}\n`);
  };
  if ((io.verbosity ?? 0) >= 1) io.stderr(`${c.dim(`log: ${relative(io.cwd, logFile)}`)}\n`);
  log(`khw up ${opts.dryRun ? "--dry-run " : ""}phases: ${phases.map((p) => p.name).join(", ")}`);

  // Resuming after a failure or Ctrl-C: say so (every phase is checked again; nothing done twice).
  const previous = readState(workdir.paths.state);
  const stopped = Object.entries(previous.phases).find(([, p]) => p.status !== "done");
  if (stopped && !opts.dryRun) {
    say(
      `resuming: the last run ${stopped[1].status === "interrupted" ? "was interrupted" : stopped[1].status === "failed" ? "failed" : "could not run"} in ${stopped[0]} (${stopped[1].at}); finished steps are checked, not redone${Object.keys(previous.pending).length ? `; owed: ${Object.keys(previous.pending).join(", ")}` : ""}\n`,
    );
  }

  let tty: { sink: EventSink; done: () => void } | undefined;
  let view: EventSink;
  if (opts.json) view = jsonProgress(io);
  else if (io.isTTY && !beforePhase) {
    tty = await ttyProgress(
      io,
      phases.map((p) => p.name),
      [...loaded.cluster.nodes.map((n) => n.name)],
    );
    view = tty.sink;
  } else view = plainProgress(io);
  const emit: EventSink = (e: UpEvent) => {
    log(`event ${JSON.stringify(e)}`);
    view(e);
  };

  const real: Executor =
    seams.executor?.() ??
    sshExecutorForSpec(
      loaded,
      (entry) => log(`ssh ${entry.level}${entry.host ? ` [${entry.host}]` : ""}: ${entry.message}`),
      {
        notify: (line) => {
          log(line);
          io.stderr(line.startsWith("warning:") ? `${c.yellow("warning:")}${line.slice(8)}` : line);
        },
        dryRun: !!opts.dryRun,
      },
    );
  // Ctrl-C: stop launching steps, let the ones in flight finish, save state. A second Ctrl-C exits at once.
  const force = () => process.exit(130);
  const onSigint = () => {
    if (controller.signal.aborted) return;
    io.stderr("\ninterrupted: finishing the steps in flight, then saving state (Ctrl-C again to force)\n");
    controller.abort();
    process.once("SIGINT", force);
  };
  process.once("SIGINT", onSigint);
  seams.interrupt?.addEventListener("abort", onSigint, { once: true });
  let result: UpResult;
  let unreachable: string[] = [];
  let orphans: string[] = [];
  try {
    let executor = real;
    if (opts.dryRun) {
      const seeded = await seededRecorder(artifacts, real, targets);
      const { recorder, unreachable: down, refused } = seeded;
      orphans = seeded.orphans ?? [];
      // What the real run would refuse (a changed or unknown host key, authentication, sudo), the
      // dry run refuses too, with the same words as `khw status`: never planned around.
      for (const p of refused) {
        log(`dry run refused: ${p.host}: ${p.message}`);
        io.stderr(
          `${c.red("error:")} ${p.host}: ${p.message}${p.hint ? `\n  ${c.dim("fix:")} ${p.hint}` : ""}\n`,
        );
      }
      if (refused.length > 0) {
        throw new CliError(
          "DRY_RUN_REFUSED",
          `dry run: ${refused.length} host(s) would be refused by the real run (${refused.map((p) => p.host).join(", ")}); nothing was planned`,
          "fix what is said above for each host, then run `khw up --dry-run` again",
        );
      }
      for (const p of down) {
        io.stderr(
          `${c.yellow("warning:")} ${c.bold(`${p.host} is UNREACHABLE`)} (${p.message}): its plan below assumes it has NONE of khw's files and is not what a real run would do there${p.hint ? `\n  ${c.dim("fix:")} ${p.hint}` : ""}\n`,
        );
      }
      unreachable = down.map((p) => p.host);
      executor = recorder;
    }
    if (controlPlanes.kind === "add")
      await carryOutAddition(controlPlanes, {
        io,
        loaded,
        paths: workdir.paths,
        artifacts,
        executor: real,
        targets,
        emit,
        log,
        signal: controller.signal,
        json: !!opts.json,
      });
    result = await runUp({
      cluster: loaded.cluster,
      artifacts,
      paths: workdir.paths,
      executor,
      probeExecutor: real,
      targets,
      phases,
      concurrency,
      dryRun: !!opts.dryRun,
      signal: controller.signal,
      emit,
      log,
      cacheDir: defaultCacheDir(io.env),
      baseDir: loaded.baseDir,
      ...(seams.sleep ? { sleep: seams.sleep } : {}),
      ...(beforePhase ? { beforePhase } : {}),
      ...(unreachable.length ? { unreachable: new Set(unreachable) } : {}),
    });
  } catch (e) {
    // Whatever a host did (dropped, refused, timed out) is a failure of that host, never a crash.
    if (isRemoteExecError(e)) throw new CliError("UP_FAILED", e.message.split("\n  hint: ")[0]!, e.hint);
    throw e;
  } finally {
    process.removeListener("SIGINT", onSigint);
    process.removeListener("SIGINT", force);
    tty?.done();
    await real.close().catch(() => {});
  }
  const logRel = relative(io.cwd, logFile);
  if (opts.dryRun) {
    for (const o of orphans) io.stderr(`${c.yellow("warning:")} ${orphanMessage(o)}\n`);
    if (!opts.json) {
      const byHost = new Map<string, typeof result.plan>();
      for (const p of result.plan) byHost.set(p.host, [...(byHost.get(p.host) ?? []), p]);
      if (result.plan.length === 0 && unreachable.length === 0)
        io.stdout(`${c.green("✓")} dry run: nothing would change\n`);
      for (const [host, items] of byHost) {
        io.stdout(`\n${c.bold(host)}: ${items.length} change(s)\n`);
        for (const i of items) {
          io.stdout(`  [${i.phase}] ${i.what}\n`);
          if (i.diff) io.stdout(`${i.diff.replace(/^/gm, "    ")}\n`);
        }
      }
      if (unreachable.length > 0)
        io.stdout(
          `\n${c.yellow("⚠")} not reached, planned as empty: ${unreachable.join(", ")} (see the warnings above)\n`,
        );
    } else {
      for (const p of result.plan) io.stdout(`${JSON.stringify({ type: "plan", ...p })}\n`);
      for (const h of unreachable) io.stdout(`${JSON.stringify({ type: "unreachable", host: h })}\n`);
      for (const o of orphans) io.stdout(`${JSON.stringify({ type: "orphan", node: o })}\n`);
    }
    return;
  }
  if (result.interrupted) {
    throw new CliError(
      "INTERRUPTED",
      `interrupted; finished steps are recorded in ${relative(io.cwd, workdir.paths.state)}`,
      "run `khw up` again to resume and converge",
    );
  }
  if (!opts.json) {
    const by = Object.entries(result.changesByPhase)
      .filter(([, n]) => n > 0)
      .map(([p, n]) => `${p} ${n}`);
    io.stdout(
      result.changes === 0
        ? `${c.green("✓")} converged: no changes (log: ${logRel})\n`
        : `${c.green("✓")} ${result.changes} change(s): ${by.join(", ")} (log: ${logRel})\n`,
    );
    if (phases.some((p) => p.name === "admin") && result.ok) {
      io.stdout(
        `kubectl: kubectl --kubeconfig ${relative(io.cwd, workdir.paths.adminKubeconfig)} get nodes\n`,
      );
    }
    for (const [host, p] of Object.entries(result.pending)) {
      const owed = [
        ...(p.daemonReload ? ["daemon-reload"] : []),
        ...(p.restart ?? []).map((s) => `restart ${s}`),
        ...(p.apply ?? []).map((m) => `apply ${m}`),
      ];
      if (owed.length)
        io.stdout(`${c.yellow("pending")} on ${host}: ${owed.join(", ")} (run the phase that owns it)\n`);
    }
  }
}

/**
 * An unfinished `khw upgrade apply` (its `.khw/upgrade.json`) with a spec that still names another
 * version: `khw up` would put the hosts already upgraded back to that version. Refused, dry run too.
 */
function refuseDuringUpgrade(upStatePath: string, specVersion: string): void {
  const path = upgradeStatePath(upStatePath);
  const state = readUnfinishedUpgrade(path); // unreadable: `khw upgrade apply` starts it over, nothing to protect
  if (!state || state.to === specVersion) return;
  const done = state.done.length;
  throw new CliError(
    "UPGRADE_IN_PROGRESS",
    `an upgrade from ${state.from} to ${state.to} is unfinished (${done} step${done === 1 ? "" : "s"} done, recorded in ${path}); ` +
      `khw up with versions.kubernetes ${specVersion} would put the upgraded hosts back to ${specVersion}`,
    `finish it: khw upgrade apply --to ${state.to} (it resumes); or, to abandon it, delete ${path} and run khw up`,
  );
}
