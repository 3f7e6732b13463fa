// `khw up --explain` / `--step`: before each phase, the chapter's explanation and manual commands;
// with --step, a pause (Enter) between phases to look at the hosts. Hooked into the runner's
// `beforePhase`; the words come from the same guide as `khw guide`.
import { createInterface } from "node:readline";
import type { Cluster } from "@khw/spec/core";
import { UsageError } from "../errors";
import type { PhaseDefinition } from "../up/phases";
import { buildGuide } from "./build";
import { en } from "./chapters/en/index";
import { explainPhase } from "./explain";

/** Where --step reads Enter from (a terminal); injectable for tests. */
export interface StepInput {
  isTTY: boolean;
  waitForEnter(prompt: string, signal?: AbortSignal): Promise<void>;
}

/** Standard input, when it is a terminal. */
export function processStepInput(): StepInput {
  return {
    isTTY: process.stdin.isTTY === true,
    waitForEnter: (prompt, signal) =>
      new Promise<void>((resolve) => {
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        const done = () => {
          rl.close();
          resolve();
        };
        signal?.addEventListener("abort", done, { once: true });
        rl.question(prompt, done);
      }),
  };
}

export interface UpHookOptions {
  explain?: boolean;
  step?: boolean;
  signal?: AbortSignal;
  /** Where explanations go (stdout; stderr with --json). */
  say: (text: string) => void;
  input?: StepInput;
}

/**
 * The runner's `beforePhase` for --explain / --step, or undefined without either. Refuses --step
 * without a terminal on standard input (nothing could press Enter).
 */
export function upExplainHook(
  cluster: Cluster,
  options: UpHookOptions,
): ((phase: PhaseDefinition, index: number) => Promise<void>) | undefined {
  if (!options.explain && !options.step) return undefined;
  const input = options.input ?? processStepInput();
  if (options.step && !input.isTTY) {
    throw new UsageError(
      "--step waits for Enter between phases, but standard input is not a terminal",
      "run `khw up --step` in a terminal; without one use `khw up --explain` (no pauses) or `khw explain PHASE`",
    );
  }
  const guide = options.explain ? buildGuide(cluster, en) : undefined;
  return async (phase, index) => {
    if (options.step && index > 0) {
      await input.waitForEnter(
        `\nnext: ${phase.name}. Look around the hosts first (\`khw lab ssh HOST\` in the lab, or ssh), then press Enter to go on: `,
        options.signal,
      );
    }
    if (guide) options.say(`\n${explainPhase(guide, phase.name, { brief: true })}\n\n`);
  };
}
