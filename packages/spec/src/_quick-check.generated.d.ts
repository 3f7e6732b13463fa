// The types of _quick-check.generated.js (written by `pnpm --filter @khw/spec gen:schema`).

/** Whether the value passes the spec's JSON Schema (ajv's standalone code). */
export declare function validate(data: unknown): boolean;
/** The JSON Schema it checks (annotations left out), defaults included. */
export declare const schema: unknown;
