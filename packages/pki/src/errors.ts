/** Stable, machine-readable codes of every error this package throws. */
export type PkiErrorCode =
  | "INVALID_PEM"
  | "INVALID_KEY"
  | "UNSUPPORTED_KEY"
  | "CA_KEY_MISMATCH"
  | "CA_KEY_MISSING"
  | "CA_MISSING"
  | "INVALID_CATALOGUE"
  | "UNKNOWN_CERTIFICATE"
  | "INVALID_SAN";

/** Every error of @khw/pki: a `code`, a message naming the certificate or field, and a hint. */
export class PkiError extends Error {
  readonly code: PkiErrorCode;
  /** The certificate id (catalogue entry) or input field at fault, e.g. `ca` or `existing.admin.key`. */
  readonly subject: string;
  readonly hint: string;
  /** Where the problem is (the khw error shape: code, message, path, hint). */
  get path(): string {
    return this.subject;
  }
  constructor(code: PkiErrorCode, subject: string, message: string, hint: string) {
    super(`${subject}: ${message} (fix: ${hint})`);
    this.name = "PkiError";
    this.code = code;
    this.subject = subject;
    this.hint = hint;
  }
}
