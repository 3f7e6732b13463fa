// Everything of @khw/spec that loads no zod: the cluster model and its checks, the node layout, the phases,
// the defaults, the errors and how `khw init` renders a spec. index.ts adds the zod schema and what is
// built on it (loadCluster, parseClusterYaml, the JSON Schema). The khw CLI's bundle takes its static
// imports of @khw/spec from here and the zod parts only through `await import("@khw/spec")`, so a command
// loads zod only when a spec has a problem to explain (see apps/cli/tsup.config.ts).

export { MAX_YAML_TOKENS, type ParseOptions } from "./_yaml-doc";
export { artifactLocation, type BinaryArtifact, binaryArtifacts, type ChecksumSource } from "./binaries";
export {
  API_PORT,
  type Cluster,
  type ClusterNode,
  ETCD_CLIENT_PORT,
  ETCD_PEER_PORT,
  type EtcdMember,
  isDnsLabel,
  nodesFor,
  resolveCluster,
  VIRTUALBOX_NAT_CIDR,
  validateClusterSpec,
} from "./cluster";
export { defaultClusterSpecInput, VAGRANT_NODES } from "./defaults";
export * from "./enums";
export {
  escapeControl,
  type FormatOptions,
  formatIssues,
  formatPath,
  KhwError,
  MAX_PRINTED_ISSUES,
  SpecError,
  type SpecIssue,
} from "./errors";
export { ADMIN_HOST, type GeneratedFile } from "./generated-file";
export {
  BINARY_INSTALL_PATHS,
  type BinaryName,
  binaryPath,
  certPath,
  cniPluginPath,
  keyPath,
  NODE_DIRS,
  NODE_FILES,
  type NodeDir,
  type PkiDir,
  unitPath,
} from "./layout";
export { PHASE_NAMES, type PhaseName } from "./phases";
export { CLUSTER_SCHEMA_URL, renderClusterYaml } from "./render";
export type {
  ClusterSpec,
  ClusterSpecInput,
  KeyAlgorithm,
  KubeletCredentials,
  NodeSpec,
  Role,
} from "./schema";
export {
  isSupportedContainerd,
  isSupportedKubernetes,
  RESERVED_NODE_NAMES,
  SUPPORTED_VERSIONS,
} from "./supported";
export type { LoadedCluster } from "./yaml";
