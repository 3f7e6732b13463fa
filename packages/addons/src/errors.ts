import { KhwError } from "@khw/spec/core";

export type AddonsErrorCode =
  | "INVALID_BOOTSTRAP_TOKEN"
  | "BOOTSTRAP_TOKEN_REQUIRED"
  | "INVALID_EXPIRATION"
  | "INVALID_OBJECT"
  | "INVALID_INPUT"
  | "BAD_RANDOM_SOURCE";

/** A problem with an addon's input: `code` for programs, `field` for where, `hint` for the fix. */
export class AddonsError extends KhwError<AddonsErrorCode> {
  /** The input field at fault, e.g. `bootstrapToken.id`. */
  get field(): string {
    return this.path;
  }
  constructor(code: AddonsErrorCode, field: string, message: string, hint?: string) {
    super("AddonsError", code, field, message, hint);
  }
}
