import type { Step } from "../phases";
import { lastLines, UpError } from "../up-error";
import type { StepHandler } from "./types";

type RunStep = Extract<Step, { kind: "run" }>;

/** The lines a script prints for what it changed (its probe: would change): `changed …`. */
const changedLines = (stdout: string, prefix = "changed") =>
  stdout.split("\n").filter((l) => l.startsWith(prefix));

/**
 * A shell script. A check (`step.probe`) verifies what the run's own changes brought about (sysctls
 * applied, haproxy.cfg valid), so it runs after acting, never as a probe: on a fresh host it would
 * fail on what the run fixes. Any other script is probed with its read-only `dryRun` variant (each
 * `changed …` line is a change) and run only when that finds something, or when it has none.
 */
export const runStep: StepHandler<RunStep> = {
  name: (step) => step.name,
  async probe(ctx, host, step) {
    if (step.probe) return { changes: [], check: true };
    if (step.dryRun === undefined || host.unreached)
      return { changes: [{ what: `run (if needed): ${step.name}`, uncertain: true }] };
    const would = await ctx.probe.shell(host.target, step.dryRun, {
      sudo: true,
      args: step.args ?? [],
      check: false,
    });
    return {
      changes: changedLines(would.stdout, "changed ").map((l) => ({ what: `${step.name}: ${l.slice(8)}` })),
    };
  },
  async act(ctx, host, step, seen) {
    if (!step.probe && seen.changes.length === 0) return { changes: 0 };
    const ex = step.probe ? ctx.probe : ctx.executor;
    const r = await ex.shell(host.target, step.script, {
      sudo: true,
      args: step.args ?? [],
      check: !step.expect,
    });
    ctx.log(`${host.where}: ${step.name}\n${r.stdout}${r.stderr}`);
    if (step.expect && !step.expect.test(r.stdout)) {
      throw new UpError(
        ctx.phase,
        host.node.name,
        `${host.where}: ${step.fail?.message ?? `${step.name}: unexpected output`}\n${lastLines(r.stdout + r.stderr)}`,
        step.fail?.hint,
      );
    }
    return { changes: changedLines(r.stdout).length, check: !!step.probe };
  },
};
