export {
  binariesForNode,
  FILE_CATALOGUE,
  type FileContext,
  type FileDefinition,
  type ReadFile,
  SERVICE_CATALOGUE,
  type ServiceDefinition,
  type ServiceName,
  serviceFiles,
  type UnitOptions,
  unitFilesForNode,
  unitFilesFromCluster,
} from "./catalogue";
export {
  assertEncryptionKey,
  cniBridgeConfig,
  cniLoopbackConfig,
  containerdConfig,
  encryptionConfig,
  type KubeletConfigInput,
  kubeletConfig,
  kubeProxyConfig,
  kubeSchedulerConfig,
  modulesLoadConfig,
  sysctlConfig,
} from "./configs";
export { UnitsError, type UnitsErrorCode } from "./errors";
export { parseExecCommand, quoteExecArg, renderExecCommand } from "./exec";
export {
  clusterNode,
  etcdUnitFromCluster,
  kubeApiserverUnitFromCluster,
  kubeControllerManagerUnitFromCluster,
  kubeletConfigFromCluster,
  kubeletUnitFromCluster,
} from "./from-cluster";
export { BINARY_PATHS, PATHS, PKI_PATHS, UNIT_DIR } from "./paths";
export { flags, renderUnit, type ServiceUnit } from "./unit";
export {
  type ApiserverUnitInput,
  type ControllerManagerUnitInput,
  containerdUnit,
  type EtcdUnitInput,
  etcdUnit,
  type KubeletUnitInput,
  kubeApiserverUnit,
  kubeControllerManagerUnit,
  kubeletUnit,
  kubeProxyUnit,
  kubeSchedulerUnit,
} from "./units";
export {
  assertUpgradeAllowed,
  clusterAtVersion,
  type FileChange,
  type HostUpgrade,
  type PlanUpgradeOptions,
  planUpgrade,
  type SettingChange,
  type SkewCheck,
  type SkewRule,
  type UpgradePlan,
  type UpgradeStep,
} from "./upgrade";
export {
  assertSupportedKubernetes,
  hasSetting,
  parseVersion,
  SUPPORTED_KUBERNETES,
  VERSION_TABLE,
  type Version,
  type VersionedSetting,
} from "./versions";
