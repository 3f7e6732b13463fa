import { closest, distance } from "fastest-levenshtein";
import { globalRegistry, type z } from "zod";
import { quoteValue } from "./_show";
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

/** The first `examples` entry of the schema at `path` (set with `.meta({ examples })`), if any. */
function exampleAt(schema: z.ZodType, path: readonly PropertyKey[]): string | undefined {
  type S = { _zod: { def: Def } };
  const chain = (s: S): S[] => {
    const out = [s];
    let d = s._zod.def;
    while (d.innerType || (d.type === "pipe" && d.in)) {
      const next = (d.innerType ?? d.in)!;
      out.push(next);
      d = next._zod.def;
    }
    return out;
  };
  let here = chain(schema as unknown as S);
  for (const seg of path) {
    const def = here.at(-1)!._zod.def;
    if (typeof seg === "number" && def.type === "array" && def.element) here = chain(def.element);
    else if (typeof seg === "string" && def.type === "object" && def.shape?.[seg])
      here = chain(def.shape[seg]);
    else return undefined;
  }
  for (const s of here) {
    const examples = globalRegistry.get(s as unknown as z.ZodType)?.examples;
    if (Array.isArray(examples) && examples.length > 0) return String(examples[0]);
  }
  return undefined;
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
  if (typeof v === "string") return looksLikeSecretDescription(v);
  return `${typeof v} ${String(v)}`;
}

function looksLikeSecretDescription(v: string): string {
  const q = quoteValue(v);
  return q.startsWith("'") ? `the string ${q}` : q;
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
          hint:
            value === undefined
              ? `add ${formatPath(path) || "it"} (${expected})`
              : `write ${expected} here${value === null ? " (an empty value is null)" : ""}`,
        });
        break;
      }
      case "invalid_value": {
        const value = valueAt(input, path);
        const allowed = issue.values.map((v) => String(v));
        // Suggest only a near miss (a prefix, a typo), never the least-far of unrelated words.
        const text = typeof value === "string" && value !== "" ? value : undefined;
        const prefixed = text && allowed.find((a) => a.startsWith(text) || text.startsWith(a));
        const nearest = text && allowed.length ? closest(text, allowed) : undefined;
        const guess =
          prefixed ||
          (text && nearest && distance(text, nearest) <= Math.max(3, Math.floor(nearest.length / 2))
            ? nearest
            : undefined);
        const oneOf = allowed.length === 1 ? allowed[0]! : `one of ${allowed.join(", ")}`;
        out.push({
          ...base,
          path: formatPath(path),
          code: value === undefined ? "required" : "invalid-value",
          message:
            value === undefined ? `is required (${oneOf})` : `must be ${oneOf}, not ${describe(value)}`,
          hint: guess ? `did you mean '${guess}'?` : `write ${oneOf}`,
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
          hint: `use ${big ? "at most" : "at least"} ${limit}${unit}`,
        });
        break;
      }
      default: {
        const value = valueAt(input, path);
        const example = exampleAt(schema, path);
        out.push({
          ...base,
          path: formatPath(path),
          code: issue.code.replaceAll("_", "-"),
          message: value === undefined ? issue.message : `${describe(value)} ${issue.message}`,
          ...(example !== undefined ? { hint: `e.g. ${example}` } : {}),
        });
      }
    }
  }
  return out;
}
