import { FLANNEL_DAEMONSET, FLANNEL_NAMESPACE } from "@khw/addons";
import { kubeconfigPath } from "@khw/kubeconfig";
import { shellQuote } from "@khw/remote-exec";
import {
  API_PORT,
  type BinaryArtifact,
  binaryArtifacts,
  binaryPath,
  type Cluster,
  type ClusterNode,
  certPath,
  keyPath,
  NODE_DIRS,
  NODE_FILES,
  PHASE_NAMES,
  type PhaseName,
} from "@khw/spec/core";
import { installsForPhase, servicesInPhase } from "@khw/systemd-units";
import {
  type ArtifactFile,
  type Artifacts,
  type FilePhase,
  filesForPhase,
  type Manifest,
} from "../artifacts";
import { type JournalCause, KUBELET_CAUSES } from "./journal-causes";

/** The phases of `khw up`, in REFERENCE.md's bring-up order (the one list, in @khw/spec). */
export { PHASE_NAMES, type PhaseName };

/** Where manifests are placed on the control plane that applies them. */
export const REMOTE_MANIFEST_DIR = NODE_DIRS.manifests;
const ADMIN_KUBECONFIG = kubeconfigPath("admin");

/** One step on one host. Plain data; the runner (runner.ts) carries it out. */
export type Step =
  /** Preflight: gather the host's facts (read-only) and check them. */
  | { kind: "facts" }
  /** Upload one generated file (atomic, skipped when identical); a change owes restarts of its services. */
  | { kind: "upload"; file: ArtifactFile }
  /** Upload a verified release file and install its executables (only replaced when different). */
  | { kind: "install"; artifact: BinaryArtifact }
  /** A shell script. `probe`: read-only (also run in --dry-run); else a change when it prints a line starting with `changed`. */
  | {
      kind: "run";
      name: string;
      script: string;
      args?: string[];
      probe?: boolean;
      /** For probes: the output must match, else the step fails with `fail` as the message. */
      expect?: RegExp;
      /** For --dry-run: a read-only script that prints `changed …` for what `script` would do. */
      dryRun?: string;
      fail?: { message: string; hint: string };
    }
  /** daemon-reload when owed, enable, restart the services owed a restart, start inactive ones. */
  | { kind: "services"; services: Array<{ name: string; enable: boolean }>; noBlock?: boolean }
  /** Poll until the script's output matches (readiness). Skipped in --dry-run. */
  | {
      kind: "wait";
      name: string;
      script: string;
      expect: RegExp;
      attempts: number;
      intervalMs: number;
      hint: string;
      /** On time-out: read `unit`'s journal on the suspect hosts (from the last output) and name the causes seen. */
      diagnose?: {
        unit: string;
        causes: readonly JournalCause[];
        suspects: (lastOutput: string) => string[];
      };
    }
  /** Place a manifest on the applying host and `kubectl apply` it when it changed (or the apply is owed). */
  | { kind: "apply"; manifest: Manifest }
  /** Write the admin's own kubeconfig into the working directory (local). */
  | { kind: "admin-kubeconfig" }
  /**
   * Kubelet serving CSRs (no controller approves them): fetch the pending ones, review each against
   * the spec (requestor, subject, usages, SANs only the node's own name and address: see
   * `reviewKubeletServingCsr`), approve the accepted ones and say why each refused one was refused.
   */
  | { kind: "approve-serving-csrs" };

export interface PhaseDefinition {
  name: PhaseName;
  description: string;
  /** Needs a running kube-apiserver (checked first; the phase reports clearly when it cannot run). */
  needsApi: boolean;
  /** Start every host at once, whatever --concurrency says (etcd members must start together). */
  together: boolean;
  /** At most this many hosts at once whatever --concurrency says (control planes: one by one, so the API stays up). */
  maxParallel?: number;
  /** The hosts it runs on. */
  hosts(cluster: Cluster, artifacts: Artifacts): ClusterNode[];
  /** The steps on one host. */
  steps(ctx: PhaseContext, node: ClusterNode): Step[];
}

export interface PhaseContext {
  cluster: Cluster;
  artifacts: Artifacts;
  binaries: BinaryArtifact[];
}

