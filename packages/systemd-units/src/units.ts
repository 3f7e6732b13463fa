import { BINARY_PATHS, PATHS, PKI_PATHS } from "./paths";
import { flags, type ServiceUnit } from "./unit";

const DOCS = "https://github.com/kubernetes/kubernetes";
const restart = { restart: "on-failure", restartSec: 5 } as const;
const install = { wantedBy: ["multi-user.target"] };

/** What an etcd member needs to know: itself and the initial cluster. */
export interface EtcdUnitInput {
  name: string;
  address: string;
  /** `name=https://IP:2380,...` of every member. */
  initialCluster: string;
  initialClusterToken: string;
}

/** etcd with TLS for clients and peers, client-cert auth on both, stacked on a control plane. */
export function etcdUnit(i: EtcdUnitInput): ServiceUnit {
  return {
    unit: {
      description: "etcd",
      documentation: ["https://github.com/etcd-io/etcd"],
      after: ["network-online.target"],
      wants: ["network-online.target"],
    },
    service: {
      type: "notify",
      execStart: [
        BINARY_PATHS.etcd,
        `--name=${i.name}`,
        `--cert-file=${PKI_PATHS.etcdServer}`,
        `--key-file=${PKI_PATHS.etcdServerKey}`,
        `--peer-cert-file=${PKI_PATHS.etcdServer}`,
        `--peer-key-file=${PKI_PATHS.etcdServerKey}`,
        `--trusted-ca-file=${PKI_PATHS.etcdCa}`,
        `--peer-trusted-ca-file=${PKI_PATHS.etcdCa}`,
        "--peer-client-cert-auth",
        "--client-cert-auth",
        `--initial-advertise-peer-urls=https://${i.address}:2380`,
        `--listen-peer-urls=https://${i.address}:2380`,
        `--listen-client-urls=https://${i.address}:2379,https://127.0.0.1:2379`,
        `--advertise-client-urls=https://${i.address}:2379`,
        `--initial-cluster-token=${i.initialClusterToken}`,
        `--initial-cluster=${i.initialCluster}`,
        "--initial-cluster-state=new",
        `--data-dir=${PATHS.etcdDataDir}`,
      ],
      ...restart,
      limitNOFILE: 40000,
    },
    install,
  };
}

export interface ApiserverUnitInput {
  /** The control plane's own address (advertised to the cluster). */
  address: string;
  /** Client URLs of every etcd member. */
  etcdServers: string[];
  serviceCIDR: string;
  nodePortRange: string;
  /** The API URL clients use (the load balancer): `https://LB:6443`. */
  serviceAccountIssuer: string;
}

export function kubeApiserverUnit(i: ApiserverUnitInput): ServiceUnit {
  return {
    unit: { description: "Kubernetes API Server", documentation: [DOCS], after: ["network.target"] },
    service: {
      execStart: [
        BINARY_PATHS.kubeApiserver,
        ...flags([
          ["advertise-address", i.address],
          ["allow-privileged", true],
          ["audit-log-maxage", 30],
          ["audit-log-maxbackup", 3],
          ["audit-log-maxsize", 100],
          ["audit-log-path", PATHS.auditLog],
          ["authorization-mode", "Node,RBAC"],
          ["bind-address", "0.0.0.0"],
          ["client-ca-file", PKI_PATHS.ca],
          ["enable-admission-plugins", "NodeRestriction,ServiceAccount"],
          ["enable-bootstrap-token-auth", true],
          ["etcd-cafile", PKI_PATHS.etcdCa],
          ["etcd-certfile", PKI_PATHS.etcdServer],
          ["etcd-keyfile", PKI_PATHS.etcdServerKey],
          ["etcd-servers", i.etcdServers.join(",")],
          ["event-ttl", "1h"],
          ["encryption-provider-config", PATHS.encryptionConfig],
          ["kubelet-certificate-authority", PKI_PATHS.ca],
          ["kubelet-client-certificate", PKI_PATHS.apiserverKubeletClient],
          ["kubelet-client-key", PKI_PATHS.apiserverKubeletClientKey],
          ["runtime-config", "api/all=true"],
          ["service-account-key-file", PKI_PATHS.serviceAccount],
          ["service-account-signing-key-file", PKI_PATHS.serviceAccountKey],
          ["service-account-issuer", i.serviceAccountIssuer],
          ["service-cluster-ip-range", i.serviceCIDR],
          ["service-node-port-range", i.nodePortRange],
          // On SIGTERM: finish the requests in flight (new ones get 429 + Retry-After, /readyz fails so the
          // load balancer moves on), then close the watches within 2 s. Without it the server waits
          // --request-timeout (60 s) for its watch connections: every restart took a minute.
          ["shutdown-send-retry-after", true],
          ["tls-cert-file", PKI_PATHS.apiserver],
          ["tls-private-key-file", PKI_PATHS.apiserverKey],
          ["v", 2],
        ]),
      ],
      ...restart,
    },
    install,
  };
}

