import { KhwError } from "@khw/spec/core";

/** Stable, machine-readable codes of every error this package throws. */
export type UnitsErrorCode =
  | "INVALID_ARGUMENT"
  | "INVALID_ENCRYPTION_KEY"
  | "UNSUPPORTED_VERSION"
  | "UNKNOWN_NODE"
  | "INVALID_EXEC_LINE"
  | "INVALID_ETCD_OUTPUT";

/** Every error of @khw/systemd-units: a `code`, a message that names the field, and a hint (the khw error shape). */
export class UnitsError extends KhwError<UnitsErrorCode> {
  declare readonly hint: string;
  /** The input field at fault, e.g. `encryptionKey` or `execStart[0]`. */
  get field(): string {
    return this.path;
  }
  constructor(code: UnitsErrorCode, field: string, message: string, hint: string) {
    super("UnitsError", code, field, message, hint);
  }
}
