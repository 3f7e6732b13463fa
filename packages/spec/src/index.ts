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
export { defaultClusterSpec, defaultClusterSpecInput, VAGRANT_NODES } from "./defaults";
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
export { clusterJsonSchema } from "./json-schema";
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
export {
  BINARY_SOURCES,
  type ClusterSpec,
  type ClusterSpecInput,
  ClusterSpecSchema,
  HOST_KEY_CHECKING,
  KEY_ALGORITHMS,
  type KeyAlgorithm,
  KUBELET_CREDENTIALS,
  type KubeletCredentials,
  type NodeSpec,
  POD_NETWORKS,
  ROLES,
  type Role,
} from "./schema";
export {
  isSupportedContainerd,
  isSupportedKubernetes,
  RESERVED_NODE_NAMES,
  SUPPORTED_VERSIONS,
} from "./supported";
export {
  CLUSTER_SCHEMA_URL,
  type LoadedCluster,
  loadCluster,
  MAX_YAML_TOKENS,
  type ParseOptions,
  parseClusterYaml,
  renderClusterYaml,
} from "./yaml";