const uploads = (ctx: PhaseContext, phase: FilePhase, node: ClusterNode): Step[] =>
  filesForPhase(ctx.artifacts, phase, node.name).map((file) => ({ kind: "upload", file }));

/** The release files of the phase's services (the service catalogue of @khw/systemd-units). */
const installs = (ctx: PhaseContext, phase: PhaseName, node: ClusterNode): Step[] =>
  installsForPhase(ctx.binaries, phase, node.role).map((artifact) => ({ kind: "install", artifact }));

/** The phase's services of the catalogue on this node (order = start order). */
const services = (phase: PhaseName, node: ClusterNode, extra: { noBlock?: boolean } = {}): Step => ({
  kind: "services",
  services: servicesInPhase(phase, node.role),
  ...extra,
});

const withFiles = (phase: FilePhase) => (cluster: Cluster, artifacts: Artifacts) =>
  cluster.nodes.filter((n) => filesForPhase(artifacts, phase, n.name).length > 0);

/** The control plane that runs kubectl for the cluster-object phases. */
export function applyHost(cluster: Cluster): ClusterNode {
  return cluster.controlPlanes[0]!;
}

const kubectl = `${binaryPath("kubectl")} --kubeconfig ${ADMIN_KUBECONFIG}`;

const manifestSteps = (ctx: PhaseContext, phase: Manifest["phase"]): Step[] =>
  ctx.artifacts.manifests.filter((m) => m.phase === phase).map((manifest) => ({ kind: "apply", manifest }));

/**
 * The bring-up, as data: one entry per name of the phase list (PHASE_NAMES of @khw/spec), a compile
 * error when a phase has none. Adding a phase is adding its name there and its entry here.
 */
