import type { Command } from "commander";
import type { Io } from "../io";
import { outputFormat, printStructured } from "../output";
import { VERSION } from "../version";

export function registerVersion(program: Command, io: Io): void {
  program
    .command("version")
    .description("Print khw's version; with -o yaml|json also Node's and the pinned component versions")
    .option("-o, --output <format>", "yaml or json: also the component versions of the default spec")
    .action(async (opts: { output?: string }) => {
      const format = outputFormat(opts);
      if (!format) {
        io.stdout(`khw ${VERSION}\n`);
        return;
      }
      const { defaultClusterSpecInput } = await import("@khw/spec");
      await printStructured(io, format, {
        khw: VERSION,
        node: process.version,
        components: defaultClusterSpecInput().versions,
      });
    });
}
