import { closest, distance } from "fastest-levenshtein";
import type { z } from "zod";
import { formatPath, type SpecIssue } from "./errors";

// Minimal view of zod's internal definitions, enough to find the keys an object accepts.
interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  element?: { _zod: { def: Def } };
  innerType?: { _zod: { def: Def } };
  in?: { _zod: { def: Def } };
}

function unwrap(def: Def): Def {
  let d = def;
  while (d.innerType || (d.type === "pipe" && d.in)) d = (d.innerType ?? d.in)!._zod.def;
  return d;
}

/** The keys the object schema at `path` accepts. */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let def = unwrap((schema as unknown as { _zod: { def: Def } })._zod.def);
  for (const seg of path) {
    if (typeof seg === "number" && def.type === "array" && def.element) def = unwrap(def.element._zod.def);
    else if (typeof seg === "string" && def.type === "object" && def.shape?.[seg])
      def = unwrap(def.shape[seg]._zod.def);
    else return [];
  }
  return def.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `the string '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  return `${typeof v} ${String(v)}`;
}

const TYPE_NAMES: Record<string, string> = {
  object: "a mapping",
  array: "a list",
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
};

/** Turns zod's issues into spec issues with field paths, plain messages and fixes. */
export function fromZodIssues(
  schema: z.ZodType,
  input: unknown,
  issues: readonly z.core.$ZodIssue[],
): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const issue of issues) {
    const path = issue.path as PropertyKey[];
    const base = { severity: "error" as const };
    switch (issue.code) {
      case "unrecognized_keys": {
        const known = knownKeysAt(schema, path);
        for (const key of issue.keys) {
          const guess = known.length ? closest(key, known) : undefined;
          const close =
            guess !== undefined && distance(key, guess) <= Math.max(2, Math.floor(key.length / 3));
          out.push({
            ...base,
            path: formatPath([...path, key]),
            code: "unknown-key",
            message: `unknown key '${key}'`,
            hint: close ? `did you mean '${guess}'?` : `known keys here: ${known.join(", ")}`,
          });
        }
        break;
      }
      case "invalid_type": {
        const value = valueAt(input, path);
        const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
        out.push({
          ...base,
          path: formatPath(path),
          code: value === undefined ? "required" : "invalid-type",
          message:
            value === undefined ? `is required (${expected})` : `must be ${expected}, not ${describe(value)}`,
        });
        break;
      }
      case "invalid_value": {
        const value = valueAt(input, path);
        const allowed = issue.values.map((v) => String(v));
        const guess = typeof value === "string" && allowed.length ? closest(value, allowed) : undefined;
        out.push({
          ...base,
          path: formatPath(path),
          code: "invalid-value",
          message: `must be one of ${allowed.join(", ")}, not ${describe(value)}`,
          ...(guess ? { hint: `did you mean '${guess}'?` } : {}),
        });
        break;
      }
      case "too_big":
      case "too_small": {
        const value = valueAt(input, path);
        const big = issue.code === "too_big";
        const limit = big
          ? (issue as { maximum: number | bigint }).maximum
          : (issue as { minimum: number | bigint }).minimum;
        const generic = /^Too (big|small)/.test(issue.message);
        const unit = issue.origin === "array" ? " entries" : issue.origin === "string" ? " characters" : "";
        out.push({
          ...base,
          path: formatPath(path),
          code: issue.code.replaceAll("_", "-"),
          message: generic
            ? `must be at ${big ? "most" : "least"} ${limit}${unit}, not ${describe(value)}`
            : issue.message,
        });
        break;
      }
      default: {
        const value = valueAt(input, path);
        out.push({
          ...base,
          path: formatPath(path),
          code: issue.code.replaceAll("_", "-"),
          message: value === undefined ? issue.message : `${describe(value)} ${issue.message}`,
        });
      }
    }
  }
  return out;
}
