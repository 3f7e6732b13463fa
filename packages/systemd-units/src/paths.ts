import { KUBECONFIG_PATHS } from "@khw/kubeconfig";
import { binaryPath, certPath, keyPath, NODE_DIRS, NODE_FILES } from "@khw/spec/core";

/** Where every file lives on the nodes (views of the node layout of @khw/spec). Units go to UNIT_DIR/<service>.service. */
export const UNIT_DIR = NODE_DIRS.units;

export const PATHS = {
  /** Certificates and keys of @khw/pki on masters and workers. */
  pkiDir: NODE_DIRS.pki,
  /** etcd's CA, certificate and key (the etcd-server cert is also the peer and the apiserver's etcd client cert). */
  etcdDir: NODE_DIRS.etcdPki,
  etcdDataDir: NODE_DIRS.etcdData,
  encryptionConfig: NODE_FILES.encryptionConfig,
  kubeSchedulerConfig: NODE_FILES.kubeSchedulerConfig,
  kubeletConfig: NODE_FILES.kubeletConfig,
  /** Where a tls-bootstrap kubelet keeps the certificates it obtains. */
  kubeletCertDir: NODE_DIRS.kubeletPki,
  kubeProxyConfig: NODE_FILES.kubeProxyConfig,
  containerdConfig: NODE_FILES.containerdConfig,
  containerdSocket: NODE_FILES.containerdSocket,
  cniConfDir: NODE_DIRS.cniConf,
  cniBinDir: NODE_DIRS.cniBin,
  cniBridgeConfig: NODE_FILES.cniBridgeConfig,
  cniLoopbackConfig: NODE_FILES.cniLoopbackConfig,
  modulesLoad: NODE_FILES.modulesLoad,
  sysctl: NODE_FILES.sysctl,
  auditLog: NODE_FILES.auditLog,
  /** systemd-resolved's real upstream list (the stub 127.0.0.53 in /etc/resolv.conf makes CoreDNS loop). */
  resolvConf: NODE_FILES.resolvConf,
  kubeconfigs: KUBECONFIG_PATHS,
} as const;

/**
 * Certificate paths of REFERENCE.md (files written by @khw/pki), by the layout's `certPath`/`keyPath`.
 * `{node}` = the worker's name.
 */
export const PKI_PATHS = {
  ca: certPath("ca"),
  caKey: keyPath("ca"),
  apiserver: certPath("kube-apiserver"),
  apiserverKey: keyPath("kube-apiserver"),
  apiserverKubeletClient: certPath("apiserver-kubelet-client"),
  apiserverKubeletClientKey: keyPath("apiserver-kubelet-client"),
  serviceAccount: certPath("service-account"),
  serviceAccountKey: keyPath("service-account"),
  kubeControllerManager: certPath("kube-controller-manager"),
  kubeControllerManagerKey: keyPath("kube-controller-manager"),
  kubeScheduler: certPath("kube-scheduler"),
  kubeSchedulerKey: keyPath("kube-scheduler"),
  kubeProxy: certPath("kube-proxy"),
  kubeProxyKey: keyPath("kube-proxy"),
  kubelet: certPath("{node}"),
  kubeletKey: keyPath("{node}"),
  etcdCa: certPath("ca", "etcdPki"),
  etcdServer: certPath("etcd-server", "etcdPki"),
  etcdServerKey: keyPath("etcd-server", "etcdPki"),
} as const;

/** The executables each unit runs or needs, at the paths `binaryArtifacts()` of @khw/spec installs them. */
export const BINARY_PATHS = {
  etcd: binaryPath("etcd"),
  etcdctl: binaryPath("etcdctl"),
  etcdutl: binaryPath("etcdutl"),
  kubeApiserver: binaryPath("kube-apiserver"),
  kubeControllerManager: binaryPath("kube-controller-manager"),
  kubeScheduler: binaryPath("kube-scheduler"),
  kubectl: binaryPath("kubectl"),
  containerd: binaryPath("containerd"),
  containerdShim: binaryPath("containerd-shim-runc-v2"),
  runc: binaryPath("runc"),
  kubelet: binaryPath("kubelet"),
  kubeProxy: binaryPath("kube-proxy"),
} as const;
