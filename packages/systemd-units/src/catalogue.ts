import {
  type BinaryArtifact,
  type Cluster,
  type ClusterNode,
  cniPluginPath,
  type GeneratedFile,
  NODE_DIRS,
  NODE_FILES,
  type PhaseName,
  type Role,
  unitPath,
} from "@khw/spec/core";
import {
  cniBridgeConfig,
  cniLoopbackConfig,
  containerdConfig,
  encryptionConfig,
  kubeProxyConfig,
  kubeSchedulerConfig,
  modulesLoadConfig,
  sysctlConfig,
} from "./configs";
import {
  clusterNode,
  etcdUnitFromCluster,
  kubeApiserverUnitFromCluster,
  kubeControllerManagerUnitFromCluster,
  kubeletConfigFromCluster,
  kubeletUnitFromCluster,
} from "./from-cluster";
import { BINARY_PATHS, PATHS, PKI_PATHS } from "./paths";
import { renderUnit, type ServiceUnit } from "./unit";
import { containerdUnit, kubeProxyUnit, kubeSchedulerUnit } from "./units";
import { assertSupportedKubernetes } from "./versions";

/** Inputs that are not in the spec: secrets the caller keeps across runs, and lab-only switches. */
export interface UnitOptions {
  /** base64 of 32 random bytes, generated once and kept (see assertEncryptionKey). */
  encryptionKey: string;
  /** Lab-only: `failCgroupV1: false` in KubeletConfiguration (kubelet ≥ 1.31) for cgroup v1 hosts. */
  allowCgroupV1?: boolean;
}

/** What a generator of the catalogue sees. */
export interface FileContext {
  cluster: Cluster;
  node: ClusterNode;
  options: UnitOptions;
}

export type ServiceName =
  | "etcd"
  | "kube-apiserver"
  | "kube-controller-manager"
  | "kube-scheduler"
  | "containerd"
  | "kubelet"
  | "kube-proxy"
  | "systemd-modules-load"
  | "systemd-sysctl"
  | "haproxy";

/** One generated file: where it goes, who owns it (the service to restart when it changes), how to make it. */
export interface FileDefinition {
  id: string;
  service: ServiceName;
  audience: "controlplane" | "worker";
  path: string;
  mode: number;
  secret?: boolean;
  /** The phase of `khw up` that places it, when not its service's phase (the encryption config). */
  phase?: PhaseName;
  when?: (ctx: FileContext) => boolean;
  render: (ctx: FileContext) => string;
  /** For a unit: its model (the certificates and kubeconfigs its flags name are files its service reads). */
  unit?: (ctx: FileContext) => ServiceUnit;
}

const unitFile = (
  service: ServiceName,
  audience: FileDefinition["audience"],
  make: (ctx: FileContext) => ServiceUnit,
): FileDefinition => ({
  id: `${service}.service`,
  service,
  audience,
  path: unitPath(service),
  mode: 0o644,
  render: (ctx) => renderUnit(make(ctx)),
  unit: make,
});

const bridgeRoutes = (ctx: FileContext) => ctx.cluster.spec.addons.podNetwork === "bridge-routes";
const credentials = (node: ClusterNode) => node.kubeletCredentials ?? "certificate";

