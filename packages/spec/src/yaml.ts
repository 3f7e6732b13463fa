import type { Document, LineCounter } from "yaml";
import { type ParseOptions, parseYamlValue, placeIssues } from "./_yaml-doc";
import { fromZodIssues } from "./_zod-issues";
import { type Cluster, resolveCluster, validateClusterSpec } from "./cluster";
import { defaultClusterSpecInput } from "./defaults";
import { SpecError, type SpecIssue } from "./errors";
import { type ClusterSpec, ClusterSpecSchema } from "./schema";

export { MAX_YAML_TOKENS, type ParseOptions } from "./_yaml-doc";
export { CLUSTER_SCHEMA_URL, renderClusterYaml } from "./render";

export interface LoadedCluster {
  spec: ClusterSpec;
  cluster: Cluster;
  /** Problems that do not stop the cluster from working (e.g. an even number of etcd members). */
  warnings: SpecIssue[];
}

/** The one issue for a document that is not a mapping of cluster fields. Never quotes the content. */
function notAMapping(value: unknown): SpecIssue {
  const what = Array.isArray(value)
    ? "a list"
    : typeof value === "string"
      ? /-----BEGIN [A-Z0-9 ]+-----/.test(value)
        ? "a PEM block (a key or certificate)"
        : "a single text value"
      : typeof value === "number" || typeof value === "bigint"
        ? "a number"
        : typeof value === "boolean"
          ? "true or false"
          : "empty";
  return {
    path: "",
    code: "not-a-mapping",
    message: `the document is ${what}, not a mapping of cluster fields (content not shown)`,
    severity: "error",
    hint: "pass the cluster spec (cluster.yaml); `khw init` writes one",
  };
}

/** Parses an already-decoded value (e.g. from JSON) into a validated cluster. Throws SpecError. */
export function loadCluster(value: unknown, options: ParseOptions = {}): LoadedCluster {
  return check(value, options);
}

function check(value: unknown, options: ParseOptions, doc?: Document, lc?: LineCounter): LoadedCluster {
  const place = (issues: SpecIssue[]) => (doc && lc ? placeIssues(issues, doc, lc) : issues);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new SpecError([notAMapping(value)], options.file);
  }
  const parsed = ClusterSpecSchema.safeParse(value);
  if (!parsed.success) {
    const issues = fromZodIssues(ClusterSpecSchema, value, parsed.error.issues);
    throw new SpecError(place(issues), options.file);
  }
  const issues = place(validateClusterSpec(parsed.data));
  if (issues.some((i) => i.severity === "error")) throw new SpecError(issues, options.file);
  const { cluster } = resolveCluster(parsed.data);
  return { spec: parsed.data, cluster, warnings: issues };
}

/** Parses cluster.yaml text (YAML or JSON) into a validated cluster; every error carries line:column. */
export function parseClusterYaml(text: string, options: ParseOptions = {}): LoadedCluster {
  const { value, doc, lc } = parseYamlValue(text, options);
  return check(value, options, doc, lc);
}

/** The default spec with every default applied. */
export function defaultClusterSpec(): ClusterSpec {
  return ClusterSpecSchema.parse(defaultClusterSpecInput());
}
