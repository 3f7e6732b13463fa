import { KhwError } from "@khw/spec/core";

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

/** Every error of @khw/pki: a `code`, a message naming the certificate or field, and a hint (the khw error shape). */
export class PkiError extends KhwError<PkiErrorCode> {
  declare readonly hint: string;
  /** The certificate id (catalogue entry) or input field at fault, e.g. `ca` or `existing.admin.key`. */
  get subject(): string {
    return this.path;
  }
  constructor(code: PkiErrorCode, subject: string, message: string, hint: string) {
    super("PkiError", code, subject, message, hint);
  }
}
