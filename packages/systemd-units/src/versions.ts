import { SUPPORTED_VERSIONS } from "@khw/spec/core";
import { parse as parseSemver } from "semver";
import { UnitsError } from "./errors";

/** A `vMAJOR.MINOR.PATCH` or `MAJOR.MINOR.PATCH` version (a pre-release such as `-rc.1` counts as its release), parsed. */
export interface Version {
  major: number;
  minor: number;
  patch: number;
}

export function parseVersion(text: string, field = "version"): Version {
  // semver, as @khw/bundle reads versions: `v1.35.0-rc.1` is v1.35.0's flags and fields
  const v = text.includes("+") || text.trim() !== text ? null : parseSemver(text);
  if (!v) {
    throw new UnitsError(
      "UNSUPPORTED_VERSION",
      field,
      `'${text}' is not a version`,
      "write it like v1.34.4 (or 2.1.4 for containerd)",
    );
  }
  return { major: v.major, minor: v.minor, patch: v.patch };
}

const cmp = (a: Version, b: Version) => a.major - b.major || a.minor - b.minor || a.patch - b.patch;

/**
 * Kubernetes minors whose flags and config fields this package was checked against. Stated once, in
 * @khw/spec (whose validation refuses other versions); VERSION_TABLE below covers this range.
 */
export const SUPPORTED_KUBERNETES = SUPPORTED_VERSIONS.kubernetes;

/**
 * The version table: settings that exist, changed or went away within the supported range. Each
 * entry is data; `since`/`until` are the first version that has it and the first that no longer does.
 */
export interface VersionedSetting {
  id: string;
  component: "kubelet" | "kube-apiserver" | "kube-controller-manager" | "kube-proxy" | "containerd";
  /** A command-line flag, or a field of the component's config file. */
  kind: "flag" | "config-field";
  name: string;
  since?: string;
  until?: string;
  /** What khw does about it. */
  note: string;
}

export const VERSION_TABLE: readonly VersionedSetting[] = [
  {
    id: "kubelet-fail-cgroup-v1",
    component: "kubelet",
    kind: "config-field",
    name: "failCgroupV1",
    since: "v1.31.0",
    note: "KubeletConfiguration field (KEP-4569); default false until 1.34, true from 1.35 (KEP-5573). Emitted as false only when allowCgroupV1 is asked for, and only where it exists.",
  },
  {
    id: "kubelet-container-runtime-endpoint-flag",
    component: "kubelet",
    kind: "flag",
    name: "--container-runtime-endpoint",
    until: "v1.27.0",
    note: "deprecated in favour of the containerRuntimeEndpoint config field (1.27); khw only sets the field.",
  },
  {
    id: "kubelet-pod-infra-container-image-flag",
    component: "kubelet",
    kind: "flag",
    name: "--pod-infra-container-image",
    until: "v1.35.0",
    note: "removed in 1.35; the sandbox image belongs to containerd's config. Never emitted.",
  },
  {
    id: "containerd-cni-bin-dirs",
    component: "containerd",
    kind: "config-field",
    name: "plugins.'io.containerd.cri.v1.runtime'.cni.bin_dirs",
    since: "2.1.0",
    note: "containerd 2.1 deprecates cni.bin_dir for the list bin_dirs; khw writes bin_dirs from 2.1 on and bin_dir before.",
  },
];

/** Whether a setting of the table exists in a version. Unknown ids throw (a typo must not silently drop a flag). */
export function hasSetting(id: string, version: string): boolean {
  const s = VERSION_TABLE.find((e) => e.id === id);
  if (!s)
    throw new UnitsError(
      "INVALID_ARGUMENT",
      "id",
      `'${id}' is not in VERSION_TABLE`,
      "use an id of VERSION_TABLE",
    );
  const v = parseVersion(version);
  if (s.since !== undefined && cmp(v, parseVersion(s.since)) < 0) return false;
  if (s.until !== undefined && cmp(v, parseVersion(s.until)) >= 0) return false;
  return true;
}

/** Throws for Kubernetes versions older than the supported range (their flags were not checked). */
export function assertSupportedKubernetes(version: string, field = "versions.kubernetes"): Version {
  const v = parseVersion(version, field);
  if (v.major !== 1 || cmp(v, parseVersion(SUPPORTED_KUBERNETES.from)) < 0) {
    throw new UnitsError(
      "UNSUPPORTED_VERSION",
      field,
      `Kubernetes ${version} is older than ${SUPPORTED_KUBERNETES.from}, the oldest version whose flags khw knows`,
      `use a version from ${SUPPORTED_KUBERNETES.from} through ${SUPPORTED_KUBERNETES.through}.x`,
    );
  }
  return v;
}
