import { formatIssues, SpecError } from "@khw/spec";
import { Command, CommanderError } from "commander";
import { registerBundle } from "./commands/bundle";
import { registerDay2 } from "./commands/day2";
import { registerExplain } from "./commands/explain";
import { registerGen } from "./commands/gen";
import { registerGuide } from "./commands/guide";
import { registerInit } from "./commands/init";
import { registerLab } from "./commands/lab";
import { registerSchema } from "./commands/schema";
import { registerUp } from "./commands/up";
import { registerValidate } from "./commands/validate";
import { CliError, EXIT } from "./errors";
import { colors, type Io } from "./io";
import { VERSION } from "./version";

/** Builds the command tree. Each command registers itself; adding one is one line here. */
export function buildProgram(io: Io): Command {
  const program = new Command("khw")
    .description(
      "Kubernetes the hard way, by one command: every certificate, kubeconfig and unit explicit, pushed over SSH.",
    )
    .version(VERSION, "-v, --version")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} });
  registerInit(program, io);
  registerValidate(program, io);
  registerSchema(program, io);
  registerGen(program, io);
  registerUp(program, io);
  registerDay2(program, io);
  registerLab(program, io);
  registerBundle(program, io);
  registerGuide(program, io);
  registerExplain(program, io);
  for (const cmd of program.commands)
    cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} });
  return program;
}

/** Runs khw with argv (without node and script) and returns the exit code. Never throws. */
export async function main(argv: string[], io: Io): Promise<number> {
  const c = colors(io);
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" ||
        e.code === "commander.version" ||
        e.code === "commander.help"
      )
        return EXIT.ok;
      io.stderr(
        `${c.red("error:")} ${e.message.replace(/^error: /, "")}\n(run \`khw ${argv[0] && !argv[0].startsWith("-") ? `${argv[0]} ` : ""}--help\` for usage)\n`,
      );
      return EXIT.usage;
    }
    if (e instanceof SpecError) {
      const errors = e.issues.filter((i) => i.severity === "error");
      io.stderr(
        `${c.red("error:")} ${e.file ?? "the cluster spec"} is invalid (${errors.length} problem${errors.length === 1 ? "" : "s"}):\n${formatIssues(e.issues, e.file)}\n`,
      );
      return EXIT.invalidSpec;
    }
    if (e instanceof CliError) {
      if (e.message)
        io.stderr(`${c.red("error:")} ${e.message}${e.hint ? `\n  ${c.dim("fix:")} ${e.hint}` : ""}\n`);
      return e.exitCode;
    }
    io.stderr(
      `${c.red("internal error")} (a bug in khw; please report it with this output):\n${(e as Error)?.stack ?? String(e)}\n`,
    );
    return EXIT.failure;
  }
}