/** Every unit and component config khw writes, in output order. Adding a file is adding an entry here. */
export const FILE_CATALOGUE: readonly FileDefinition[] = [
  unitFile("etcd", "controlplane", ({ cluster, node }) => etcdUnitFromCluster(cluster, node.name)),
  unitFile("kube-apiserver", "controlplane", ({ cluster, node }) =>
    kubeApiserverUnitFromCluster(cluster, node.name),
  ),
  {
    id: "encryption-config",
    service: "kube-apiserver",
    audience: "controlplane",
    path: PATHS.encryptionConfig,
    mode: 0o600,
    secret: true,
    phase: "encryption",
    render: ({ options }) => encryptionConfig(options.encryptionKey),
  },
  unitFile("kube-controller-manager", "controlplane", ({ cluster }) =>
    kubeControllerManagerUnitFromCluster(cluster),
  ),
  unitFile("kube-scheduler", "controlplane", () => kubeSchedulerUnit()),
  {
    id: "kube-scheduler-config",
    service: "kube-scheduler",
    audience: "controlplane",
    path: PATHS.kubeSchedulerConfig,
    mode: 0o644,
    render: () => kubeSchedulerConfig(),
  },
  {
    id: "modules-load",
    service: "systemd-modules-load",
    audience: "worker",
    path: PATHS.modulesLoad,
    mode: 0o644,
    render: () => modulesLoadConfig(),
  },
  {
    id: "sysctl",
    service: "systemd-sysctl",
    audience: "worker",
    path: PATHS.sysctl,
    mode: 0o644,
    render: () => sysctlConfig(),
  },
  unitFile("containerd", "worker", () => containerdUnit()),
  {
    id: "containerd-config",
    service: "containerd",
    audience: "worker",
    path: PATHS.containerdConfig,
    mode: 0o644,
    render: ({ cluster, node }) =>
      containerdConfig({
        containerdVersion: cluster.spec.versions.containerd,
        ...(node.containerdRuncBinary ? { runcBinary: node.containerdRuncBinary } : {}),
      }),
  },
  {
    id: "cni-bridge",
    service: "containerd",
    audience: "worker",
    path: PATHS.cniBridgeConfig,
    mode: 0o644,
    when: bridgeRoutes,
    render: ({ node }) => cniBridgeConfig({ podCIDR: node.podCIDR! }),
  },
  {
    id: "cni-loopback",
    service: "containerd",
    audience: "worker",
    path: PATHS.cniLoopbackConfig,
    mode: 0o644,
    when: bridgeRoutes,
    render: () => cniLoopbackConfig(),
  },
  unitFile("kubelet", "worker", ({ cluster, node }) => kubeletUnitFromCluster(cluster, node.name)),
  {
    id: "kubelet-config",
    service: "kubelet",
    audience: "worker",
    path: PATHS.kubeletConfig,
    mode: 0o644,
    render: ({ cluster, node, options }) =>
      kubeletConfigFromCluster(cluster, node.name, options.allowCgroupV1 ? { allowCgroupV1: true } : {}),
  },
  unitFile("kube-proxy", "worker", () => kubeProxyUnit()),
  {
    id: "kube-proxy-config",
    service: "kube-proxy",
    audience: "worker",
    path: PATHS.kubeProxyConfig,
    mode: 0o644,
    render: ({ cluster, node }) =>
      kubeProxyConfig({
        clusterCIDR: cluster.network.podCIDR,
        ...(node.kubeProxyExtraConfig ? { extraConfig: node.kubeProxyExtraConfig } : {}),
      }),
  },
];

/** A file a service reads that another package writes (certificates, kubeconfigs). `{node}` = node name. */
export interface ReadFile {
  path: string;
  /** Only on workers with this kubelet mode. */
  credentials?: "certificate" | "tls-bootstrap";
}

export interface ServiceDefinition {
  service: ServiceName;
  audience: Role;
  /**
   * Ours (a unit file khw writes), a stock systemd service that applies one of our files, or a
   * distribution package's service khw configures and enables (HAProxy).
   */
  kind: "unit" | "systemd" | "package";
  /** The phase of `khw up` that installs its binaries, places its files and starts it. */
  phase: PhaseName;
  /** The executable its unit starts (ExecStart's first word): a new one restarts the service. */
  runs?: string;
  /** Executables the unit runs or needs (consistent with binaryArtifacts() of @khw/spec). */
  binaries: string[];
  /** Executables installed with it that it does not run itself (kubectl, the CNI plugins). */
  tools?: string[];
  /** Files from @khw/pki, @khw/kubeconfig and @khw/haproxy-config it reads. */
  reads: ReadFile[];
}

const k = PATHS.kubeconfigs;
const P = PKI_PATHS;

