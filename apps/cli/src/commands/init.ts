import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import { defaultClusterSpecInput, renderClusterYaml } from "@khw/spec";
import type { Command } from "commander";
import { CliError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";
import type { Io } from "../io";
import { DEFAULT_SPEC_FILE } from "../spec-file";

export function registerInit(program: Command, io: Io): void {
  program
    .command("init")
    .description("Write the default cluster spec (the Vagrant lab of Kubernetes the Hard Way), with comments")
    .option("-o, --output <file>", "where to write it", DEFAULT_SPEC_FILE)
    .option("--force", "overwrite an existing file", false)
    .action((opts: { output: string; force: boolean }) => {
      const path = resolve(io.cwd, opts.output);
      const shown = relative(io.cwd, path) || path;
      if (existsSync(path) && !opts.force) {
        throw new CliError(
          "EXISTS",
          `${shown} exists already`,
          "pass --force to overwrite it, or -o another file",
        );
      }
      writeFileAtomic(path, renderClusterYaml(defaultClusterSpecInput()));
      io.stdout(
        `wrote ${shown}: 2 control planes, 2 workers, 1 load balancer (the Vagrant lab). Check it with \`khw validate\`.\n`,
      );
    });
}
