/**
 * The node layout: where every file khw places or names lives on a host. The one place these paths
 * are written; the catalogues (certificates in @khw/pki, kubeconfigs in @khw/kubeconfig, units and
 * configs in @khw/systemd-units, release files in {@link binaryArtifacts}) build their paths from it,
 * and the CLI's steps and health checks ask it.
 */

/** Directories on the nodes. */
export const NODE_DIRS = {
  /** Kubernetes' own state and configs on control planes (and workers' CA). */
  kubernetes: "/var/lib/kubernetes",
  /** Certificates and keys of @khw/pki on masters and workers. */
  pki: "/var/lib/kubernetes/pki",
  /** etcd's CA, certificate and key (the etcd-server cert is also the peer and the apiserver's etcd client cert). */
  etcdPki: "/etc/etcd",
  etcdData: "/var/lib/etcd",
  kubelet: "/var/lib/kubelet",
  /** Where a tls-bootstrap kubelet keeps the certificates it obtains. */
  kubeletPki: "/var/lib/kubelet/pki",
  kubeProxy: "/var/lib/kube-proxy",
  containerd: "/etc/containerd",
  /** containerd's images, snapshots and state; its sockets and shims' run directory. */
  containerdState: "/var/lib/containerd",
  containerdRun: "/run/containerd",
  cniConf: "/etc/cni/net.d",
  cniBin: "/opt/cni/bin",
  /** host-local IPAM's record of handed-out pod addresses. */
  cniState: "/var/lib/cni",
  /** systemd units khw writes: `<units>/<service>.service`. */
  units: "/etc/systemd/system",
  modulesLoad: "/etc/modules-load.d",
  sysctl: "/etc/sysctl.d",
  haproxy: "/etc/haproxy",
  /** HAProxy's chroot (Debian's package creates it). */
  haproxyChroot: "/var/lib/haproxy",
  /** Executables of the release files. */
  bin: "/usr/local/bin",
  sbin: "/usr/local/sbin",
  /** khw's own state on a host (install markers, snapshots). */
  khw: "/var/lib/khw",
  /** khw's download cache on a host. */
  khwCache: "/var/cache/khw",
  /** Where manifests are placed on the control plane that applies them. */
  manifests: "/var/lib/khw/manifests",
} as const;

export type NodeDir = keyof typeof NODE_DIRS;

/** Files on the nodes that are not certificates, kubeconfigs, units or executables. */
export const NODE_FILES = {
  encryptionConfig: `${NODE_DIRS.kubernetes}/encryption-config.yaml`,
  kubeSchedulerConfig: `${NODE_DIRS.kubernetes}/kube-scheduler.yaml`,
  kubeletConfig: `${NODE_DIRS.kubelet}/kubelet-config.yaml`,
  kubeProxyConfig: `${NODE_DIRS.kubeProxy}/kube-proxy-config.yaml`,
  containerdConfig: `${NODE_DIRS.containerd}/config.toml`,
  containerdSocket: `${NODE_DIRS.containerdRun}/containerd.sock`,
  cniBridgeConfig: `${NODE_DIRS.cniConf}/10-bridge.conf`,
  cniLoopbackConfig: `${NODE_DIRS.cniConf}/99-loopback.conf`,
  modulesLoad: `${NODE_DIRS.modulesLoad}/k8s.conf`,
  sysctl: `${NODE_DIRS.sysctl}/k8s.conf`,
  auditLog: "/var/log/audit.log",
  /** systemd-resolved's real upstream list (the stub 127.0.0.53 in /etc/resolv.conf makes CoreDNS loop). */
  resolvConf: "/run/systemd/resolve/resolv.conf",
  haproxyConfig: `${NODE_DIRS.haproxy}/haproxy.cfg`,
  /** HAProxy's runtime API socket (stats, `show servers state`). */
  haproxyStatsSocket: "/run/haproxy/admin.sock",
  /** HAProxy's executable from the distribution package (not a release file of khw). */
  haproxyBinary: "/usr/sbin/haproxy",
  /** The cluster CA the load balancer verifies the apiservers against. */
  haproxyCa: `${NODE_DIRS.haproxy}/kubernetes-ca.crt`,
} as const;

/** The directories a certificate can be placed in. */
export type PkiDir = "pki" | "etcdPki";

/** Where certificate `id` of the PKI catalogue lives on a node: `<dir>/<id>.crt`. */
export function certPath(id: string, dir: PkiDir = "pki"): string {
  return `${NODE_DIRS[dir]}/${id}.crt`;
}

/** Where the key of certificate `id` lives on a node: `<dir>/<id>.key`. */
export function keyPath(id: string, dir: PkiDir = "pki"): string {
  return `${NODE_DIRS[dir]}/${id}.key`;
}

/** The unit file of a service khw writes. */
export function unitPath(service: string): string {
  return `${NODE_DIRS.units}/${service}.service`;
}

/**
 * Executable name → where it is installed (the `installAs` of {@link binaryArtifacts}); CNI plugins
 * go to `NODE_DIRS.cniBin`.
 */
export const BINARY_INSTALL_PATHS = {
  etcd: `${NODE_DIRS.bin}/etcd`,
  etcdctl: `${NODE_DIRS.bin}/etcdctl`,
  etcdutl: `${NODE_DIRS.bin}/etcdutl`,
  "kube-apiserver": `${NODE_DIRS.bin}/kube-apiserver`,
  "kube-controller-manager": `${NODE_DIRS.bin}/kube-controller-manager`,
  "kube-scheduler": `${NODE_DIRS.bin}/kube-scheduler`,
  kubectl: `${NODE_DIRS.bin}/kubectl`,
  kubelet: `${NODE_DIRS.bin}/kubelet`,
  "kube-proxy": `${NODE_DIRS.bin}/kube-proxy`,
  containerd: `${NODE_DIRS.bin}/containerd`,
  "containerd-shim-runc-v2": `${NODE_DIRS.bin}/containerd-shim-runc-v2`,
  ctr: `${NODE_DIRS.bin}/ctr`,
  runc: `${NODE_DIRS.sbin}/runc`,
} as const;

export type BinaryName = keyof typeof BINARY_INSTALL_PATHS;

/** Where executable `name` is installed on a node. */
export function binaryPath(name: BinaryName): string {
  return BINARY_INSTALL_PATHS[name];
}

/** Where CNI plugin `name` is installed on a worker. */
export function cniPluginPath(name: string): string {
  return `${NODE_DIRS.cniBin}/${name}`;
}