/** Every service on the nodes: its binaries and the files written by other packages that it reads. */
export const SERVICE_CATALOGUE: readonly ServiceDefinition[] = [
  {
    service: "etcd",
    audience: "controlplane",
    kind: "unit",
    phase: "etcd",
    runs: BINARY_PATHS.etcd,
    binaries: [BINARY_PATHS.etcd],
    reads: [{ path: P.etcdCa }, { path: P.etcdServer }, { path: P.etcdServerKey }],
  },
  {
    service: "kube-apiserver",
    audience: "controlplane",
    kind: "unit",
    phase: "control-plane",
    runs: BINARY_PATHS.kubeApiserver,
    binaries: [BINARY_PATHS.kubeApiserver],
    tools: [BINARY_PATHS.kubectl],
    reads: [
      P.ca,
      P.apiserver,
      P.apiserverKey,
      P.apiserverKubeletClient,
      P.apiserverKubeletClientKey,
      P.serviceAccount,
      P.serviceAccountKey,
      P.etcdCa,
      P.etcdServer,
      P.etcdServerKey,
    ].map((path) => ({ path })),
  },
  {
    service: "kube-controller-manager",
    audience: "controlplane",
    kind: "unit",
    phase: "control-plane",
    runs: BINARY_PATHS.kubeControllerManager,
    binaries: [BINARY_PATHS.kubeControllerManager],
    reads: [
      k.kubeControllerManager,
      P.ca,
      P.caKey,
      P.serviceAccountKey,
      P.kubeControllerManager,
      P.kubeControllerManagerKey,
    ].map((path) => ({ path })),
  },
  {
    service: "kube-scheduler",
    audience: "controlplane",
    kind: "unit",
    phase: "control-plane",
    runs: BINARY_PATHS.kubeScheduler,
    binaries: [BINARY_PATHS.kubeScheduler],
    reads: [k.kubeScheduler, P.ca, P.kubeScheduler, P.kubeSchedulerKey].map((path) => ({ path })),
  },
  {
    service: "systemd-modules-load",
    audience: "worker",
    kind: "systemd",
    phase: "workers",
    binaries: [],
    reads: [],
  },
  {
    service: "systemd-sysctl",
    audience: "worker",
    kind: "systemd",
    phase: "workers",
    binaries: [],
    reads: [],
  },
  {
    service: "containerd",
    audience: "worker",
    kind: "unit",
    phase: "workers",
    runs: BINARY_PATHS.containerd,
    binaries: [BINARY_PATHS.containerd, BINARY_PATHS.containerdShim, BINARY_PATHS.runc],
    tools: [cniPluginPath("loopback")],
    reads: [],
  },
  {
    service: "kubelet",
    audience: "worker",
    kind: "unit",
    phase: "workers",
    runs: BINARY_PATHS.kubelet,
    binaries: [BINARY_PATHS.kubelet],
    reads: [
      { path: P.ca },
      { path: k.kubelet, credentials: "certificate" },
      { path: P.kubelet, credentials: "certificate" },
      { path: P.kubeletKey, credentials: "certificate" },
      { path: k.kubeletBootstrap, credentials: "tls-bootstrap" },
    ],
  },
  {
    service: "kube-proxy",
    audience: "worker",
    kind: "unit",
    phase: "workers",
    runs: BINARY_PATHS.kubeProxy,
    binaries: [BINARY_PATHS.kubeProxy],
    reads: [k.kubeProxy, P.ca, P.kubeProxy, P.kubeProxyKey].map((path) => ({ path })),
  },
  {
    // Debian's haproxy package; its files come from @khw/haproxy-config.
    service: "haproxy",
    audience: "loadbalancer",
    kind: "package",
    phase: "loadbalancer",
    runs: NODE_FILES.haproxyBinary,
    binaries: [],
    reads: [{ path: NODE_FILES.haproxyConfig }, { path: NODE_FILES.haproxyCa }],
  },
];

const nodeByName = (cluster: Cluster, name: string) => clusterNode(cluster, name);

const audienceOf = (node: ClusterNode) => node.role;

/** The files of the catalogue one node gets. */
export function unitFilesForNode(
  cluster: Cluster,
  nodeName: string,
  options: UnitOptions,
  catalogue: readonly FileDefinition[] = FILE_CATALOGUE,
): GeneratedFile[] {
  assertSupportedKubernetes(cluster.spec.versions.kubernetes);
  const node = nodeByName(cluster, nodeName);
  const ctx: FileContext = { cluster, node, options };
  return catalogue
    .filter((d) => d.audience === audienceOf(node) && (d.when?.(ctx) ?? true))
    .map((d) => ({
      host: node.name,
      path: d.path,
      mode: d.mode,
      contents: d.render(ctx),
      ...(d.secret ? { secret: true } : {}),
    }));
}

/** Every unit and component config of the cluster, node by node in spec order (load balancers get none here). */
export function unitFilesFromCluster(
  cluster: Cluster,
  options: UnitOptions,
  catalogue: readonly FileDefinition[] = FILE_CATALOGUE,
): GeneratedFile[] {
  return cluster.nodes.flatMap((n) => unitFilesForNode(cluster, n.name, options, catalogue));
}

/**
 * service name → every file it depends on, on one node: its unit, the configs of this package it owns, and
 * the certificates and kubeconfigs it reads. The CLI restarts a service only when one of them changed.
 */
