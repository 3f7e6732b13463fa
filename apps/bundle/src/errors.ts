/** Codes of every failure @khw/bundle reports; the CLI maps them to exit codes. */
export type BundleErrorCode =
  | "BAD_VERSION"
  | "UNSUPPORTED_ARCH"
  | "GO_NOT_FOUND"
  | "GO_FAILED"
  | "GO_MOD_PARSE"
  | "DOWNLOAD_FAILED"
  | "CHECKSUM_MISMATCH"
  | "CHECKSUM_MISSING"
  | "TAR_INVALID"
  | "BUNDLE_INVALID";

/** A failure with a stable `code`, a message naming what failed, and a hint for the fix. */
export class BundleError extends Error {
  override readonly name = "BundleError";
  readonly code: BundleErrorCode;
  readonly hint: string;
  /** The file or directory it concerns, when there is one (the khw error shape: code, message, path, hint). */
  readonly path: string | undefined;

  constructor(
    code: BundleErrorCode,
    message: string,
    hint: string,
    options?: { cause?: unknown; path?: string | undefined },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = hint;
    this.path = options?.path;
  }
}
