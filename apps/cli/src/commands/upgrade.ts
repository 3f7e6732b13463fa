import { appendFileSync, mkdirSync } from "node:fs";
import { join, relative } from "node:path";
import { isRemoteExecError } from "@khw/remote-exec";
import { planUpgrade, type UpgradePlan } from "@khw/systemd-units";
import type { Command } from "commander";
import { loadDay2Spec, SPEC_OPTION, wholeNumber } from "../day2/options";
import { openHosts } from "../day2/remote";
import { confirmFor } from "../day2/reset";
import { CliError } from "../errors";
import { colors, type Io } from "../io";
import type { LoadedSpec } from "../spec-file";
import type { UpEvent } from "../up/events";
import { plainProgress } from "../up/progress";
import { applyUpgrade } from "../upgrade/apply";
import { formatPlan } from "../upgrade/format";
import { observeVersions } from "../upgrade/observe";
import { currentSeams, workdirPaths } from "../workdir";

interface PlanOpts {
  file?: string;
  to: string;
  json: boolean;
  offline: boolean;
}

/** The plan, with the versions found on the hosts checked too (unless --offline or unreachable: then noted). */
async function makePlan(
  io: Io,
  loaded: LoadedSpec,
  opts: PlanOpts,
): Promise<{ plan: UpgradePlan; notes: string[]; unreachable: string[] }> {
  const notes: string[] = [];
  const unreachable: string[] = [];
  let observed: Record<string, Record<string, string>> | undefined;
  if (!opts.offline) {
    const hosts = openHosts(io, loaded);
    try {
      const o = await observeVersions(loaded.cluster, hosts);
      observed = o.versions;
      for (const u of o.unreachable) unreachable.push(u.host);
      for (const u of o.unreachable)
        notes.push(`${u.host} did not answer (${u.message}): its versions are assumed to be the spec's`);
    } finally {
      await hosts.close();
    }
    const off = Object.entries(observed).flatMap(([h, comps]) =>
      Object.entries(comps)
        .filter(([, v]) => v !== loaded.spec.versions.kubernetes)
        .map(([c, v]) => `${h} ${c} ${v}`),
    );
    if (off.length)
      notes.push(
        `installed versions differ from the spec's ${loaded.spec.versions.kubernetes}: ${off.join(", ")} (an interrupted upgrade? \`khw upgrade apply\` resumes it)`,
      );
  }
  return { plan: planUpgrade(loaded.cluster, opts.to, observed ? { observed } : {}), notes, unreachable };
}

function refuse(plan: UpgradePlan): never {
  const r = plan.checks.find((c) => !c.ok)!;
  throw new CliError(
    "UPGRADE_REFUSED",
    `upgrade ${plan.from} → ${plan.to} refused by ${r.id} (${r.rule}): ${r.message}`,
    r.fix,
  );
}