const PHASE_TABLE: { readonly [P in PhaseName]: Omit<PhaseDefinition, "name"> } = {
  preflight: {
    description:
      "SSH and sudo, OS/arch, swap, clocks, kernel modules, free ports, node address on an interface, CIDR overlaps",
    needsApi: false,
    together: false,
    hosts: (cluster) => cluster.nodes,
    steps: () => [{ kind: "facts" }],
  },
  pki: {
    description: "certificates and keys to every host (the CA key to control planes only)",
    needsApi: false,
    together: false,
    hosts: withFiles("pki"),
    steps: (ctx, node) => uploads(ctx, "pki", node),
  },
  kubeconfigs: {
    description:
      "component kubeconfigs (controller-manager, scheduler, admin, kube-proxy, kubelet/bootstrap)",
    needsApi: false,
    together: false,
    hosts: withFiles("kubeconfigs"),
    steps: (ctx, node) => uploads(ctx, "kubeconfigs", node),
  },
  encryption: {
    description: "encryption-config.yaml (aescbc, secrets at rest) to the control planes",
    needsApi: false,
    together: false,
    hosts: withFiles("encryption"),
    steps: (ctx, node) => uploads(ctx, "encryption", node),
  },
  etcd: {
    description: "etcd binaries and unit on every control plane, started together, then endpoint health",
    needsApi: false,
    together: true,
    hosts: (cluster) => cluster.controlPlanes,
    steps: (ctx, node) => [
      ...installs(ctx, "etcd", node),
      ...uploads(ctx, "etcd", node),
      services("etcd", node, { noBlock: true }),
      {
        kind: "wait",
        name: "etcd endpoint health",
        script:
          `ETCDCTL_API=3 ${binaryPath("etcdctl")} --endpoints=https://127.0.0.1:2379 --cacert=${certPath("ca", "etcdPki")} ` +
          `--cert=${certPath("etcd-server", "etcdPki")} --key=${keyPath("etcd-server", "etcdPki")} endpoint health 2>&1 || true`,
        expect: /is healthy/,
        attempts: 60,
        intervalMs: 2000,
        hint: "etcd members must start close together and reach each other on :2380 (check `journalctl -u etcd` for peer URL or certificate errors)",
      },
    ],
  },
  "control-plane": {
    description:
      "kube-apiserver, controller-manager, scheduler (+ kubectl), one control plane at a time (each /readyz before the next)",
    needsApi: false,
    together: false,
    maxParallel: 1,
    hosts: (cluster) => cluster.controlPlanes,
    steps: (ctx, node) => [
      ...installs(ctx, "control-plane", node),
      ...uploads(ctx, "control-plane", node),
      services("control-plane", node),
      {
        kind: "wait",
        name: "kube-apiserver /readyz",
        script: `${kubectl} get --raw /readyz 2>&1 || true`,
        expect: /^ok/m,
        attempts: 60,
        intervalMs: 2000,
        hint: "check `journalctl -u kube-apiserver` (etcd reachable? certificate SANs? encryption config?)",
      },
    ],
  },
  loadbalancer: {
    description: "HAProxy in TCP mode on :6443 in front of the control planes",
    needsApi: false,
    together: false,
    hosts: (cluster) => (cluster.loadBalancer ? [cluster.loadBalancer] : []),
    steps: (ctx, node) => [
      {
        kind: "run",
        // socat talks to HAProxy's admin socket: a control plane added or removed is taken out of rotation
        // while its apiserver restarts (day2/membership.ts).
        name: "install haproxy and socat (distribution packages)",
        script:
          "{ command -v haproxy && command -v socat; } >/dev/null 2>&1 || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy socat >/dev/null " +
          "|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy socat >/dev/null; }; echo changed haproxy socat; }",
        dryRun:
          '{ command -v haproxy && command -v socat; } >/dev/null 2>&1 || echo "changed install haproxy socat"',
      },
      ...uploads(ctx, "loadbalancer", node),
      {
        kind: "run",
        name: "haproxy -c",
        script: `haproxy -c -f ${NODE_FILES.haproxyConfig} 2>&1`,
        probe: true,
      },
      services("loadbalancer", node),
    ],
  },
  workers: {
    description:
      "kernel modules, sysctls, containerd + runc + CNI plugins, kubelet, kube-proxy on the workers",
    needsApi: false,
    together: false,
    hosts: (cluster) => cluster.workers,
    steps: (ctx, node) => [
      ...installs(ctx, "workers", node),
      ...uploads(ctx, "workers", node),
      services("workers", node),
      {
        kind: "run",
        name: "check sysctls",
        probe: true,
        script:
          "for s in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables; do printf '%s=%s\\n' $s \"$(cat /proc/sys/$s 2>/dev/null)\"; done",
        expect: /ip_forward=1\n.*bridge-nf-call-iptables=1/,
        fail: {
          message:
            "net.ipv4.ip_forward / net.bridge.bridge-nf-call-iptables are not 1 after `sysctl --system`",
          hint: `another file in ${NODE_DIRS.sysctl} overrides ${NODE_FILES.sysctl}, or br_netfilter is not loaded`,
        },
      },
      ...imageImports(ctx.cluster),
      ...(ctx.cluster.spec.addons.podNetwork === "bridge-routes" ? podRoutes(ctx.cluster, node) : []),
    ],
  },
  admin: {
    description:
      "the admin kubeconfig (admin.kubeconfig beside cluster.yaml); the API answers through the endpoint",
    needsApi: true,
    together: false,
    hosts: (cluster) => [applyHost(cluster)],
    steps: (ctx) => [
      { kind: "admin-kubeconfig" },
      {
        kind: "wait",
        name: `API through ${ctx.cluster.api.url}`,
        script: `${kubectl} --server ${ctx.cluster.api.url} get --raw /readyz 2>&1 || true`,
        expect: /^ok/m,
        attempts: 30,
        intervalMs: 2000,
        hint: ctx.cluster.api.viaLoadBalancer
          ? `the load balancer does not forward :${API_PORT} (check haproxy on ${ctx.cluster.loadBalancer?.name} and that the apiserver cert has the LB IP)`
          : "the apiserver does not answer on its address",
      },
    ],
  },
  network: {
    description:
      "the pod network (Weave Net with IPALLOC_RANGE = pod CIDR, Flannel with Network = pod CIDR, or bridge CNI + routes)",
    needsApi: true,
    together: false,
    hosts: (cluster) => [applyHost(cluster)],
    steps: (ctx) => [
      ...manifestSteps(ctx, "network"),
      ...(ctx.cluster.spec.addons.podNetwork === "weave" && ctx.cluster.workers.length > 0
        ? [
            rolloutWait(
              "daemonset",
              "weave-net",
              "{.status.numberReady}/{.status.desiredNumberScheduled}",
              "Weave must reach the API service IP from every worker (kube-proxy running? IPALLOC_RANGE = pod CIDR?): `kubectl -n kube-system logs ds/weave-net -c weave`",
            ),
          ]
        : []),
      ...(ctx.cluster.spec.addons.podNetwork === "flannel" && ctx.cluster.workers.length > 0
        ? [
            rolloutWait(
              "daemonset",
              FLANNEL_DAEMONSET,
              "{.status.numberReady}/{.status.desiredNumberScheduled}",
              "flanneld needs a default route on every worker (it picks its interface from it), the API service IP reachable (kube-proxy running) and each node's spec.podCIDR (controller-manager --allocate-node-cidrs): `kubectl -n kube-flannel logs ds/kube-flannel-ds`",
              FLANNEL_NAMESPACE,
            ),
          ]
        : []),
    ],
  },
  rbac: {
    description:
      "apiserver→kubelet RBAC (bound to the kubelet-client cert's CN), TLS bootstrap token and bindings, serving CSR approval",
    needsApi: true,
    together: false,
    hosts: (cluster) => [applyHost(cluster)],
    steps: (ctx) => [
      ...manifestSteps(ctx, "rbac"),
      ...(ctx.cluster.workers.some((w) => w.kubeletCredentials === "tls-bootstrap")
        ? [waitServingCsrs(ctx.cluster), { kind: "approve-serving-csrs" as const }]
        : []),
    ],
  },
  dns: {
    description: "CoreDNS (Deployment, Service kube-dns at the DNS service IP)",
    needsApi: true,
    together: false,
    hosts: (cluster) => (cluster.spec.addons.dns ? [applyHost(cluster)] : []),
    steps: (ctx) => [
      ...manifestSteps(ctx, "dns"),
      ...(ctx.cluster.workers.length > 0
        ? [
            rolloutWait(
              "deployment",
              "coredns",
              "{.status.readyReplicas}/{.spec.replicas}",
              "CoreDNS pods not ready: pod network up? a loop with systemd-resolved (kubelet resolvConf must be /run/systemd/resolve/resolv.conf)?",
            ),
          ]
        : []),
    ],
  },
  smoke: {
    description: "every node registered and Ready (the full smoke tests: `khw smoke`)",
    needsApi: true,
    together: false,
    hosts: (cluster) => [applyHost(cluster)],
    steps: (ctx) => [
      {
        kind: "wait",
        name: `${ctx.cluster.workers.length} node(s) Ready`,
        script: `${kubectl} get nodes --no-headers 2>&1 | awk '$2 ~ /^Ready/ {n++; print "ready-node " $1} END {print "ready=" n+0}'`,
        expect: new RegExp(`^ready=${ctx.cluster.workers.length}$`, "m"),
        attempts: 90,
        intervalMs: 2000,
        hint: "check the kubelets (`journalctl -u kubelet` on the workers): pod network up? node IP right? bootstrap CSR approved?",
        diagnose: {
          unit: "kubelet",
          causes: KUBELET_CAUSES,
          suspects: (out) =>
            ctx.cluster.workers
              .map((w) => w.name)
              .filter((n) => !out.split("\n").includes(`ready-node ${n}`)),
        },
      },
    ],
  },
};

