import { buildBundle } from "./build";
import { fetchBundle } from "./fetch";
import { verifyBundle } from "./verify";

export type { BuildBundleOptions, BundleResult } from "./build";
export { buildBundle, ETCD_PACKAGES, etcdLdflags, kubernetesLdflags } from "./build";
export { bundleCacheDir, defaultBundlesDir, defaultCacheRoot } from "./cache";
export type { BundleErrorCode } from "./errors";
export { BundleError } from "./errors";
export type { FetchBundleOptions } from "./fetch";
export { fetchBundle, OFFICIAL_BASE_URL } from "./fetch";
export type { GoMod, GoReplace, GoRequire, KubernetesBuildModule } from "./go-mod";
export { kubernetesBuildModule, parseGoMod, stagingVersion } from "./go-mod";
export type {
  BundleArch,
  BundleLayout,
  BundleVersions,
  EtcdBinary,
  KubernetesBinary,
  KubernetesBinaryPath,
} from "./layout";
export {
  bundleCacheKey,
  bundleLayout,
  bundlePaths,
  bundleUrl,
  ETCD_BINARIES,
  KUBERNETES_BINARIES,
  parseEtcdVersion,
  parseKubernetesVersion,
} from "./layout";
export type { BundleManifest } from "./manifest";
export { MANIFEST_FILE, parseManifest, parseSha256File, parseSha256Sums } from "./manifest";
export type { BinaryVersion, BundleIssue, BundleVerification, VerifyBundleOptions } from "./verify";
export { formatBundleIssues, verifyBundle } from "./verify";

/** The three operations behind `khw bundle build|fetch|verify`, for the CLI to wire. */
export const bundleCommandHandlers = {
  build: buildBundle,
  fetch: fetchBundle,
  verify: verifyBundle,
} as const;
export { PINNED_VERSIONS } from "./pinned";
export type { BuildRuntimeOptions, RuntimeFile, RuntimeVersions } from "./runtime";
export {
  buildRuntime,
  CNI_PLUGINS,
  FLANNEL_CNI_PLUGIN_MODULE,
  runtimeLayout,
  runtimeMissing,
  runtimePresent,
} from "./runtime";
export type { BundleServer, ServeBundleOptions } from "./serve";
export { serveBundle } from "./serve";
