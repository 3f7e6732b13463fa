import { AddonsError } from "./errors";
import {
  type ClusterRole,
  type ClusterRoleBinding,
  type Complete,
  type ConfigMap,
  type Deployment,
  MANAGED_BY_LABEL,
  RBAC_API_GROUP,
  type Service,
  type ServiceAccount,
} from "./objects";

export interface CorednsInput {
  /** CoreDNS version without the `v`, e.g. `1.11.3`. */
  version: string;
  /** The kube-dns Service's clusterIP: what every kubelet's clusterDNS points at. */
  dnsServiceIP: string;
  /** e.g. `cluster.local`: must equal the kubelets' clusterDomain. */
  clusterDomain: string;
  /** Default 2. */
  replicas?: number;
  /** Default `registry.k8s.io/coredns/coredns`. */
  imageRepository?: string;
}

export const COREDNS_IMAGE_REPOSITORY = "registry.k8s.io/coredns/coredns";
const NS = "kube-system";
const SELECTOR = { "k8s-app": "kube-dns", "app.kubernetes.io/name": "coredns" };
const LABELS = { ...SELECTOR, "kubernetes.io/name": "CoreDNS" };

/**
 * The Corefile: serves the cluster domain and the reverse zones from the API, forwards the rest to
 * the node's resolv.conf (the kubelet gives pods with dnsPolicy Default the node's real resolver —
 * /run/systemd/resolve/resolv.conf on Ubuntu — so `loop` does not trip on 127.0.0.53).
 */
export function corefile(clusterDomain: string): string {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(clusterDomain)) {
    throw new AddonsError(
      "INVALID_INPUT",
      "clusterDomain",
      `'${clusterDomain}' is not a DNS name`,
      "e.g. cluster.local",
    );
  }
  return [
    ".:53 {",
    "    errors",
    "    health {",
    "        lameduck 5s",
    "    }",
    "    ready",
    `    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {`,
    "        pods insecure",
    "        fallthrough in-addr.arpa ip6.arpa",
    "        ttl 30",
    "    }",
    "    prometheus :9153",
    "    forward . /etc/resolv.conf {",
    "        max_concurrent 1000",
    "    }",
    "    cache 30",
    "    loop",
    "    reload",
    "    loadbalance",
    "}",
    "",
  ].join("\n");
}

export type CorednsObject =
  | Complete<ServiceAccount>
  | Complete<ClusterRole>
  | Complete<ClusterRoleBinding>
  | Complete<ConfigMap>
  | Complete<Deployment>
  | Complete<Service>;

/** ServiceAccount, ClusterRole, ClusterRoleBinding, ConfigMap (Corefile), Deployment, Service kube-dns. */
export function corednsObjects(input: CorednsInput): CorednsObject[] {
  if (!/^\d+\.\d+\.\d+$/.test(input.version)) {
    throw new AddonsError(
      "INVALID_INPUT",
      "version",
      `'${input.version}' is not a CoreDNS version`,
      "e.g. 1.11.3",
    );
  }
  if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(input.dnsServiceIP)) {
    throw new AddonsError("INVALID_INPUT", "dnsServiceIP", `'${input.dnsServiceIP}' is not an IPv4 address`);
  }
  const replicas = input.replicas ?? 2;
  if (!(Number.isInteger(replicas) && replicas >= 1)) {
    throw new AddonsError("INVALID_INPUT", "replicas", `${replicas} is not a positive whole number`);
  }
  const image = `${input.imageRepository ?? COREDNS_IMAGE_REPOSITORY}:v${input.version}`;
  const managed = { ...MANAGED_BY_LABEL };
  return [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "coredns", namespace: NS, labels: managed },
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: {
        name: "system:coredns",
        labels: { "kubernetes.io/bootstrapping": "rbac-defaults", ...managed },
      },
      rules: [
        {
          apiGroups: [""],
          resources: ["endpoints", "services", "pods", "namespaces"],
          verbs: ["list", "watch"],
        },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: {
        name: "system:coredns",
        labels: { "kubernetes.io/bootstrapping": "rbac-defaults", ...managed },
        annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" },
      },
      roleRef: { apiGroup: RBAC_API_GROUP, kind: "ClusterRole", name: "system:coredns" },
      subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: NS }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "coredns", namespace: NS, labels: managed },
      data: { Corefile: corefile(input.clusterDomain) },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "coredns", namespace: NS, labels: { ...LABELS, ...managed } },
      spec: {
        replicas,
        strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
        selector: { matchLabels: { ...SELECTOR } },
        template: {
          metadata: { labels: { ...SELECTOR } },
          spec: {
            priorityClassName: "system-cluster-critical",
            serviceAccountName: "coredns",
            tolerations: [{ key: "CriticalAddonsOnly", operator: "Exists" }],
            nodeSelector: { "kubernetes.io/os": "linux" },
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      labelSelector: {
                        matchExpressions: [{ key: "k8s-app", operator: "In", values: ["kube-dns"] }],
                      },
                      topologyKey: "kubernetes.io/hostname",
                    },
                  },
                ],
              },
            },
            containers: [
              {
                name: "coredns",
                image,
                imagePullPolicy: "IfNotPresent",
                resources: { limits: { memory: "170Mi" }, requests: { cpu: "100m", memory: "70Mi" } },
                args: ["-conf", "/etc/coredns/Corefile"],
                volumeMounts: [{ name: "config-volume", mountPath: "/etc/coredns", readOnly: true }],
                ports: [
                  { containerPort: 53, name: "dns", protocol: "UDP" },
                  { containerPort: 53, name: "dns-tcp", protocol: "TCP" },
                  { containerPort: 9153, name: "metrics", protocol: "TCP" },
                ],
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] },
                  readOnlyRootFilesystem: true,
                },
                livenessProbe: {
                  httpGet: { path: "/health", port: 8080, scheme: "HTTP" },
                  initialDelaySeconds: 60,
                  timeoutSeconds: 5,
                  successThreshold: 1,
                  failureThreshold: 5,
                },
                readinessProbe: { httpGet: { path: "/ready", port: 8181, scheme: "HTTP" } },
              },
            ],
            dnsPolicy: "Default",
            volumes: [
              {
                name: "config-volume",
                configMap: { name: "coredns", items: [{ key: "Corefile", path: "Corefile" }] },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: "kube-dns",
        namespace: NS,
        labels: { ...LABELS, "kubernetes.io/cluster-service": "true", ...managed },
        annotations: { "prometheus.io/port": "9153", "prometheus.io/scrape": "true" },
      },
      spec: {
        selector: { ...SELECTOR },
        clusterIP: input.dnsServiceIP,
        ports: [
          { name: "dns", port: 53, protocol: "UDP" },
          { name: "dns-tcp", port: 53, protocol: "TCP" },
          { name: "metrics", port: 9153, protocol: "TCP" },
        ],
      },
    },
  ];
}