/** The phases in bring-up order. */
export const PHASES: readonly PhaseDefinition[] = PHASE_NAMES.map((name) => ({ name, ...PHASE_TABLE[name] }));

/** Waits until a kube-system workload reports all replicas ready (`n/n`, n > 0). */
function rolloutWait(
  kind: string,
  name: string,
  jsonpath: string,
  hint: string,
  namespace = "kube-system",
): Step {
  return {
    kind: "wait",
    name: `${kind} ${name} ready`,
    script: `${kubectl} -n ${namespace} get ${kind} ${name} -o jsonpath='${jsonpath}' 2>&1 || true`,
    expect: /^([1-9]\d*)\/\1$/,
    attempts: 90,
    intervalMs: 2000,
    hint,
  };
}

const CTR = binaryPath("ctr");

/**
 * binaries.images: image tarballs under the mirror, fetched and imported into containerd's k8s.io
 * namespace on each worker when the reference is missing (the kubelet retries a sandbox whose image is
 * missing, so importing after the services start is enough). Only with a mirror (the lab writes both).
 */
export function imageImports(cluster: Cluster): Step[] {
  const mirror = cluster.spec.binaries.source === "mirror" ? cluster.spec.binaries.mirror : undefined;
  if (!mirror) return [];
  const base = mirror.replace(/\/+$/, "");
  return (cluster.spec.binaries.images ?? []).map((img) => ({
    kind: "run" as const,
    name: `image ${img.ref}`,
    script:
      `if ${CTR} -n k8s.io images ls -q | grep -qxF "$2"; then exit 0; fi; ` +
      `f=$(mktemp) && curl -fsS --retry 3 -o "$f" "$1" && ${CTR} -n k8s.io images import "$f" >/dev/null; ` +
      'rc=$?; rm -f "$f"; [ $rc -eq 0 ] && echo "changed image $2"; exit $rc',
    dryRun: `${CTR} -n k8s.io images ls -q 2>/dev/null | grep -qxF "$2" || echo "changed image $2"`,
    args: [`${base}/${img.path.replace(/^\/+/, "")}`, img.ref],
  }));
}

