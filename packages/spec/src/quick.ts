// `@khw/spec/quick`: the quick path for a spec that is valid, without zod (zod and the schema it builds
// are most of what `khw validate` spent starting up). The schema check is ajv's standalone code compiled
// at build time from the same JSON Schema zod generates (_quick-check.generated.js); the defaults come
// from that schema; the semantic checks are the ones parseClusterYaml runs. Anything else (a problem of
// any kind) returns undefined: parseClusterYaml then tells every problem, with zod's messages.
import { schema, validate } from "./_quick-check.generated";
import { type ParseOptions, parseYamlValue, placeIssues } from "./_yaml-doc";
import { resolveCluster, validateClusterSpec } from "./cluster";
import type { SpecIssue } from "./errors";
import type { ClusterSpec } from "./schema";
import type { LoadedCluster } from "./yaml";

export type { ParseOptions } from "./_yaml-doc";
export type { Cluster, ClusterNode } from "./cluster";
export {
  escapeControl,
  type FormatOptions,
  formatIssues,
  MAX_PRINTED_ISSUES,
  type SpecIssue,
} from "./errors";
export type { LoadedCluster } from "./yaml";

/** The part of a JSON Schema node the defaults walk reads (the generator refuses any other keyword). */
interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  default?: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

/**
 * The value zod's parse returns for a value the schema accepts: every absent field with a default gets it
 * (an object default, like zod's prefault, is walked for its own defaults), fields in the schema's order.
 */
function withDefaults(node: SchemaNode, value: unknown): unknown {
  if (node.anyOf) {
    const t = typeOf(value);
    const branch = node.anyOf.find((b) =>
      [b.type].flat().some((x) => x === t || (x === "number" && t === "integer")),
    );
    return branch ? withDefaults(branch, value) : value;
  }
  if (node.properties && isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, sub] of Object.entries(node.properties)) {
      if (Object.hasOwn(value, key) && value[key] !== undefined) out[key] = withDefaults(sub, value[key]);
      else if ("default" in sub) out[key] = withDefaults(sub, structuredClone(sub.default));
    }
    return out;
  }
  if (node.items && Array.isArray(value)) return value.map((v) => withDefaults(node.items!, v));
  // A record of free-form fields (extraConfig): a copy, as zod's record returns.
  if (isRecord(value)) return { ...value };
  return value;
}

/**
 * Parses cluster.yaml text into the same LoadedCluster as parseClusterYaml when the spec is valid (warnings
 * placed at their line and column), or returns undefined when it is not: then call parseClusterYaml for
 * every problem. Never throws for bad input.
 */
export function quickParseClusterYaml(text: string, options: ParseOptions = {}): LoadedCluster | undefined {
  try {
    const { value, doc, lc } = parseYamlValue(text, options);
    return quickCheck(value, (issues) => placeIssues(issues, doc, lc));
  } catch {
    return undefined;
  }
}

/**
 * The same LoadedCluster as loadCluster for a spec given as a value (the built-in default, a spec built in
 * code) when it is valid, or undefined when it is not: then call loadCluster for every problem.
 */
export function quickLoadCluster(value: unknown): LoadedCluster | undefined {
  try {
    return quickCheck(value, (issues) => issues);
  } catch {
    return undefined;
  }
}

function quickCheck(value: unknown, place: (issues: SpecIssue[]) => SpecIssue[]): LoadedCluster | undefined {
  if (!validate(value)) return undefined;
  const spec = withDefaults(schema as SchemaNode, value) as ClusterSpec;
  const issues = place(validateClusterSpec(spec));
  if (issues.some((i) => i.severity === "error")) return undefined;
  const { cluster } = resolveCluster(spec);
  return { spec, cluster, warnings: issues };
}
