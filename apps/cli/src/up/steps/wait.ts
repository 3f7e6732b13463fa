import { causesInJournal, journalScript } from "../journal-causes";
import type { Step } from "../phases";
import { Interrupted, lastLines, UpError } from "../up-error";
import type { StepContext, StepHandler } from "./types";

type WaitStep = Extract<Step, { kind: "wait" }>;

/**
 * Polls until the script's output matches (readiness), then names the causes a time-out's suspects
 * show in their journals. It waits for what acting brought about: a probe sees nothing to change.
 */
export const waitStep: StepHandler<WaitStep> = {
  name: (step) => step.name,
  probe: async () => ({ changes: [], check: true }),
  async act(ctx, host, step) {
    let out = "";
    for (let i = 0; i < step.attempts; i++) {
      if (ctx.signal?.aborted) throw new Interrupted("interrupted");
      const r = await ctx.probe.shell(host.target, step.script, { sudo: true, check: false });
      out = r.stdout + r.stderr;
      if (step.expect.test(r.stdout)) {
        ctx.log(`${host.where}: ${step.name}: ready\n${r.stdout}`);
        return { changes: 0, check: true };
      }
      if (i < step.attempts - 1) await ctx.sleep(step.intervalMs);
    }
    ctx.log(`${host.where}: ${step.name}: not ready\n${out}`);
    const causes = step.diagnose ? await journalCauses(ctx, step.diagnose, out) : "";
    throw new UpError(
      ctx.phase,
      host.node.name,
      `${host.where}: ${step.name} not reached after ${step.attempts} attempts; last output:\n${lastLines(out)}${causes}`,
      step.hint,
    );
  },
};

/** Reads the journal of the suspects of a timed-out wait; one line per host with what it shows. */
async function journalCauses(ctx: StepContext, d: NonNullable<WaitStep["diagnose"]>, out: string) {
  const suspects = ctx.cluster.nodes.filter((n) => d.suspects(out).includes(n.name));
  const lines = await Promise.all(
    suspects.map(async (n) => {
      const j = await ctx.probe
        .shell(ctx.target(n), journalScript(d.unit), { sudo: true, check: false })
        .catch((e: Error) => ({ stdout: "", stderr: e.message }));
      ctx.log(`[${ctx.phase}] ${n.name}: journal of ${d.unit}\n${j.stdout}${j.stderr}`);
      const state = /^unit-state=(\S*)$/m.exec(j.stdout)?.[1] || "unknown";
      const seen = causesInJournal(j.stdout, d.causes);
      if (seen.length === 0)
        return `  ${n.name}: ${d.unit} is ${state}; its journal names no cause khw knows (\`journalctl -u ${d.unit}\` there)`;
      return seen.map((c) => `  ${n.name}: ${d.unit} (${state}): ${c.cause}\n    fix: ${c.fix}`).join("\n");
    }),
  );
  return lines.length ? `\nwhat the ${d.unit} journals show:\n${lines.join("\n")}` : "";
}
