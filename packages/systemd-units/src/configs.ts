import { stringify } from "yaml";
import { UnitsError } from "./errors";
import { PATHS, PKI_PATHS } from "./paths";
import { assertSupportedKubernetes, hasSetting, parseVersion } from "./versions";

const YAML = { lineWidth: 0, indent: 2 } as const;
const yaml = (obj: unknown) => stringify(obj, YAML);

/**
 * Checks an aescbc key: base64 of exactly 32 random bytes (the caller generates it once, e.g.
 * `crypto.randomBytes(32).toString("base64")`, and keeps it: a new key makes existing secrets unreadable).
 */
export function assertEncryptionKey(key: string | undefined, field = "encryptionKey"): string {
  if (key === undefined || key === "") {
    throw new UnitsError(
      "INVALID_ENCRYPTION_KEY",
      field,
      "no encryption key was given",
      "generate 32 random bytes once, base64-encode them, keep them across runs",
    );
  }
  const ok = /^[A-Za-z0-9+/]{43}=$/.test(key) && Buffer.from(key, "base64").length === 32;
  if (!ok) {
    throw new UnitsError(
      "INVALID_ENCRYPTION_KEY",
      field,
      "is not the base64 of exactly 32 bytes",
      "aescbc needs a 32-byte key: `head -c 32 /dev/urandom | base64`",
    );
  }
  return key;
}

/** EncryptionConfiguration (apiserver.config.k8s.io/v1): secrets with aescbc key1, then identity to read old data. */
export function encryptionConfig(encryptionKey: string): string {
  const secret = assertEncryptionKey(encryptionKey);
  return yaml({
    apiVersion: "apiserver.config.k8s.io/v1",
    kind: "EncryptionConfiguration",
    resources: [
      {
        resources: ["secrets"],
        providers: [{ aescbc: { keys: [{ name: "key1", secret }] } }, { identity: {} }],
      },
    ],
  });
}

/** KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): its kubeconfig and leader election. */
export function kubeSchedulerConfig(): string {
  return yaml({
    apiVersion: "kubescheduler.config.k8s.io/v1",
    kind: "KubeSchedulerConfiguration",
    clientConnection: { kubeconfig: PATHS.kubeconfigs.kubeScheduler },
    leaderElection: { leaderElect: true },
  });
}

export interface KubeletConfigInput {
  /** The node name (for the certificate-mode serving cert paths). */
  nodeName: string;
  credentials: "certificate" | "tls-bootstrap";
  clusterDNS: string[];
  clusterDomain: string;
  /** e.g. `v1.34.4`: decides which fields exist (see VERSION_TABLE). */
  kubernetesVersion: string;
  /**
   * Lab-only: let the kubelet start on a cgroup v1 host (`failCgroupV1: false`, where the field exists).
   * Real hosts (Ubuntu 22.04+) run cgroup v2 and never get it.
   */
  allowCgroupV1?: boolean;
  /**
   * KubeletConfiguration fields set over khw's (a top-level key replaces khw's value), from the spec's
   * `nodes[].kubelet.extraConfig`. The lab uses it for hosts whose cgroups are read-only.
   */
  extraConfig?: Record<string, unknown>;
}

/**
 * KubeletConfiguration (kubelet.config.k8s.io/v1beta1). certificate mode: the pre-issued cert also serves
 * TLS; tls-bootstrap mode: no cert files, `rotateCertificates` and `serverTLSBootstrap` instead.
 */
export function kubeletConfig(i: KubeletConfigInput): string {
  const version = i.kubernetesVersion;
  assertSupportedKubernetes(version);
  if (i.clusterDNS.length === 0) {
    throw new UnitsError(
      "INVALID_ARGUMENT",
      "clusterDNS",
      "is empty",
      "pass the cluster DNS service IP (the 10th address of the service CIDR by default)",
    );
  }
  const cert = i.credentials === "certificate";
  for (const key of ["apiVersion", "kind"]) {
    if (i.extraConfig && key in i.extraConfig) {
      throw new UnitsError(
        "INVALID_ARGUMENT",
        `extraConfig.${key}`,
        "is set by khw",
        `remove ${key} from extraConfig`,
      );
    }
  }
  const base: Record<string, unknown> = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: PKI_PATHS.ca },
    },
    authorization: { mode: "Webhook" },
    cgroupDriver: "systemd",
    clusterDNS: i.clusterDNS,
    clusterDomain: i.clusterDomain,
    containerRuntimeEndpoint: `unix://${PATHS.containerdSocket}`,
    ...(i.allowCgroupV1 && hasSetting("kubelet-fail-cgroup-v1", version) ? { failCgroupV1: false } : {}),
    registerNode: true,
    resolvConf: PATHS.resolvConf,
    ...(cert ? {} : { rotateCertificates: true }),
    runtimeRequestTimeout: "15m",
    ...(cert ? {} : { serverTLSBootstrap: true }),
    ...(cert
      ? {
          tlsCertFile: PKI_PATHS.kubelet.replace("{node}", i.nodeName),
          tlsPrivateKeyFile: PKI_PATHS.kubeletKey.replace("{node}", i.nodeName),
        }
      : {}),
  };
  return yaml({ ...base, ...(i.extraConfig ?? {}) });
}

