import { UnitsError } from "./errors";

/** Characters that make an argument need double quotes (systemd.syntax, systemd.service "Command lines"). */
const NEEDS_QUOTES = /[\s"'\\;]|^$/;

/**
 * One argument of an Exec*= line, escaped so systemd hands exactly `arg` to the process:
 * `%` → `%%` (specifiers), `$` → `$$` (variable expansion), and — when it holds whitespace, quotes,
 * backslashes, `;` or is empty — double quotes with C escapes (`\\`, `\"`, `\n`, `\t`, …).
 */
export function quoteExecArg(arg: string): string {
  let s = arg.replaceAll("%", "%%").replaceAll("$", "$$$$");
  if (!NEEDS_QUOTES.test(arg)) return s;
  s = s
    .replaceAll("\\", "\\\\")
    .replaceAll('"', '\\"')
    .replaceAll("\n", "\\n")
    .replaceAll("\t", "\\t")
    .replaceAll("\r", "\\r")
    .replaceAll("\v", "\\v")
    .replaceAll("\f", "\\f");
  s = s.replace(/[\x00-\x08\x0e-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return `"${s}"`;
}

/**
 * A command line for an Exec*= setting: the executable then one argument per continued line
 * (` \` line ends, four-space indent), as the guide writes its units. The executable must be absolute.
 */
export function renderExecCommand(argv: readonly string[], field = "execStart"): string {
  const [exe, ...args] = argv;
  if (exe === undefined || !exe.startsWith("/")) {
    throw new UnitsError(
      "INVALID_ARGUMENT",
      `${field}[0]`,
      `'${exe ?? ""}' is not an absolute executable path`,
      "name the binary by absolute path, e.g. /usr/local/bin/etcd",
    );
  }
  if (/[\s"'\\%$]/.test(exe)) {
    throw new UnitsError(
      "INVALID_ARGUMENT",
      `${field}[0]`,
      `'${exe}' has characters systemd would not take literally in an executable path`,
      "install the binary under a plain path",
    );
  }
  return [exe, ...args.map(quoteExecArg)].join(" \\\n    ");
}

const C_ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  v: "\v",
  f: "\f",
  a: "\x07",
  b: "\b",
  "\\": "\\",
  '"': '"',
  "'": "'",
  s: " ",
};

/**
 * Splits an Exec*= value (continuation lines already joined or not) into argv the way systemd does
 * (extract_first_word with unquoting and C unescaping, then `%%` and `$$` unescaped). Specifiers other
 * than `%%` and variable references other than `$$` are rejected: this package never emits them.
 */
export function parseExecCommand(value: string): string[] {
  const text = value.replace(/\\\n/g, " ");
  const out: string[] = [];
  let i = 0;
  const fail = (m: string): never => {
    throw new UnitsError("INVALID_EXEC_LINE", "execStart", m, "render command lines with renderExecCommand");
  };
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let word = "";
    let quote: string | undefined;
    let any = false;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (quote === undefined && /\s/.test(c)) break;
      any = true;
      if (c === "\\") {
        const n = text[++i];
        if (n === undefined) fail("trailing backslash");
        if (n === "x") {
          word += String.fromCharCode(Number.parseInt(text.slice(i + 1, i + 3), 16));
          i += 2;
        } else if (C_ESCAPES[n!] !== undefined) word += C_ESCAPES[n!];
        else fail(`unknown escape \\${n}`);
      } else if (quote !== undefined && c === quote) quote = undefined;
      else if (quote === undefined && (c === '"' || c === "'")) quote = c;
      else word += c;
    }
    if (quote !== undefined) fail("unbalanced quoting");
    if (!any) continue;
    if (/%[^%]/.test(word.replaceAll("%%", ""))) fail(`specifier in '${word}'`);
    if (/\$[^$]/.test(word.replaceAll("$$", "")) || /\$$/.test(word.replaceAll("$$", "")))
      fail(`variable in '${word}'`);
    out.push(word.replaceAll("%%", "%").replaceAll("$$", "$"));
  }
  return out;
}
