import { UsageError } from "./errors";
import type { Io } from "./io";

export type OutputFormat = "json" | "yaml";

/** `-o, --output json|yaml` of the read commands, beside their `--json`. */
export const OUTPUT_OPTION = ["-o, --output <format>", "print the result as json or yaml"] as const;

/** The structured format asked for (`--json` or `-o json|yaml`), or undefined for text. */
export function outputFormat(opts: { json?: boolean; output?: string }): OutputFormat | undefined {
  if (opts.output !== undefined) {
    const f = opts.output.toLowerCase();
    if (f !== "json" && f !== "yaml")
      throw new UsageError(`-o: unknown output format '${opts.output}'`, "use -o json or -o yaml");
    if (opts.json && f !== "json") throw new UsageError("--json and -o yaml contradict each other");
    return f;
  }
  return opts.json ? "json" : undefined;
}

type YamlModule = typeof import("yaml");

/**
 * yaml's `stringify`, loaded on demand. Bundled into the built CLI, a dynamic import of the CommonJS
 * yaml package yields only `default` (`khw version -o yaml` failed with "stringify is not a function").
 */
export async function loadYamlStringify(): Promise<YamlModule["stringify"]> {
  const m = (await import("yaml")) as YamlModule & { default?: YamlModule };
  return m.stringify ?? m.default!.stringify;
}

/** Prints a value as indented JSON or as YAML (the yaml library loads only here). */
export async function printStructured(io: Io, format: OutputFormat, value: unknown): Promise<void> {
  if (format === "json") {
    io.stdout(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  const stringify = await loadYamlStringify();
  io.stdout(stringify(value, { lineWidth: 0 }));
}
