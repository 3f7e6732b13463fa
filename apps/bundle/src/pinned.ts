import type { BundleVersions } from "./layout";

/** The versions khw pins (@khw/spec's defaults): what tests must run against, not a machine's own binaries. */
export const PINNED_VERSIONS: BundleVersions = { kubernetesVersion: "v1.34.4", etcdVersion: "v3.6.16" };