/** Static routes to the other workers' pod CIDRs (the original guide's pod network). */
function podRoutes(cluster: Cluster, node: ClusterNode): Step[] {
  return cluster.workers
    .filter((w) => w.name !== node.name && w.podCIDR)
    .map((w) => ({
      kind: "run" as const,
      name: `route ${w.podCIDR} via ${w.address}`,
      script:
        'if ! ip -4 route show "$1" | grep -q "via $2 "; then ip -4 route replace "$1" via "$2"; echo "changed route $1"; fi',
      dryRun: 'ip -4 route show "$1" | grep -q "via $2 " || echo "changed route $1 via $2"',
      args: [w.podCIDR!, w.address],
    }));
}

/**
 * A tls-bootstrap kubelet submits its serving CSR only after its client certificate is issued, which can
 * be seconds after this phase starts: wait (bounded, 90 s) until every tls-bootstrap worker has one, or
 * already serves (its kubelet answers through the apiserver: the CSR may be garbage-collected by now).
 */
function waitServingCsrs(cluster: Cluster): Step {
  const nodes = cluster.workers.filter((w) => w.kubeletCredentials === "tls-bootstrap").map((w) => w.name);
  return {
    kind: "wait",
    name: "kubelet-serving CSRs of tls-bootstrap workers submitted",
    script: [
      `set -- ${nodes.map(shellQuote).join(" ")}`,
      `csrs=$(${kubectl} get csr -o jsonpath='{range .items[?(@.spec.signerName=="kubernetes.io/kubelet-serving")]}{.spec.username}{"\\n"}{end}' 2>/dev/null)`,
      'missing=""',
      'for n in "$@"; do',
      '  if printf "%s\\n" "$csrs" | grep -qxF "system:node:$n"; then continue; fi',
      `  if ${kubectl} get --raw "/api/v1/nodes/$n/proxy/healthz" >/dev/null 2>&1; then continue; fi`,
      '  missing="$missing $n"',
      "done",
      'echo "serving-csr-missing=$(echo $missing)"',
    ].join("\n"),
    expect: /^serving-csr-missing=$/m,
    attempts: 45,
    intervalMs: 2000,
    hint: "the kubelet of each listed worker has not asked for a serving certificate: is it running and bootstrapped (`journalctl -u kubelet`, `kubectl get csr`)? `khw up --only rbac` approves it later",
  };
}

export function phaseByName(name: string): PhaseDefinition | undefined {
  return PHASES.find((p) => p.name === name);
}

export function phaseContext(cluster: Cluster, artifacts: Artifacts): PhaseContext {
  return { cluster, artifacts, binaries: binaryArtifacts(cluster) };
}
