import type { Step } from "../phases";
import { adminKubeconfigStep } from "./admin-kubeconfig";
import { applyStep } from "./apply";
import { approveServingCsrsStep } from "./approve-serving-csrs";
import { factsStep } from "./facts";
import { installStep } from "./install";
import { runStep } from "./run";
import { servicesStep } from "./services";
import type { StepHandler } from "./types";
import { uploadStep } from "./upload";
import { waitStep } from "./wait";

/** Every step kind's handler: a step kind without one does not compile. */
export const STEP_HANDLERS = {
  facts: factsStep,
  upload: uploadStep,
  install: installStep,
  run: runStep,
  services: servicesStep,
  wait: waitStep,
  apply: applyStep,
  "approve-serving-csrs": approveServingCsrsStep,
  "admin-kubeconfig": adminKubeconfigStep,
} satisfies { [K in Step["kind"]]: StepHandler<Extract<Step, { kind: K }>> };

/** The handler of a step (one lookup; the record above is what makes it total). */
export function handlerFor(step: Step): StepHandler<Step> {
  return STEP_HANDLERS[step.kind] as StepHandler<Step>;
}

export { fetchReleaseFiles } from "./install";
export type { Change, Observation, Outcome, SeenFiles, StepContext, StepHandler, StepHost } from "./types";
