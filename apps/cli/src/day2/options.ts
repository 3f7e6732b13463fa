import { UsageError } from "../errors";
import { colors, type Io } from "../io";
import { type LoadedSpec, loadSpecFile } from "../spec-file";

/** `-f, --file`, as every day-2 command takes it. */
export const SPEC_OPTION = [
  "-f, --file <file>",
  "the cluster spec (default: ./cluster.yaml, else the built-in default)",
] as const;

/** Loads the spec for a day-2 command; says so on stderr when the built-in default is used. */
export async function loadDay2Spec(io: Io, file: string | undefined): Promise<LoadedSpec> {
  const loaded = await loadSpecFile(io.cwd, file, { allowDefault: true });
  if (loaded.file === undefined) {
    io.stderr(
      `${colors(io).yellow("note:")} no cluster.yaml in ${io.cwd}: using the built-in default spec\n`,
    );
  }
  return loaded;
}

/** A commander parser for a whole-number option (a usage error otherwise). */
export function wholeNumber(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
      throw new UsageError(`${name} must be a whole number, got '${value}'`);
    }
    return Number(value);
  };
}
