import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CLUSTER_SCHEMA_URL, defaultClusterSpecInput, renderClusterYaml } from "@khw/spec/core";
import type { Command } from "commander";
import { CliError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";
import type { Io } from "../io";
import { DEFAULT_SPEC_FILE } from "../spec-file";

declare const __KHW_SPEC_VERSION__: string | undefined;

/** The JSON Schema URL of the @khw/spec this CLI runs with, so an editor checks against the same version. */
export function versionedSchemaUrl(): string {
  // The build bundles @khw/spec and writes its version in; from source, ask the installed package.
  const version =
    typeof __KHW_SPEC_VERSION__ === "string"
      ? __KHW_SPEC_VERSION__
      : (createRequire(import.meta.url)("@khw/spec/package.json") as { version: string }).version;
  return CLUSTER_SCHEMA_URL.replace("/@khw/spec/", `/@khw/spec@${version}/`);
}

/** The Vagrantfile of the default spec's five hosts: shipped in dist/ (published) or the repository root. */
export function vagrantfileText(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "Vagrantfile"), join(here, "../../../../Vagrantfile")];
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new CliError("NO_VAGRANTFILE", `this khw has no Vagrantfile (looked in ${candidates.join(", ")})`);
  return readFileSync(found, "utf8");
}

export function registerInit(program: Command, io: Io): void {
  program
    .command("init")
    .description("Write the default cluster spec (the Vagrant lab of Kubernetes the Hard Way), with comments")
    .option("-o, --output <file>", "where to write it", DEFAULT_SPEC_FILE)
    .option("--vagrant", "also write the Vagrantfile of the same hosts next to it", false)
    .option("--force", "overwrite existing files", false)
    .action((opts: { output: string; force: boolean; vagrant: boolean }) => {
      const path = resolve(io.cwd, opts.output);
      const shown = relative(io.cwd, path) || path;
      const vagrantPath = join(dirname(path), "Vagrantfile");
      const targets = [path, ...(opts.vagrant ? [vagrantPath] : [])];
      const existing = targets.filter((p) => existsSync(p));
      if (existing.length && !opts.force) {
        throw new CliError(
          "EXISTS",
          `${existing.map((p) => relative(io.cwd, p) || p).join(" and ")} exist${existing.length === 1 ? "s" : ""} already`,
          "pass --force to overwrite, or -o another file",
        );
      }
      const vagrantfile = opts.vagrant ? vagrantfileText() : undefined;
      writeFileAtomic(
        path,
        renderClusterYaml(defaultClusterSpecInput()).replace(CLUSTER_SCHEMA_URL, versionedSchemaUrl()),
      );
      if (vagrantfile !== undefined) writeFileAtomic(vagrantPath, vagrantfile);
      io.stdout(
        `wrote ${shown}${vagrantfile !== undefined ? ` and ${relative(io.cwd, vagrantPath) || vagrantPath}` : ""}: 2 control planes, 2 workers, 1 load balancer (the Vagrant lab). Check it with \`khw validate\`${vagrantfile !== undefined ? "; `vagrant up` starts the hosts" : ""}.\n`,
      );
    });
}
