import { KhwError } from "@khw/spec/core";

/** Stable, machine-readable codes of every error this package throws. */
export type KubeconfigErrorCode =
  | "INVALID_PEM"
  | "INVALID_BOOTSTRAP_TOKEN"
  | "MISSING_INPUT"
  | "INVALID_KUBECONFIG"
  | "UNKNOWN_NODE";

/** Every error of @khw/kubeconfig: a `code`, a message that names the field, and a hint (the khw error shape). */
export class KubeconfigError extends KhwError<KubeconfigErrorCode> {
  declare readonly hint: string;
  /** The input field at fault, e.g. `caPem` or `clusters[1].name`. */
  get field(): string {
    return this.path;
  }
  constructor(code: KubeconfigErrorCode, field: string, message: string, hint: string) {
    super("KubeconfigError", code, field, message, hint);
  }
}
