import type { SpecError } from "@khw/spec/core";
import { Command, CommanderError, Option } from "commander";
import { CliError, EXIT, fsErrorToCliError, isKhwError, messageWithoutHint, UsageError } from "./errors";
import { colors, type Io } from "./io";
import { VERSION } from "./version";

type Register = (program: Command, io: Io) => void;

/**
 * Every top-level command and the module that registers it. A module is imported only when its
 * command runs (or for `khw --help`, completion and suggestions), so `khw --version` loads no
 * library and `khw validate` only @khw/spec: ssh2, node-forge and zod load only where they are used.
 * Adding a command is one line here; a test checks the names against what the modules register.
 */
export const COMMANDS: readonly { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ["init"], load: async () => (await import("./commands/init")).registerInit },
  { names: ["validate"], load: async () => (await import("./commands/validate")).registerValidate },
  { names: ["schema"], load: async () => (await import("./commands/schema")).registerSchema },
  { names: ["gen"], load: async () => (await import("./commands/gen")).registerGen },
  { names: ["up"], load: async () => (await import("./commands/up")).registerUp },
  {
    names: ["diagram", "kubeconfig", "certs", "status", "smoke", "reset"],
    load: async () => (await import("./commands/day2")).registerDay2,
  },
  { names: ["etcd"], load: async () => (await import("./commands/etcd")).registerEtcd },
  { names: ["node"], load: async () => (await import("./commands/node")).registerNode },
  { names: ["upgrade"], load: async () => (await import("./commands/upgrade")).registerUpgrade },
  { names: ["lab"], load: async () => (await import("./commands/lab")).registerLab },
  { names: ["bundle"], load: async () => (await import("./commands/bundle")).registerBundle },
  { names: ["guide"], load: async () => (await import("./commands/guide")).registerGuide },
  { names: ["explain"], load: async () => (await import("./commands/explain")).registerExplain },
  { names: ["version"], load: async () => (await import("./commands/version")).registerVersion },
  { names: ["completion"], load: async () => (await import("./commands/completion")).registerCompletion },
];

/** `-v, --v=N`: log verbosity (0–10), as kubectl and kubeadm take it, accepted on every command. */
function verbosityOption(): Option {
  return new Option(
    "-v, --v <level>",
    "log verbosity: 0 (default) … 10; 2 and up echo the run's log on stderr",
  ).argParser((value: string) => {
    const v = value.replace(/^=/, "");
    if (!/^\d+$/.test(v) || Number(v) > 10)
      throw new UsageError(`-v: the level must be 0 … 10, got '${value}'`);
    return Number(v);
  });
}

/** The command named on the line (skipping the global flags), or undefined. */
function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return undefined;
    if (a === "-v" || a === "--v") {
      i++; // its value
      continue;
    }
    if (!a.startsWith("-")) return a;
  }
  return undefined;
}

/** Gives every command (and sub-command) the same output, error handling and verbosity flag. */
function configureTree(cmd: Command, io: Io, isRoot: boolean): void {
  cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} });
  cmd.showSuggestionAfterError(true);
  if (!isRoot && !cmd.options.some((o) => o.long === "--v")) cmd.addOption(verbosityOption());
  for (const sub of cmd.commands) configureTree(sub, io, false);
}

/**
 * Builds the command tree for `argv`: only the module of the command named on the line, or all of them
 * when none is named (help), the name is unknown (suggestions) or completion needs the whole tree.
 */
export async function buildProgram(io: Io, argv: readonly string[] = []): Promise<Command> {
  const program = new Command("khw")
    .description(
      "Kubernetes the hard way, by one command: every certificate, kubeconfig and unit explicit, pushed over SSH.",
    )
    .version(VERSION, "--version", "print khw's version (`khw version -o yaml` adds the pinned components)")
    .addOption(verbosityOption())
    .showHelpAfterError(false);
  const word = commandWord(argv);
  const onlyVersion = word === undefined && argv.includes("--version");
  const chosen = COMMANDS.find((c) => word !== undefined && c.names.includes(word));
  const wanted = onlyVersion ? [] : chosen && word !== "completion" ? [chosen] : COMMANDS;
  const registers = await Promise.all(wanted.map((c) => c.load()));
  for (const register of registers) register(program, io);
  const { applyExamples } = onlyVersion ? { applyExamples: undefined } : await import("./help-examples");
  applyExamples?.(program);
  configureTree(program, io, true);
  program.hook("preAction", (_root, action) => {
    let level = 0;
    for (let c: Command | null = action; c; c = c.parent) level = Math.max(level, Number(c.opts()["v"] ?? 0));
    io.verbosity = level;
  });
  return program;
}

function isSpecError(e: unknown): e is SpecError {
  // By shape, not instanceof: main loads no @khw/spec (zod) unless a command does.
  return (
    e instanceof Error &&
    (e as { code?: unknown }).code === "INVALID_SPEC" &&
    Array.isArray((e as { issues?: unknown }).issues)
  );
}

/** Runs khw with argv (without node and script) and returns the exit code. Never throws. */
export async function main(argv: string[], io: Io): Promise<number> {
  try {
    const program = await buildProgram(io, argv);
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (caught) {
    return reportError(caught, io, argv);
  }
}

/**
 * Prints what went wrong and returns the exit code: usage errors, an invalid spec with every problem,
 * any khw error (code, message, path, hint) as one line and its fix; only a bug shows a stack trace.
 */
export async function reportError(caught: unknown, io: Io, argv: readonly string[] = []): Promise<number> {
  const c = colors(io);
  const e = fsErrorToCliError(caught) ?? caught; // EACCES, ENOTDIR, EROFS, …: the user's to fix
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help")
      return EXIT.ok;
    const word = commandWord(argv);
    io.stderr(
      `${c.red("error:")} ${e.message.replace(/^error: /, "")}\n(run \`khw ${word && COMMANDS.some((x) => x.names.includes(word)) ? `${word} ` : ""}--help\` for usage)\n`,
    );
    return EXIT.usage;
  }
  if (isSpecError(e)) {
    const { formatIssues } = await import("@khw/spec");
    const errors = e.issues.filter((i) => i.severity === "error");
    io.stderr(
      `${c.red("error:")} ${e.file ?? "the cluster spec"} is invalid (${errors.length} problem${errors.length === 1 ? "" : "s"}):\n${formatIssues(e.issues, e.file)}\n`,
    );
    return EXIT.invalidSpec;
  }
  // CliError and every package's error (code, message, path, hint): one format
  if (isKhwError(e)) {
    const message = messageWithoutHint(e);
    if (message)
      io.stderr(`${c.red("error:")} ${message}${e.hint ? `\n  ${c.dim("fix:")} ${e.hint}` : ""}\n`);
    return e instanceof CliError ? e.exitCode : EXIT.failure;
  }
  io.stderr(
    `${c.red("internal error")} (a bug in khw; please report it with this output):\n${(e as Error)?.stack ?? String(e)}\n`,
  );
  return EXIT.failure;
}
