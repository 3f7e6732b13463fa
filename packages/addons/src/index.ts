export {
  APISERVER_TO_KUBELET_BINDING,
  APISERVER_TO_KUBELET_ROLE,
  type ApiserverToKubeletInput,
  apiserverToKubeletObjects,
  KUBELET_CLIENT_USER,
} from "./apiserver-to-kubelet";
export { base64, fromBase64 } from "./base64";
export {
  BOOTSTRAP_TOKEN_ID_PATTERN,
  BOOTSTRAP_TOKEN_PATTERN,
  BOOTSTRAP_TOKEN_SECRET_PATTERN,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  BOOTSTRAPPERS_GROUP,
  type BootstrapToken,
  bootstrapTokenExpiration,
  bootstrapTokenSecret,
  checkBootstrapToken,
  formatBootstrapToken,
  generateBootstrapToken,
  isBootstrapToken,
  NODES_GROUP,
  parseBootstrapToken,
  rfc3339,
  type TlsBootstrapInput,
  tlsBootstrapBindings,
  tlsBootstrapObjects,
  WORKER_BOOTSTRAPPERS_GROUP,
} from "./bootstrap-token";
export {
  COREDNS_IMAGE_REPOSITORY,
  type CorednsInput,
  type CorednsObject,
  corednsObjects,
  corefile,
} from "./coredns";
export { AddonsError, type AddonsErrorCode } from "./errors";
export {
  FLANNEL_CNI_PLUGIN_IMAGE,
  FLANNEL_DAEMONSET,
  FLANNEL_IMAGE,
  FLANNEL_NAMESPACE,
  type FlannelInput,
  type FlannelObject,
  flannelCniConf,
  flannelNetConf,
  flannelObjects,
} from "./flannel";
export {
  type CertificateRequestInfo,
  KUBELET_SERVING_SIGNER,
  KUBELET_SERVING_USAGES,
  parseCertificateRequest,
  reviewKubeletServingCsr,
  reviewKubeletServingCsrFromCluster,
  type ServingCsrNode,
  type ServingCsrReview,
} from "./kubelet-serving-csr";
export {
  ADDONS,
  type AddonManifest,
  type AddonName,
  type AddonOptions,
  addonFilesFromCluster,
  addonManifestsFromCluster,
  defaultSmokeTestNodePort,
  MANIFESTS_DIR,
} from "./manifests";
export {
  type CertificateSigningRequest,
  type ClusterRole,
  type ClusterRoleBinding,
  type Complete,
  type ConfigMap,
  type DaemonSet,
  type Deployment,
  type KubeObject,
  MANAGED_BY_LABEL,
  type Namespace,
  type ObjectMeta,
  type Pod,
  RBAC_API_GROUP,
  type Role,
  type RoleBinding,
  type Secret,
  type Service,
  type ServiceAccount,
} from "./objects";
export { canonicalObject, renderObjectsYaml, renderObjectYaml } from "./render-yaml";
export {
  BUSYBOX_IMAGE,
  NGINX_IMAGE,
  SMOKE_TEST_SECRET,
  type SmokeTestInput,
  type SmokeTestObject,
  smokeTestObjects,
} from "./smoke-test";
export {
  WEAVE_IMAGE_REPOSITORY,
  type WeaveNetInput,
  type WeaveNetObject,
  weaveNetObjects,
} from "./weave-net";
