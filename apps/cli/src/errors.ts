/** Exit codes of every khw command. */
export const EXIT = { ok: 0, failure: 1, usage: 2, invalidSpec: 3 } as const;

/** An error the user can act on: printed as one line plus a hint, never a stack trace. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super("USAGE", message, hint, EXIT.usage);
  }
}
