import { KUBECONFIG_PATHS } from "@khw/kubeconfig";

/** Where every file lives on the nodes. Units go to UNIT_DIR/<service>.service. */
export const UNIT_DIR = "/etc/systemd/system";

export const PATHS = {
  /** Certificates and keys of @khw/pki on masters and workers. */
  pkiDir: "/var/lib/kubernetes/pki",
  /** etcd's CA, certificate and key (the etcd-server cert is also the peer and the apiserver's etcd client cert). */
  etcdDir: "/etc/etcd",
  etcdDataDir: "/var/lib/etcd",
  encryptionConfig: "/var/lib/kubernetes/encryption-config.yaml",
  kubeSchedulerConfig: "/var/lib/kubernetes/kube-scheduler.yaml",
  kubeletConfig: "/var/lib/kubelet/kubelet-config.yaml",
  /** Where a tls-bootstrap kubelet keeps the certificates it obtains. */
  kubeletCertDir: "/var/lib/kubelet/pki",
  kubeProxyConfig: "/var/lib/kube-proxy/kube-proxy-config.yaml",
  containerdConfig: "/etc/containerd/config.toml",
  containerdSocket: "/run/containerd/containerd.sock",
  cniConfDir: "/etc/cni/net.d",
  cniBinDir: "/opt/cni/bin",
  cniBridgeConfig: "/etc/cni/net.d/10-bridge.conf",
  cniLoopbackConfig: "/etc/cni/net.d/99-loopback.conf",
  modulesLoad: "/etc/modules-load.d/k8s.conf",
  sysctl: "/etc/sysctl.d/k8s.conf",
  auditLog: "/var/log/audit.log",
  /** systemd-resolved's real upstream list (the stub 127.0.0.53 in /etc/resolv.conf makes CoreDNS loop). */
  resolvConf: "/run/systemd/resolve/resolv.conf",
  kubeconfigs: KUBECONFIG_PATHS,
} as const;

/** Certificate paths of REFERENCE.md (files written by @khw/pki). `{node}` = the worker's name. */
export const PKI_PATHS = {
  ca: `${PATHS.pkiDir}/ca.crt`,
  caKey: `${PATHS.pkiDir}/ca.key`,
  apiserver: `${PATHS.pkiDir}/kube-apiserver.crt`,
  apiserverKey: `${PATHS.pkiDir}/kube-apiserver.key`,
  apiserverKubeletClient: `${PATHS.pkiDir}/apiserver-kubelet-client.crt`,
  apiserverKubeletClientKey: `${PATHS.pkiDir}/apiserver-kubelet-client.key`,
  serviceAccount: `${PATHS.pkiDir}/service-account.crt`,
  serviceAccountKey: `${PATHS.pkiDir}/service-account.key`,
  kubeControllerManager: `${PATHS.pkiDir}/kube-controller-manager.crt`,
  kubeControllerManagerKey: `${PATHS.pkiDir}/kube-controller-manager.key`,
  kubeScheduler: `${PATHS.pkiDir}/kube-scheduler.crt`,
  kubeSchedulerKey: `${PATHS.pkiDir}/kube-scheduler.key`,
  kubeProxy: `${PATHS.pkiDir}/kube-proxy.crt`,
  kubeProxyKey: `${PATHS.pkiDir}/kube-proxy.key`,
  kubelet: `${PATHS.pkiDir}/{node}.crt`,
  kubeletKey: `${PATHS.pkiDir}/{node}.key`,
  etcdCa: `${PATHS.etcdDir}/ca.crt`,
  etcdServer: `${PATHS.etcdDir}/etcd-server.crt`,
  etcdServerKey: `${PATHS.etcdDir}/etcd-server.key`,
} as const;

/** The executables each unit runs or needs, at the paths `binaryArtifacts()` of @khw/spec installs them. */
export const BINARY_PATHS = {
  etcd: "/usr/local/bin/etcd",
  etcdctl: "/usr/local/bin/etcdctl",
  etcdutl: "/usr/local/bin/etcdutl",
  kubeApiserver: "/usr/local/bin/kube-apiserver",
  kubeControllerManager: "/usr/local/bin/kube-controller-manager",
  kubeScheduler: "/usr/local/bin/kube-scheduler",
  kubectl: "/usr/local/bin/kubectl",
  containerd: "/usr/local/bin/containerd",
  containerdShim: "/usr/local/bin/containerd-shim-runc-v2",
  runc: "/usr/local/sbin/runc",
  kubelet: "/usr/local/bin/kubelet",
  kubeProxy: "/usr/local/bin/kube-proxy",
} as const;
