/** One problem found in a cluster spec. */
export interface SpecIssue {
  /** Where: `nodes[2].address`, or "" for the whole document. */
  path: string;
  /** Stable machine-readable code, e.g. `duplicate-address`. */
  code: string;
  /** What is wrong. */
  message: string;
  /** How to fix it. */
  hint?: string;
  severity: "error" | "warning";
  /** 1-based position in the YAML source, when the spec came from text. */
  line?: number;
  column?: number;
}

/** How many problems `formatIssues` prints unless told otherwise; the rest are counted. */
export const MAX_PRINTED_ISSUES = 50;

/** Thrown when a spec has at least one error; carries every issue (errors and warnings). */
export class SpecError extends Error {
  readonly code = "INVALID_SPEC";
  readonly issues: readonly SpecIssue[];
  readonly file: string | undefined;
  /** The khw error shape (code, message, path, hint): the file; each issue carries its own path and hint. */
  get path(): string | undefined {
    return this.file;
  }
  readonly hint: string | undefined = undefined;
  constructor(issues: readonly SpecIssue[], file?: string) {
    const errors = issues.filter((i) => i.severity === "error");
    super(
      `${escapeControl(file ?? "cluster spec")}: ${errors.length} problem${errors.length === 1 ? "" : "s"}\n${formatIssues(errors, file)}`,
    );
    this.name = "SpecError";
    this.issues = issues;
    this.file = file;
  }
}

// C0 and C1 control characters, DEL, line/paragraph separators and the bidirectional overrides:
// anything that can move the cursor, talk to the terminal (OSC 52 clipboard writes) or reorder text.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** Shows control characters as escapes (`\x1b`, `\n`, `\u202e`) so text is safe to print on a terminal. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (ch) => {
    const code = ch.charCodeAt(0);
    return (
      NAMED[ch] ??
      (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`)
    );
  });
}

export interface FormatOptions {
  /** Print at most this many issues, then `… and N more` (default 50). */
  limit?: number;
}

/**
 * Formats issues one per line: `cluster.yaml:12:14 nodes[2].address: … (fix: …)`. Control characters in
 * any part are escaped; past `limit` issues one line counts the rest.
 */
export function formatIssues(
  issues: readonly SpecIssue[],
  file?: string,
  options: FormatOptions = {},
): string {
  const limit = options.limit ?? MAX_PRINTED_ISSUES;
  const lines = issues.slice(0, limit).map((i) => {
    const where = [file, i.line, i.column].filter((x) => x !== undefined).join(":");
    const prefix = i.severity === "warning" ? "warning: " : "";
    const loc = [where, i.path].filter(Boolean).join(" ");
    return escapeControl(`${loc ? `${loc}: ` : ""}${prefix}${i.message}${i.hint ? ` (fix: ${i.hint})` : ""}`);
  });
  const rest = issues.length - lines.length;
  if (rest > 0) lines.push(`… and ${rest} more problem${rest === 1 ? "" : "s"}`);
  return lines.join("\n");
}

/** `["nodes", 2, "address"]` → `nodes[2].address`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/**
 * The one error shape of khw's libraries: a stable `code`, a message that names what is at fault,
 * `path` (the input field, certificate or node at fault) and `hint` (how to fix it), all as data.
 * Each package's error class (PkiError, KubeconfigError, UnitsError, AddonsError) extends it with its
 * own codes; the CLI formats any of them once.
 */
export class KhwError<Code extends string = string> extends Error {
  readonly code: Code;
  /** Where the problem is: the input field, certificate id or node at fault. */
  readonly path: string;
  readonly hint: string | undefined;
  constructor(name: string, code: Code, path: string, message: string, hint?: string) {
    super(`${path}: ${message}${hint ? ` (fix: ${hint})` : ""}`);
    this.name = name;
    this.code = code;
    this.path = path;
    this.hint = hint;
  }
}
