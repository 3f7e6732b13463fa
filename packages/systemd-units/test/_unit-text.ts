import { parseExecCommand } from "../src/index";

/** The ExecStart= argv of a rendered unit, continuation lines joined, unquoted the way systemd does. */
export function execStartOf(unitText: string): string[] {
  const joined = unitText.replace(/\\\n/g, " ");
  const line = joined.split("\n").find((l) => l.startsWith("ExecStart="));
  if (!line) throw new Error("no ExecStart= line");
  return parseExecCommand(line.slice("ExecStart=".length));
}

/** `--name=value` flags of an argv as a map (bare flags map to ""). Repeated flags throw. */
export function flagMap(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of argv.slice(1)) {
    const m = /^--([^=]+)(?:=(.*))?$/s.exec(a);
    if (!m) throw new Error(`not a --flag: ${a}`);
    if (out.has(m[1]!)) throw new Error(`repeated flag --${m[1]}`);
    out.set(m[1]!, m[2] ?? "");
  }
  return out;
}
