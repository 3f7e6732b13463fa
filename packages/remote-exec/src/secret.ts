const REDACTED = "***";

/**
 * A value that must never be printed: env values, argv items (tokens in a curl header...).
 * It renders as `***` in logs, errors, JSON and `util.inspect`; only the executor reads the value.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The real value. Only call this where it goes to the remote host. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `Secret(${REDACTED})`;
  }
}

/** Marks a string as secret: `exec(host, ["curl", "-H", secret(`Authorization: Bearer ${t}`)])`. */
export function secret(value: string): Secret {
  return new Secret(value);
}

export type MaybeSecret = string | Secret;

export function reveal(value: MaybeSecret): string {
  return typeof value === "string" ? value : value.reveal();
}

export function isSecret(value: unknown): value is Secret {
  return value instanceof Secret;
}

export { REDACTED };