export interface ControllerManagerUnitInput {
  podCIDR: string;
  serviceCIDR: string;
  nodeCIDRMaskSize: number;
  /**
   * Whether the controller-manager hands each node a slice of the pod CIDR (`spec.podCIDR`) in the order
   * nodes register (default true). False when something else owns the slices (the bridge-routes network
   * writes each worker's slice, in spec order, into its CNI config and the other workers' routes).
   */
  allocateNodeCIDRs?: boolean;
}

export function kubeControllerManagerUnit(i: ControllerManagerUnitInput): ServiceUnit {
  const kubeconfig = PATHS.kubeconfigs.kubeControllerManager;
  return {
    unit: { description: "Kubernetes Controller Manager", documentation: [DOCS], after: ["network.target"] },
    service: {
      execStart: [
        BINARY_PATHS.kubeControllerManager,
        ...flags([
          ["allocate-node-cidrs", i.allocateNodeCIDRs ?? true],
          ["authentication-kubeconfig", kubeconfig],
          ["authorization-kubeconfig", kubeconfig],
          ["bind-address", "127.0.0.1"],
          ["client-ca-file", PKI_PATHS.ca],
          ["cluster-cidr", i.podCIDR],
          ["cluster-name", "kubernetes"],
          ["cluster-signing-cert-file", PKI_PATHS.ca],
          ["cluster-signing-key-file", PKI_PATHS.caKey],
          ["controllers", "*,bootstrapsigner,tokencleaner"],
          ["kubeconfig", kubeconfig],
          ["leader-elect", true],
          ["node-cidr-mask-size", i.nodeCIDRMaskSize],
          ["requestheader-client-ca-file", PKI_PATHS.ca],
          ["root-ca-file", PKI_PATHS.ca],
          ["service-account-private-key-file", PKI_PATHS.serviceAccountKey],
          ["service-cluster-ip-range", i.serviceCIDR],
          ["use-service-account-credentials", true],
          ["v", 2],
        ]),
      ],
      ...restart,
    },
    install,
  };
}

/** The scheduler reads everything from its KubeSchedulerConfiguration. */
export function kubeSchedulerUnit(): ServiceUnit {
  return {
    unit: { description: "Kubernetes Scheduler", documentation: [DOCS], after: ["network.target"] },
    service: {
      execStart: [
        BINARY_PATHS.kubeScheduler,
        ...flags([
          ["config", PATHS.kubeSchedulerConfig],
          ["v", 2],
        ]),
      ],
      ...restart,
    },
    install,
  };
}

/** containerd as upstream ships its unit (notify, delegated cgroups, process kill mode), restarted on failure. */
export function containerdUnit(): ServiceUnit {
  return {
    unit: {
      description: "containerd container runtime",
      documentation: ["https://containerd.io"],
      after: ["network.target", "local-fs.target", "systemd-modules-load.service"],
    },
    service: {
      type: "notify",
      execStart: [BINARY_PATHS.containerd, `--config=${PATHS.containerdConfig}`],
      ...restart,
      delegate: true,
      killMode: "process",
      limitNPROC: "infinity",
      limitCORE: "infinity",
      tasksMax: "infinity",
      oomScoreAdjust: -999,
    },
    install,
  };
}

export interface KubeletUnitInput {
  /** The address to register (never the NAT address Vagrant VMs also have). */
  nodeIP: string;
  credentials: "certificate" | "tls-bootstrap";
  /**
   * Routes to the other workers' pod slices (the bridge-routes network), re-added before every kubelet
   * start so they come back after a reboot: `ip route replace <cidr> via <address>`.
   */
  podRoutes?: ReadonlyArray<{ cidr: string; via: string }>;
}

/** Where `ip` lives on every distribution khw supports (usr-merged: /sbin → /usr/sbin). */
export const IP_BINARY = "/sbin/ip";

export function kubeletUnit(i: KubeletUnitInput): ServiceUnit {
  const k = PATHS.kubeconfigs;
  return {
    unit: {
      description: "Kubernetes Kubelet",
      documentation: [DOCS],
      after: ["containerd.service"],
      requires: ["containerd.service"],
    },
    service: {
      ...(i.podRoutes?.length
        ? {
            execStartPre: i.podRoutes.map((r) => [IP_BINARY, "-4", "route", "replace", r.cidr, "via", r.via]),
          }
        : {}),
      execStart: [
        BINARY_PATHS.kubelet,
        ...flags([
          ["bootstrap-kubeconfig", i.credentials === "tls-bootstrap" ? k.kubeletBootstrap : undefined],
          ["cert-dir", i.credentials === "tls-bootstrap" ? `${PATHS.kubeletCertDir}/` : undefined],
          ["config", PATHS.kubeletConfig],
          ["kubeconfig", k.kubelet],
          ["node-ip", i.nodeIP],
          ["v", 2],
        ]),
      ],
      ...restart,
    },
    install,
  };
}

export function kubeProxyUnit(): ServiceUnit {
  return {
    unit: { description: "Kubernetes Kube Proxy", documentation: [DOCS], after: ["network.target"] },
    service: {
      execStart: [BINARY_PATHS.kubeProxy, ...flags([["config", PATHS.kubeProxyConfig]])],
      ...restart,
    },
    install,
  };
}
