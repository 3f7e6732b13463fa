import type { Cluster } from "./cluster";
import { type BinaryName, binaryPath, cniPluginPath } from "./layout";
import type { Role } from "./schema";

/** How a release file's SHA-256 is published next to it. */
export type ChecksumSource =
  /** A file holding the hex digest (dl.k8s.io's `<file>.sha256`). */
  | { kind: "digest-file"; path: string }
  /** A `sha256sum`-style list (`<hex>  <name>` lines) where the entry for `name` counts. */
  | { kind: "sums-file"; path: string; name: string };

/** One downloadable release file. Paths are the official URL without the scheme: `dl.k8s.io/release/...`. */
export interface BinaryArtifact {
  id: string;
  /** Path below the official origin, e.g. `dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubelet`. */
  path: string;
  checksum: ChecksumSource;
  /** Archive members to install, or undefined for a plain executable. */
  archive?: { format: "tar.gz"; members: Record<string, string> };
  /** Executable name(s) installed into /usr/local/bin (for archives: see members). */
  installAs: Record<string, string>;
  /** Who needs it. */
  roles: Role[];
}

/**
 * The release files a cluster needs, in the official layout. A mirror or a bundle directory serves
 * the same paths, so the download-and-verify code is the same for online and offline installs.
 */
export function binaryArtifacts(cluster: Cluster): BinaryArtifact[] {
  const v = cluster.spec.versions;
  const arch = cluster.spec.binaries.arch;
  const k8s = `dl.k8s.io/release/${v.kubernetes}/bin/linux/${arch}`;
  const kube = (name: BinaryName, roles: Role[]): BinaryArtifact => ({
    id: name,
    path: `${k8s}/${name}`,
    checksum: { kind: "digest-file", path: `${k8s}/${name}.sha256` },
    installAs: { [name]: binaryPath(name) },
    roles,
  });
  const etcdDir = `github.com/etcd-io/etcd/releases/download/${v.etcd}`;
  const etcdName = `etcd-${v.etcd}-linux-${arch}`;
  const ctrDir = `github.com/containerd/containerd/releases/download/v${v.containerd}`;
  const ctrName = `containerd-${v.containerd}-linux-${arch}.tar.gz`;
  const runcDir = `github.com/opencontainers/runc/releases/download/v${v.runc}`;
  const cniDir = `github.com/containernetworking/plugins/releases/download/v${v.cniPlugins}`;
  const cniName = `cni-plugins-linux-${arch}-v${v.cniPlugins}.tgz`;
  const { podNetwork, images } = cluster.spec.addons;
  // flannel without its cni-plugin image: the flannel plugin comes in the archive (khw's bundle has it).
  const cniPlugins = ["bridge", "host-local", "loopback", "portmap"].concat(
    podNetwork === "flannel" && images.flannelCniPlugin === null ? ["flannel"] : [],
  );
  return [
    kube("kube-apiserver", ["controlplane"]),
    kube("kube-controller-manager", ["controlplane"]),
    kube("kube-scheduler", ["controlplane"]),
    kube("kubectl", ["controlplane"]),
    kube("kubelet", ["worker"]),
    kube("kube-proxy", ["worker"]),
    {
      id: "etcd",
      path: `${etcdDir}/${etcdName}.tar.gz`,
      checksum: { kind: "sums-file", path: `${etcdDir}/SHA256SUMS`, name: `${etcdName}.tar.gz` },
      archive: {
        format: "tar.gz",
        members: { etcd: `${etcdName}/etcd`, etcdctl: `${etcdName}/etcdctl`, etcdutl: `${etcdName}/etcdutl` },
      },
      installAs: {
        etcd: binaryPath("etcd"),
        etcdctl: binaryPath("etcdctl"),
        etcdutl: binaryPath("etcdutl"),
      },
      roles: ["controlplane"],
    },
    {
      id: "containerd",
      path: `${ctrDir}/${ctrName}`,
      checksum: { kind: "sums-file", path: `${ctrDir}/${ctrName}.sha256sum`, name: ctrName },
      archive: {
        format: "tar.gz",
        members: {
          containerd: "bin/containerd",
          "containerd-shim-runc-v2": "bin/containerd-shim-runc-v2",
          ctr: "bin/ctr",
        },
      },
      installAs: {
        containerd: binaryPath("containerd"),
        "containerd-shim-runc-v2": binaryPath("containerd-shim-runc-v2"),
        ctr: binaryPath("ctr"),
      },
      roles: ["worker"],
    },
    {
      id: "runc",
      path: `${runcDir}/runc.${arch}`,
      checksum: { kind: "sums-file", path: `${runcDir}/runc.sha256sum`, name: `runc.${arch}` },
      installAs: { [`runc.${arch}`]: binaryPath("runc") },
      roles: ["worker"],
    },
    {
      id: "cni-plugins",
      path: `${cniDir}/${cniName}`,
      checksum: { kind: "sums-file", path: `${cniDir}/${cniName}.sha256`, name: cniName },
      archive: {
        format: "tar.gz",
        members: Object.fromEntries(cniPlugins.map((p) => [p, `./${p}`])),
      },
      installAs: Object.fromEntries(cniPlugins.map((p) => [p, cniPluginPath(p)])),
      roles: ["worker"],
    },
  ];
}

/** Where to fetch an artifact path from, per the spec: the official origin, a mirror URL, or a file in a bundle dir. */
export function artifactLocation(
  cluster: Cluster,
  path: string,
): { kind: "url"; url: string } | { kind: "file"; path: string } {
  const b = cluster.spec.binaries;
  if (b.source === "bundle") return { kind: "file", path: `${b.bundleDir!.replace(/\/+$/, "")}/${path}` };
  if (b.source === "mirror") return { kind: "url", url: `${b.mirror!.replace(/\/+$/, "")}/${path}` };
  return { kind: "url", url: `https://${path}` };
}