export function serviceFiles(
  cluster: Cluster,
  nodeName: string,
  catalogue: readonly FileDefinition[] = FILE_CATALOGUE,
): Record<string, string[]> {
  const node = nodeByName(cluster, nodeName);
  const ctx: FileContext = { cluster, node, options: { encryptionKey: "" } };
  const out: Record<string, string[]> = {};
  for (const s of SERVICE_CATALOGUE) {
    if (s.audience !== audienceOf(node)) continue;
    const own = catalogue
      .filter((d) => d.service === s.service && (d.when?.(ctx) ?? true))
      .map((d) => d.path);
    const reads = s.reads
      .filter((r) => r.credentials === undefined || r.credentials === credentials(node))
      .map((r) => r.path.replaceAll("{node}", node.name));
    const named = catalogue
      .filter((d) => d.service === s.service && d.unit && (d.when?.(ctx) ?? true))
      .flatMap((d) => d.unit!(ctx).service.execStart)
      .flatMap((arg) => flagPaths(arg));
    // A path declared for the other kubelet mode (tls-bootstrap: the kubeconfig the kubelet writes itself) is not ours.
    const otherMode = s.reads.filter(
      (r) => r.credentials !== undefined && r.credentials !== credentials(node),
    );
    const ours = named.filter((p) => !otherMode.some((r) => r.path === p));
    out[s.service] = [...new Set([...own, ...reads, ...ours])];
  }
  return out;
}

/** Certificates, keys and kubeconfigs of the node layout that one argv word (`--flag=/path`) names. */
function flagPaths(arg: string): string[] {
  const value = arg.slice(arg.indexOf("=") + 1);
  const pki =
    [NODE_DIRS.pki, NODE_DIRS.etcdPki].some((d) => value.startsWith(`${d}/`)) && /\.(crt|key)$/.test(value);
  return pki || (Object.values(PATHS.kubeconfigs) as string[]).includes(value) ? [value] : [];
}

/** Every executable a node's services need (to check the install step against). */
export function binariesForNode(cluster: Cluster, nodeName: string): string[] {
  const node = nodeByName(cluster, nodeName);
  return SERVICE_CATALOGUE.filter((s) => s.audience === audienceOf(node)).flatMap((s) => s.binaries);
}

/** The catalogue entry of a service (every ServiceName has one: a test holds it). */
export function serviceDefinition(service: ServiceName): ServiceDefinition | undefined {
  return SERVICE_CATALOGUE.find((s) => s.service === service);
}

/**
 * The phase of `khw up` that places a file of {@link FILE_CATALOGUE} (by its node path): its own phase,
 * else its service's. Undefined for a path the catalogue does not write.
 */
export function unitFilePhase(
  path: string,
  catalogue: readonly FileDefinition[] = FILE_CATALOGUE,
): PhaseName | undefined {
  const def = catalogue.find((d) => d.path === path);
  return def && (def.phase ?? serviceDefinition(def.service)?.phase);
}

/** The services a phase starts on a node of `role`, in start order; khw's units and packages are enabled. */
export function servicesInPhase(phase: PhaseName, role: Role): Array<{ name: ServiceName; enable: boolean }> {
  return SERVICE_CATALOGUE.filter((s) => s.phase === phase && s.audience === role).map((s) => ({
    name: s.service,
    enable: s.kind !== "systemd",
  }));
}

/** The release files a phase installs on a node of `role`: those holding its services' binaries and tools. */
export function installsForPhase(
  artifacts: readonly BinaryArtifact[],
  phase: PhaseName,
  role: Role,
): BinaryArtifact[] {
  const needed = new Set(
    SERVICE_CATALOGUE.filter((s) => s.phase === phase && s.audience === role).flatMap((s) => [
      ...s.binaries,
      ...(s.tools ?? []),
    ]),
  );
  return artifacts.filter(
    (a) => a.roles.includes(role) && Object.values(a.installAs).some((dest) => needed.has(dest)),
  );
}

/**
 * The services on one node whose unit starts one of these executables (node paths): restart them
 * after a binary changed. From the catalogue's `runs`, never from the unit text.
 */
export function servicesUsingBinary(
  cluster: Cluster,
  nodeName: string,
  binaries: readonly string[],
): string[] {
  const node = nodeByName(cluster, nodeName);
  return SERVICE_CATALOGUE.filter(
    (s) => s.audience === audienceOf(node) && s.runs !== undefined && binaries.includes(s.runs),
  ).map((s) => s.service);
}
