import type { Command } from "commander";
import { UsageError } from "../errors";
import { buildGuide, en, explainPhase } from "../guide";
import type { Io } from "../io";
import { loadSpecFile } from "../spec-file";
import { PHASE_NAMES, type PhaseName } from "../up/phases";

export function registerExplain(program: Command, io: Io): void {
  program
    .command("explain")
    .description(
      "What a phase of `khw up` builds and why, and the commands that do it by hand for this cluster",
    )
    .argument("<phase>", `one of ${PHASE_NAMES.join(", ")}`)
    .option("-f, --file <file>", "the cluster spec (default: ./cluster.yaml, else the built-in default)")
    .action(async (phase: string, opts: { file?: string }) => {
      if (!(PHASE_NAMES as readonly string[]).includes(phase)) {
        throw new UsageError(`unknown phase '${phase}'`, `use one of ${PHASE_NAMES.join(", ")}`);
      }
      const loaded = await loadSpecFile(io.cwd, opts.file, { allowDefault: true });
      io.stdout(`${explainPhase(buildGuide(loaded.cluster, en), phase as PhaseName)}\n`);
    });
}
