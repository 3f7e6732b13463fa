export type AddonsErrorCode =
  | "INVALID_BOOTSTRAP_TOKEN"
  | "BOOTSTRAP_TOKEN_REQUIRED"
  | "INVALID_EXPIRATION"
  | "INVALID_OBJECT"
  | "INVALID_INPUT"
  | "BAD_RANDOM_SOURCE";

/** A problem with an addon's input: `code` for programs, `field` for where, `hint` for the fix. */
export class AddonsError extends Error {
  readonly code: AddonsErrorCode;
  /** The input field at fault, e.g. `bootstrapToken.id`. */
  readonly field: string;
  readonly hint: string | undefined;
  /** Where the problem is (the khw error shape: code, message, path, hint). */
  get path(): string {
    return this.field;
  }
  constructor(code: AddonsErrorCode, field: string, message: string, hint?: string) {
    super(`${field}: ${message}${hint ? ` (fix: ${hint})` : ""}`);
    this.name = "AddonsError";
    this.code = code;
    this.field = field;
    this.hint = hint;
  }
}
