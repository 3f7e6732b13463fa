export {
  CA_PATH,
  isSecretKubeconfig,
  KUBECONFIG_CATALOGUE,
  KUBECONFIG_PATHS,
  type KubeconfigAudience,
  type KubeconfigCredentials,
  type KubeconfigDefinition,
  type KubeconfigSecrets,
  type KubeconfigServer,
  kubeconfigFilesFromCluster,
  kubeconfigFor,
  kubeconfigPath,
  kubeconfigServiceFiles,
  kubeconfigTargets,
  PKI_DIR,
} from "./catalogue";
export { KubeconfigError, type KubeconfigErrorCode } from "./errors";
export { type KubeconfigEntryRef, type MergeOptions, type MergeResult, mergeKubeconfig } from "./merge";
export {
  assertBootstrapToken,
  BOOTSTRAP_TOKEN_PATTERN,
  BOOTSTRAP_USER,
  bootstrapTokenKubeconfig,
  certPathKubeconfig,
  DEFAULT_CLUSTER_NAME,
  DEFAULT_CONTEXT_NAME,
  embeddedCertKubeconfig,
  type Kubeconfig,
  type KubeconfigBase,
  type KubeconfigCluster,
  type KubeconfigContext,
  type KubeconfigUser,
} from "./model";
export { parseKubeconfig, parseKubeconfigObject } from "./parse";
export { renderKubeconfig, toKubeconfigObject } from "./render";
