import { parseReleaseVersion } from "@khw/host-io";
import { BundleError } from "./errors";

/** The Kubernetes binaries of a bundle, in the order the official release lists them. */
export const KUBERNETES_BINARIES = [
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubelet",
  "kube-proxy",
  "kubectl",
] as const;
export type KubernetesBinary = (typeof KUBERNETES_BINARIES)[number];

/** The binaries inside the official etcd release tarball. */
export const ETCD_BINARIES = ["etcd", "etcdctl", "etcdutl"] as const;
export type EtcdBinary = (typeof ETCD_BINARIES)[number];

/** Only linux/amd64 is built and tested today. */
export type BundleArch = "amd64";

/** The versions a bundle holds. */
export interface BundleVersions {
  /** e.g. `v1.34.4` */
  kubernetesVersion: string;
  /** e.g. `v3.6.16` */
  etcdVersion: string;
  arch?: BundleArch;
}

/** One Kubernetes binary: where it lives and where its `.sha256` (bare hex digest) lives. */
export interface KubernetesBinaryPath {
  name: KubernetesBinary;
  /** e.g. `dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubelet` */
  path: string;
  /** `path + ".sha256"` */
  sha256Path: string;
}

/**
 * Every path of a bundle, relative to the bundle directory, always with `/` separators.
 * Each path is the official download URL with `https://` stripped, so the official URL of a file
 * is `"https://" + path` and a mirror serves it at `mirrorBase + "/" + path`.
 */
export interface BundleLayout {
  kubernetesVersion: string;
  etcdVersion: string;
  arch: BundleArch;
  kubernetes: KubernetesBinaryPath[];
  etcd: {
    /** e.g. `github.com/etcd-io/etcd/releases/download/v3.6.16/etcd-v3.6.16-linux-amd64.tar.gz` */
    tarball: string;
    /** `SHA256SUMS` beside the tarball: `<hex>  <filename>` lines. */
    sha256sums: string;
    /** The tarball's file name, as listed in SHA256SUMS. */
    tarballName: string;
    /** The top directory inside the tarball, e.g. `etcd-v3.6.16-linux-amd64`. */
    topDir: string;
    /** Paths inside the tarball: `etcd-v3.6.16-linux-amd64/etcd` … */
    members: { name: EtcdBinary; path: string }[];
  };
  /** Every file of the bundle (binaries, tarball and checksum files), sorted. */
  files: string[];
}

/** A release tag (`v<major>.MINOR.PATCH`, pre-releases too) of the given major, parsed by semver. */
function releaseTag(
  version: string,
  major: number,
): { minor: number; patch: number; pre: string } | undefined {
  const v = version.startsWith("v") ? parseReleaseVersion(version) : undefined;
  return v?.major === major ? { minor: v.minor, patch: v.patch, pre: v.pre } : undefined;
}

/** Checks a Kubernetes version (`v1.34.4`) and returns its parts. */
export function parseKubernetesVersion(version: string): { minor: number; patch: number; pre: string } {
  const v = releaseTag(version, 1);
  if (!v) {
    throw new BundleError(
      "BAD_VERSION",
      `Kubernetes version "${version}" is not of the form v1.MINOR.PATCH`,
      'Give the release tag, with the leading "v", e.g. "v1.34.4".',
    );
  }
  return v;
}

/** Checks an etcd version (`v3.6.16`). */
export function parseEtcdVersion(version: string): { minor: number; patch: number; pre: string } {
  const v = releaseTag(version, 3);
  if (!v) {
    throw new BundleError(
      "BAD_VERSION",
      `etcd version "${version}" is not of the form v3.MINOR.PATCH`,
      'Give the release tag, with the leading "v", e.g. "v3.6.16" (etcd v3.5 or newer).',
    );
  }
  if (v.minor < 5) {
    throw new BundleError(
      "BAD_VERSION",
      `etcd version "${version}" is older than v3.5`,
      "Kubernetes 1.34 needs etcd v3.5 or newer; pick e.g. v3.6.16.",
    );
  }
  return v;
}

function checkArch(arch: string): BundleArch {
  if (arch !== "amd64") {
    throw new BundleError(
      "UNSUPPORTED_ARCH",
      `architecture "${arch}" is not supported`,
      'Only "amd64" bundles are built and tested; omit arch or pass "amd64".',
    );
  }
  return arch;
}

/** The layout of a bundle for a version set: the single source of the paths every other part uses. */
export function bundleLayout(versions: BundleVersions): BundleLayout {
  const { kubernetesVersion: kv, etcdVersion: ev } = versions;
  parseKubernetesVersion(kv);
  parseEtcdVersion(ev);
  const arch = checkArch(versions.arch ?? "amd64");
  const kubernetes = KUBERNETES_BINARIES.map((name) => {
    const path = `dl.k8s.io/release/${kv}/bin/linux/${arch}/${name}`;
    return { name, path, sha256Path: `${path}.sha256` };
  });
  const releaseDir = `github.com/etcd-io/etcd/releases/download/${ev}`;
  const topDir = `etcd-${ev}-linux-${arch}`;
  const tarballName = `${topDir}.tar.gz`;
  const etcd = {
    tarball: `${releaseDir}/${tarballName}`,
    sha256sums: `${releaseDir}/SHA256SUMS`,
    tarballName,
    topDir,
    members: ETCD_BINARIES.map((name) => ({ name, path: `${topDir}/${name}` })),
  };
  const files = [...kubernetes.flatMap((b) => [b.path, b.sha256Path]), etcd.tarball, etcd.sha256sums].sort();
  return { kubernetesVersion: kv, etcdVersion: ev, arch, kubernetes, etcd, files };
}

/**
 * Every file path of a bundle (relative, `/`-separated, sorted). The URL of a file is
 * `base + path`, with base `https://` for the official downloads or `http://mirror/` for a mirror.
 */
export function bundlePaths(versions: BundleVersions): string[] {
  return bundleLayout(versions).files;
}

/** The URL of a bundle path under a base: `https://` (official) or a mirror such as `http://198.18.0.1:8080/`. */
export function bundleUrl(base: string, path: string): string {
  if (base.endsWith("://")) return base + path;
  return base.endsWith("/") ? base + path : `${base}/${path}`;
}

/** The cache key of a version set, e.g. `k8s-v1.34.4_etcd-v3.6.16-amd64`. */
export function bundleCacheKey(versions: BundleVersions): string {
  const layout = bundleLayout(versions);
  return `k8s-${layout.kubernetesVersion}_etcd-${layout.etcdVersion}-${layout.arch}`;
}