export function registerUpgrade(program: Command, io: Io): void {
  const upgrade = program
    .command("upgrade")
    .description(
      "Upgrade Kubernetes: plan (binaries, flags, version-skew checks) and apply (etcd snapshot, control planes, then workers drained one by one)",
    );

  upgrade
    .command("plan")
    .description(
      "What an upgrade to --to would change, the version-skew checks and the ordered steps (read-only)",
    )
    .requiredOption("--to <version>", "the Kubernetes version to upgrade to, e.g. v1.34.4")
    .option(...SPEC_OPTION)
    .option(
      "--offline",
      "plan from the spec alone, without asking the hosts for their installed versions",
      false,
    )
    .option("--json", "print the plan as JSON", false)
    .action(async (opts: PlanOpts) => {
      const loaded = await loadDay2Spec(io, opts.file);
      const { plan, notes } = await makePlan(io, loaded, opts);
      if (opts.json) io.stdout(`${JSON.stringify({ ...plan, notes }, null, 2)}\n`);
      else io.stdout(formatPlan(io, plan, notes));
      if (!plan.ok) throw new CliError("UPGRADE_REFUSED", "", undefined);
    });

  upgrade
    .command("apply")
    .description(
      "Carry out the upgrade: etcd snapshot, each control plane (/readyz between), each worker (cordon, drain, replace, Ready, uncordon), then cluster.yaml; resumable",
    )
    .requiredOption("--to <version>", "the Kubernetes version to upgrade to, e.g. v1.34.4")
    .option(...SPEC_OPTION)
    .option("-y, --yes", "do not ask (for scripts)", false)
    .option("--dry-run", "print the plan; change nothing", false)
    .option(
      "--json",
      "JSON lines on stdout: each step and host event as it happens, then the result (with --dry-run: the plan)",
      false,
    )
    .option(
      "--drain-timeout <seconds>",
      "how long one worker's drain may wait (PodDisruptionBudgets)",
      wholeNumber("--drain-timeout"),
      300,
    )
    .action(
      async (opts: {
        file?: string;
        to: string;
        yes: boolean;
        dryRun: boolean;
        json: boolean;
        drainTimeout: number;
      }) => {
        const c = colors(io);
        const line = (o: object) => io.stdout(`${JSON.stringify(o)}\n`);
        const loaded = await loadDay2Spec(io, opts.file);
        const { plan, notes, unreachable } = await makePlan(io, loaded, {
          ...opts,
          json: false,
          offline: false,
        });
        if (opts.json && (opts.dryRun || !plan.ok)) {
          line({ type: "plan", dryRun: opts.dryRun, ...plan, notes });
          if (!plan.ok) refuse(plan);
          return;
        }
        if (opts.dryRun || !plan.ok) {
          io.stdout(formatPlan(io, plan, notes));
          if (!plan.ok) refuse(plan);
          return;
        }
        if (unreachable.length > 0 && plan.kind !== "none") {
          throw new CliError(
            "UPGRADE_UNREACHABLE",
            `${unreachable.join(", ")} did not answer: an upgrade needs every host (nothing was changed)`,
            "bring the host(s) back (`khw status` says why), then run the upgrade again",
          );
        }
        if (plan.kind === "none") {
          if (opts.json)
            line({ type: "result", ok: true, from: plan.from, to: plan.to, ran: 0, upgraded: false });
          else io.stdout(`${c.green("✓")} the spec says ${plan.to} already: nothing to upgrade\n`);
          return;
        }
        if (!opts.yes) {
          const confirm = confirmFor(io);
          if (!confirm)
            throw new CliError(
              "CONFIRMATION_NEEDED",
              "khw upgrade apply restarts every Kubernetes component and drains every worker, and needs a confirmation, but there is no terminal to ask on",
              "look at `khw upgrade plan --to ...`, then pass --yes",
            );
          (opts.json ? io.stderr : io.stdout)(formatPlan(io, plan, notes));
          if (!(await confirm(`upgrade ${plan.from} → ${plan.to} now?`))) {
            throw new CliError("ABORTED", "nothing was changed");
          }
        }
        const seams = currentSeams();
        const paths = workdirPaths(loaded.baseDir);
        mkdirSync(paths.logs, { recursive: true });
        const logFile = join(paths.logs, `upgrade-${seams.now().toISOString().replace(/[:.]/g, "-")}.log`);
        const log = (line: string) => {
          appendFileSync(logFile, `${line.endsWith("\n") ? line : `${line}\n`}`, { mode: 0o600 });
          if ((io.verbosity ?? 0) >= 2) io.stderr(`${c.dim(`I ${line.replace(/\n$/, "")}`)}\n`);
        };
        const view = opts.json ? (e: UpEvent) => line(e) : plainProgress(io);
        const emit = (e: UpEvent) => {
          log(`event ${JSON.stringify(e)}`);
          // The install/restart steps of each host; the phase banners are the upgrade's own lines.
          if (
            e.type === "step" ||
            e.type === "host-failed" ||
            e.type === "warning" ||
            e.type === "phase-not-run"
          )
            view(e);
        };
        const controller = new AbortController();
        const force = () => process.exit(130);
        const onSigint = () => {
          if (controller.signal.aborted) return;
          io.stderr(
            "\ninterrupted: finishing the step in flight, then saving state (Ctrl-C again to force)\n",
          );
          controller.abort();
          process.once("SIGINT", force);
        };
        process.once("SIGINT", onSigint);
        seams.interrupt?.addEventListener("abort", onSigint, { once: true });
        const hosts = openHosts(io, loaded);
        const t0 = performance.now();
        try {
          const r = await applyUpgrade({
            loaded,
            plan,
            hosts,
            env: io.env,
            cwd: io.cwd,
            signal: controller.signal,
            say: (l) => (opts.json ? line({ type: "progress", message: l }) : io.stdout(`${l}\n`)),
            log,
            emit,
            drainTimeoutSeconds: opts.drainTimeout,
            now: () => seams.now(),
            ...(seams.sleep ? { sleep: seams.sleep } : {}),
          });
          const seconds = (performance.now() - t0) / 1000;
          if (opts.json) {
            line({
              type: "result",
              ok: true,
              from: plan.from,
              to: plan.to,
              upgraded: true,
              ran: r.ran,
              skipped: r.skipped,
              ...(r.snapshot ? { snapshot: { ...r.snapshot, file: relative(io.cwd, r.snapshot.file) } } : {}),
              specUpdated: r.specUpdated,
              seconds: Math.round(seconds),
              log: relative(io.cwd, logFile),
            });
            return;
          }
          io.stdout(
            `${c.green("✓")} upgraded to ${plan.to} in ${seconds.toFixed(0)} s (${r.ran} step(s)${r.skipped ? `, ${r.skipped} done by an earlier run` : ""})${r.specUpdated ? `; ${loaded.displayName} says versions.kubernetes: ${plan.to}` : ""} (log: ${relative(io.cwd, logFile)})\n`,
          );
        } catch (e) {
          if (isRemoteExecError(e))
            throw new CliError("UPGRADE_FAILED", e.message.split("\n  hint: ")[0]!, e.hint);
          throw e;
        } finally {
          process.removeListener("SIGINT", onSigint);
          process.removeListener("SIGINT", force);
          await hosts.close();
        }
      },
    );
}
