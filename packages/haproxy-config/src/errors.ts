/** One problem in a haproxy model: where (`backends[0].servers[1].port`), what, and how to fix it. */
export interface HaproxyConfigIssue {
  path: string;
  /** Stable machine-readable code, e.g. `duplicate-server`. */
  code: string;
  message: string;
  hint?: string;
}

export type HaproxyConfigErrorCode = "INVALID_HAPROXY_CONFIG" | "NO_LOAD_BALANCER";

/** Thrown when a model cannot be rendered into a valid haproxy.cfg, or a cluster has no load balancer. */
export class HaproxyConfigError extends Error {
  readonly code: HaproxyConfigErrorCode;
  readonly issues: readonly HaproxyConfigIssue[];
  /** How to fix the first problem, for a one-line CLI message. */
  readonly hint: string | undefined;
  /** Where the first problem is (the khw error shape: code, message, path, hint). */
  get path(): string | undefined {
    return this.issues[0]?.path || undefined;
  }
  constructor(code: HaproxyConfigErrorCode, issues: readonly HaproxyConfigIssue[]) {
    super(
      issues.length === 1
        ? formatHaproxyIssue(issues[0]!)
        : `${issues.length} problems in the HAProxy configuration:\n${issues.map(formatHaproxyIssue).join("\n")}`,
    );
    this.name = "HaproxyConfigError";
    this.code = code;
    this.issues = issues;
    this.hint = issues.find((i) => i.hint)?.hint;
  }
}

/** `backends[0].servers[1].port: 70000 is not a TCP port (fix: use 1-65535)`. */
export function formatHaproxyIssue(i: HaproxyConfigIssue): string {
  return `${i.path ? `${i.path}: ` : ""}${i.message}${i.hint ? ` (fix: ${i.hint})` : ""}`;
}
