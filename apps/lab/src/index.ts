export {
  BASE_PACKAGES,
  BASE_RECIPE,
  type BaseImage,
  baseRecipeHash,
  debianSources,
  ensureBaseImage,
} from "./base-image";
export {
  defaultLabSpec,
  hasLabImages,
  LAB_ADDON_IMAGES,
  LAB_IMAGES_DIR,
  LAB_KUBE_PROXY_CONFIG,
  LAB_KUBELET_CONFIG,
  LAB_ONLY_SETTINGS,
  type LabOnlySetting,
  type LabSpecInput,
  labAddons,
  labClusterSpec,
  labImageRefs,
  prepareLabImages,
  renderLabClusterYaml,
} from "./cluster-yaml";
export { isLabError, LabError, type LabErrorCode } from "./errors";
export {
  type HostLimit,
  hostLimitNeeds,
  INOTIFY_INSTANCES_PER_HOST,
  inotifyInstancesInUse,
  shortHostLimits,
} from "./host-limits";
export { findLeftovers, knownLabNames, type LabDownOptions, type LabDownReport, labDown } from "./lab-down";
export { type LabHostActionResult, labStartHost, labStopHost } from "./lab-host";
export { acquireLabLock, LAB_LOCK_FILE, type LabLockOptions } from "./lab-lock";
export {
  type LabExecResult,
  type LabSshOptions,
  type LabTarget,
  labExec,
  labSsh,
  labSshArgs,
  resolveLabHost,
  shellQuote,
} from "./lab-ssh";
export { type LabHostStatus, type LabStatus, type LabStatusOptions, labStatus } from "./lab-status";
export { type LabUpOptions, type LabUpResult, labUp } from "./lab-up";
export { assertPrerequisites, missingPrerequisites, type Prerequisite } from "./preflight";
export { DEFAULT_LAB_NAME, type LabState, labStateDir, readLabState } from "./state";
export {
  DEFAULT_LAB_TOPOLOGY,
  LAB_GATEWAY,
  LAB_MIRROR_PORT,
  type LabHost,
  type LabRole,
  type LabTopologyInput,
  labHosts,
} from "./topology";
