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

/** Thrown when a spec has at least one error; carries every issue (errors and warnings). */
export class SpecError extends Error {
  readonly code = "INVALID_SPEC";
  readonly issues: readonly SpecIssue[];
  readonly file: string | undefined;
  constructor(issues: readonly SpecIssue[], file?: string) {
    const errors = issues.filter((i) => i.severity === "error");
    super(
      `${file ?? "cluster spec"}: ${errors.length} problem${errors.length === 1 ? "" : "s"}\n${formatIssues(errors, file)}`,
    );
    this.name = "SpecError";
    this.issues = issues;
    this.file = file;
  }
}

/** Formats issues one per line: `cluster.yaml:12:14 nodes[2].address: … (fix: …)`. */
export function formatIssues(issues: readonly SpecIssue[], file?: string): string {
  return issues
    .map((i) => {
      const where = [file, i.line, i.column].filter((x) => x !== undefined).join(":");
      const prefix = i.severity === "warning" ? "warning: " : "";
      const loc = [where, i.path].filter(Boolean).join(" ");
      return `${loc ? `${loc}: ` : ""}${prefix}${i.message}${i.hint ? ` (fix: ${i.hint})` : ""}`;
    })
    .join("\n");
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
