/** Stable, machine-readable codes of every error this package throws. */
export type KubeconfigErrorCode =
  | "INVALID_PEM"
  | "INVALID_BOOTSTRAP_TOKEN"
  | "MISSING_INPUT"
  | "INVALID_KUBECONFIG"
  | "UNKNOWN_NODE";

/** Every error of @khw/kubeconfig: a `code`, a message that names the field, and a hint. */
export class KubeconfigError extends Error {
  readonly code: KubeconfigErrorCode;
  /** The input field at fault, e.g. `caPem` or `clusters[1].name`. */
  readonly field: string;
  readonly hint: string;
  /** Where the problem is (the khw error shape: code, message, path, hint). */
  get path(): string {
    return this.field;
  }
  constructor(code: KubeconfigErrorCode, field: string, message: string, hint: string) {
    super(`${field}: ${message} (fix: ${hint})`);
    this.name = "KubeconfigError";
    this.code = code;
    this.field = field;
    this.hint = hint;
  }
}
