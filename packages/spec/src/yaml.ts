import { Document, isMap, isScalar, type LineCounter } from "yaml";
import { type ParseOptions, parseYamlValue, placeIssues } from "./_yaml-doc";
import { fromZodIssues } from "./_zod-issues";
import { type Cluster, resolveCluster, validateClusterSpec } from "./cluster";
import { SpecError, type SpecIssue } from "./errors";
import { type ClusterSpec, type ClusterSpecInput, ClusterSpecSchema } from "./schema";

export { MAX_YAML_TOKENS, type ParseOptions } from "./_yaml-doc";

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

export const CLUSTER_SCHEMA_URL = "https://unpkg.com/@khw/spec/cluster.schema.json";

const COMMENTS: Record<string, string> = {
  name: " The cluster's name (kubeconfig cluster entry, etcd cluster token).",
  nodes:
    " Every host. Roles: controlplane (apiserver, controller-manager, scheduler, etcd), worker\n (containerd, kubelet, kube-proxy), loadbalancer (HAProxy in front of the control planes).\n SSH goes through the ports Vagrant forwards on 127.0.0.1, as the Vagrantfile sets them up.",
  network:
    " Pod and service ranges must not overlap each other, the nodes' network or 10.0.2.0/24 (VirtualBox NAT).",
  versions: " Pinned component versions.",
  pki: " Certificates: key algorithm rsa-2048 | rsa-4096 | ecdsa-p256; validity in days.",
  binaries:
    " Where binaries come from: official (dl.k8s.io, GitHub releases), mirror (same paths under a\n base URL) or bundle (a local directory made by `khw bundle build`). Every file is SHA-256 checked.",
  addons:
    " podNetwork: weave (archived upstream, not exercised in the lab) | flannel (recommended) |\n bridge-routes (plain bridge CNI + static routes); dns: CoreDNS on/off; images: flannel and smoke-test images.",
  ssh: " Host keys: strict | accept-new (record on first contact) | insecure. Paths are relative to this file.",
};

/** Renders a spec as YAML with explanatory comments (what `khw init` writes). */
export function renderClusterYaml(
  spec: ClusterSpecInput | ClusterSpec,
  options: { comments?: boolean } = {},
): string {
  const doc = new Document(spec);
  const withComments = options.comments ?? true;
  if (withComments && isMap(doc.contents)) {
    for (const pair of doc.contents.items) {
      if (isScalar(pair.key)) {
        const c = COMMENTS[String(pair.key.value)];
        if (c) pair.key.commentBefore = c;
      }
    }
    doc.commentBefore = ` yaml-language-server: $schema=${CLUSTER_SCHEMA_URL}\n khw cluster spec. Validate with \`khw validate\`; every field is described by \`khw schema\`.`;
  }
  return doc.toString({ lineWidth: 0, indentSeq: true });
}
