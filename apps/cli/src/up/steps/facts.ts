import { FACTS_SCRIPT, parseFacts } from "../preflight";
import type { StepHandler } from "./types";

/** Preflight: the host's facts (read-only), kept for the phase's checks (runner.ts). */
export const factsStep: StepHandler<{ kind: "facts" }> = {
  name: () => "facts",
  async probe(ctx, host) {
    if (host.unreached) return { changes: [], check: true };
    const before = Date.now();
    await ctx.probe.connect(host.target);
    const r = await ctx.probe.shell(host.target, FACTS_SCRIPT, { sudo: true });
    const after = Date.now();
    ctx.log(`${host.where}: facts\n${r.stdout}`);
    ctx.facts.push(parseFacts(host.node.name, r.stdout, Math.round((before + after) / 2)));
    return { changes: [], check: true };
  },
  act: async () => ({ changes: 0, check: true }),
};
