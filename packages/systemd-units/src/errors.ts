/** Stable, machine-readable codes of every error this package throws. */
export type UnitsErrorCode =
  | "INVALID_ARGUMENT"
  | "INVALID_ENCRYPTION_KEY"
  | "UNSUPPORTED_VERSION"
  | "UNKNOWN_NODE"
  | "INVALID_EXEC_LINE"
  | "INVALID_ETCD_OUTPUT";

/** Every error of @khw/systemd-units: a `code`, a message that names the field, and a hint. */
export class UnitsError extends Error {
  readonly code: UnitsErrorCode;
  /** The input field at fault, e.g. `encryptionKey` or `execStart[0]`. */
  readonly field: string;
  readonly hint: string;
  /** Where the problem is (the khw error shape: code, message, path, hint). */
  get path(): string {
    return this.field;
  }
  constructor(code: UnitsErrorCode, field: string, message: string, hint: string) {
    super(`${field}: ${message} (fix: ${hint})`);
    this.name = "UnitsError";
    this.code = code;
    this.field = field;
    this.hint = hint;
  }
}
