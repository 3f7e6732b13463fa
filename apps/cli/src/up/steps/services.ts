import type { Step } from "../phases";
import type { Change, Observation, StepHandler } from "./types";

type ServicesStep = Extract<Step, { kind: "services" }>;

/** One systemctl action, in the order they are carried out. */
interface ServiceAction {
  verb: "daemon-reload" | "enable" | "restart" | "start";
  service?: string;
}

export interface ServicesObservation extends Observation {
  actions: ServiceAction[];
}

const argv = (a: ServiceAction, noBlock: boolean): string[] =>
  a.verb === "daemon-reload"
    ? ["systemctl", "daemon-reload"]
    : a.verb === "enable"
      ? ["systemctl", "enable", a.service!]
      : ["systemctl", a.verb, ...(noBlock ? ["--no-block"] : []), a.service!];

/** The plan line, and the owed action it carries out. */
const change = (a: ServiceAction): Change => ({
  what: a.verb === "daemon-reload" ? "systemctl daemon-reload" : `systemctl ${a.verb} ${a.service}`,
  ...(a.verb === "daemon-reload" ? { settles: { daemonReload: true } } : {}),
  ...(a.verb === "restart" ? { settles: { restart: [a.service!] } } : {}),
});

/**
 * The phase's services: daemon-reload when owed, enable khw's units, restart those owed a restart
 * (their files or binaries changed), start inactive ones.
 */
export const servicesStep: StepHandler<ServicesStep, ServicesObservation> = {
  name: (step) => `services ${step.services.map((s) => s.name).join(", ")}`,
  async probe(ctx, host, step) {
    const owed = ctx.state.pending[host.node.name] ?? {};
    const ask = async (what: "is-enabled" | "is-active", name: string, unreached: number) =>
      host.unreached
        ? unreached
        : (
            await ctx.probe.exec(host.target, ["systemctl", what, "--quiet", name], {
              sudo: true,
              check: false,
            })
          ).code;
    const seen: ServicesObservation = { actions: [], changes: [] };
    const add = (a: ServiceAction) => {
      seen.actions.push(a);
      seen.changes.push(host.found(change(a)));
    };
    if (owed.daemonReload) add({ verb: "daemon-reload" });
    for (const svc of step.services) {
      if (svc.enable && (await ask("is-enabled", svc.name, 1)) !== 0)
        add({ verb: "enable", service: svc.name });
      if (owed.restart?.includes(svc.name)) {
        add({ verb: "restart", service: svc.name });
        continue;
      }
      if ((await ask("is-active", svc.name, 3)) !== 0 && svc.enable)
        add({ verb: "start", service: svc.name });
    }
    return seen;
  },
  async act(ctx, host, step, seen) {
    for (const [i, a] of seen.actions.entries()) {
      await ctx.executor.exec(host.target, argv(a, !!step.noBlock), { sudo: true });
      const settles = seen.changes[i]!.settles;
      if (settles) ctx.settle(host.node.name, settles);
    }
    return { changes: seen.actions.length };
  },
};
