/** Every error the lab raises on purpose: a stable `code`, the step and host it concerns, and the fix. */
export type LabErrorCode =
  | "LAB_PREREQUISITES_MISSING"
  | "LAB_BASE_BUILD_FAILED"
  | "LAB_CONFLICT"
  | "LAB_NETWORK_FAILED"
  | "LAB_HOST_START_FAILED"
  | "LAB_HOST_NOT_READY"
  | "LAB_MIRROR_FAILED"
  | "LAB_CLUSTER_YAML_EXISTS"
  | "LAB_SPEC_INVALID"
  | "LAB_NOT_FOUND"
  | "LAB_CLEANUP_INCOMPLETE"
  | "LAB_COMMAND_FAILED"
  | "LAB_HOST_LIMITS";

export interface LabErrorOptions {
  step: string;
  host?: string;
  hint: string;
  cause?: unknown;
}

export class LabError extends Error {
  override readonly name = "LabError";
  readonly code: LabErrorCode;
  readonly step: string;
  readonly host: string | undefined;
  readonly hint: string;
  /** The host it concerns, else the step (the khw error shape: code, message, path, hint). */
  get path(): string {
    return this.host ?? this.step;
  }

  constructor(code: LabErrorCode, what: string, options: LabErrorOptions) {
    const where = options.host ? `[${options.step}] ${options.host}: ` : `[${options.step}] `;
    super(
      `${where}${what}\nFix: ${options.hint}`,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.code = code;
    this.step = options.step;
    this.host = options.host;
    this.hint = options.hint;
  }
}

export function isLabError(value: unknown): value is LabError {
  return value instanceof LabError;
}