/**
 * KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1): iptables mode, the pod CIDR as clusterCIDR.
 * `extraConfig` (a worker's `kubeProxy.extraConfig`, e.g. the lab's conntrack.maxPerCore: 0) is set over
 * khw's fields (top-level keys replace khw's); apiVersion and kind stay khw's.
 */
export function kubeProxyConfig(i: { clusterCIDR: string; extraConfig?: Record<string, unknown> }): string {
  for (const key of ["apiVersion", "kind"]) {
    if (i.extraConfig && key in i.extraConfig) {
      throw new UnitsError(
        "INVALID_ARGUMENT",
        `extraConfig.${key}`,
        "is set by khw",
        `remove ${key} from extraConfig`,
      );
    }
  }
  return yaml({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig: PATHS.kubeconfigs.kubeProxy },
    clusterCIDR: i.clusterCIDR,
    mode: "iptables",
    ...(i.extraConfig ?? {}),
  });
}

const tomlString = (s: string) => JSON.stringify(s);

/**
 * containerd's config.toml, config version 3 (containerd 2.x): runc with `SystemdCgroup = true` (matching the
 * kubelet's cgroupDriver: systemd; a mismatch crash-loops every pod) and the CNI directories. `runcBinary`
 * (a worker's `containerd.runcBinary`; the lab's wrapper) replaces /usr/local/sbin/runc as BinaryName.
 */
export function containerdConfig(i: { containerdVersion: string; runcBinary?: string }): string {
  const v = parseVersion(i.containerdVersion, "versions.containerd");
  if (v.major < 2) {
    throw new UnitsError(
      "UNSUPPORTED_VERSION",
      "versions.containerd",
      `containerd ${i.containerdVersion} reads config version 2, not 3`,
      "use containerd 2.x (e.g. 2.1.4)",
    );
  }
  const binDirs = hasSetting("containerd-cni-bin-dirs", i.containerdVersion)
    ? `bin_dirs = [${tomlString(PATHS.cniBinDir)}]`
    : `bin_dir = ${tomlString(PATHS.cniBinDir)}`;
  const runtime = "plugins.'io.containerd.cri.v1.runtime'";
  return [
    "version = 3",
    "",
    `[${runtime}.containerd]`,
    `  default_runtime_name = "runc"`,
    "",
    `[${runtime}.containerd.runtimes.runc]`,
    `  runtime_type = "io.containerd.runc.v2"`,
    "",
    `[${runtime}.containerd.runtimes.runc.options]`,
    `  BinaryName = ${tomlString(i.runcBinary ?? "/usr/local/sbin/runc")}`,
    // stays with a runcBinary wrapper too: the kubelet keeps cgroupDriver systemd (the lab's wrapper drops --systemd-cgroup)
    "  SystemdCgroup = true",
    "",
    `[${runtime}.cni]`,
    `  ${binDirs}`,
    `  conf_dir = ${tomlString(PATHS.cniConfDir)}`,
    "",
  ].join("\n");
}

/** CNI bridge network for `bridge-routes`: this worker's slice of the pod CIDR on cni0, masqueraded. */
export function cniBridgeConfig(i: { podCIDR: string }): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "bridge",
      type: "bridge",
      bridge: "cni0",
      isGateway: true,
      ipMasq: true,
      ipam: { type: "host-local", ranges: [[{ subnet: i.podCIDR }]], routes: [{ dst: "0.0.0.0/0" }] },
    },
    null,
    2,
  )}\n`;
}

export function cniLoopbackConfig(): string {
  return `${JSON.stringify({ cniVersion: "1.0.0", name: "lo", type: "loopback" }, null, 2)}\n`;
}

/** Kernel modules for containerd's overlay snapshotter and bridged traffic through iptables. */
export function modulesLoadConfig(): string {
  return "# khw: containerd (overlay) and kube-proxy/CNI bridge traffic (br_netfilter)\noverlay\nbr_netfilter\n";
}

export function sysctlConfig(): string {
  return [
    "# khw: bridged pod traffic passes iptables; nodes forward pod traffic",
    "net.bridge.bridge-nf-call-iptables = 1",
    "net.bridge.bridge-nf-call-ip6tables = 1",
    "net.ipv4.ip_forward = 1",
    "",
  ].join("\n");
}
