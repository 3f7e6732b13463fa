import { AddonsError } from "./errors";
import {
  type ClusterRole,
  type ClusterRoleBinding,
  type Complete,
  type ConfigMap,
  type DaemonSet,
  MANAGED_BY_LABEL,
  type Namespace,
  RBAC_API_GROUP,
  type ServiceAccount,
} from "./objects";

export interface FlannelInput {
  /** Network in net-conf.json: must be the controller-manager's `--cluster-cidr` (the spec's pod CIDR). */
  podCIDR: string;
  /** flanneld's image (also runs install-conf); default {@link FLANNEL_IMAGE}. */
  image?: string;
  /**
   * The image whose `/flannel` the install-cni-plugin init container copies into /opt/cni/bin; default
   * {@link FLANNEL_CNI_PLUGIN_IMAGE}. `null`: the flannel plugin is installed with the other CNI plugins
   * (khw's bundle builds it from containernetworking/plugins v0.9.1), so there is no such init container
   * and the CNI config says the CNI version that plugin speaks (0.4.0).
   */
  cniPluginImage?: string | null;
}

export const FLANNEL_IMAGE = "ghcr.io/flannel-io/flannel:v0.28.10";
export const FLANNEL_CNI_PLUGIN_IMAGE = "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3";
export const FLANNEL_NAMESPACE = "kube-flannel";
export const FLANNEL_DAEMONSET = "kube-flannel-ds";
const NAME = "flannel";
const CONFIG_MAP = "kube-flannel-cfg";

export type FlannelObject =
  | Complete<Namespace>
  | Complete<ServiceAccount>
  | Complete<ClusterRole>
  | Complete<ClusterRoleBinding>
  | Complete<ConfigMap>
  | Complete<DaemonSet>;

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** The CNI network list flannel's install-cni init container writes to /etc/cni/net.d/10-flannel.conflist. */
export function flannelCniConf(cniVersion: string): string {
  return json({
    name: "cbr0",
    cniVersion,
    plugins: [
      { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  });
}

/** flanneld's net-conf.json: the cluster's pod CIDR, iptables (not nftables), the vxlan backend. */
export function flannelNetConf(podCIDR: string): string {
  return json({ Network: podCIDR, EnableNFTables: false, Backend: { Type: "vxlan" } });
}

/**
 * Flannel as its v0.28 release manifest (`Documentation/kube-flannel.yml`) ships it — the kube-flannel
 * Namespace, RBAC, the kube-flannel-cfg ConfigMap and the kube-flannel-ds DaemonSet running
 * `flanneld --ip-masq --kube-subnet-mgr` on the host network — with `Network` = the pod CIDR: with the
 * kube subnet manager each node's lease is its `spec.podCIDR`, allocated by the controller-manager
 * (`--allocate-node-cidrs`, `--cluster-cidr` = the same CIDR), so there is one owner of every range.
 * Also: every object labelled as khw's, images fully qualified.
 */
export function flannelObjects(input: FlannelInput): FlannelObject[] {
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(input.podCIDR)) {
    throw new AddonsError(
      "INVALID_INPUT",
      "podCIDR",
      `'${input.podCIDR}' is not an IPv4 CIDR`,
      "e.g. 10.244.0.0/16",
    );
  }
  const image = input.image ?? FLANNEL_IMAGE;
  const pluginImage = input.cniPluginImage === undefined ? FLANNEL_CNI_PLUGIN_IMAGE : input.cniPluginImage;
  const labels = { "k8s-app": NAME, ...MANAGED_BY_LABEL };
  const nodeLabels = { tier: "node", app: NAME, ...labels };
  const ns = FLANNEL_NAMESPACE;
  const hostPath = (name: string, path: string, type?: string) => ({
    name,
    hostPath: { path, ...(type ? { type } : {}) },
  });
  const fieldEnv = (name: string, fieldPath: string) => ({
    name,
    valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } },
  });
  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns, labels: { ...labels, "pod-security.kubernetes.io/enforce": "privileged" } },
    },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NAME, namespace: ns, labels } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: NAME, labels },
      rules: [
        { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
        { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: NAME, labels },
      roleRef: { apiGroup: RBAC_API_GROUP, kind: "ClusterRole", name: NAME },
      subjects: [{ kind: "ServiceAccount", name: NAME, namespace: ns }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: CONFIG_MAP, namespace: ns, labels: nodeLabels },
      data: {
        "cni-conf.json": flannelCniConf(pluginImage === null ? "0.4.0" : "1.0.0"),
        "net-conf.json": flannelNetConf(input.podCIDR),
      },
    },
    {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: FLANNEL_DAEMONSET, namespace: ns, labels: nodeLabels },
      spec: {
        selector: { matchLabels: { app: NAME } },
        template: {
          metadata: { labels: { tier: "node", app: NAME } },
          spec: {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    { matchExpressions: [{ key: "kubernetes.io/os", operator: "In", values: ["linux"] }] },
                  ],
                },
              },
            },
            hostNetwork: true,
            priorityClassName: "system-node-critical",
            tolerations: [{ operator: "Exists", effect: "NoSchedule" }],
            serviceAccountName: NAME,
            initContainers: [
              ...(pluginImage === null
                ? []
                : [
                    {
                      name: "install-cni-plugin",
                      image: pluginImage,
                      command: ["cp"],
                      args: ["-f", "/flannel", "/opt/cni/bin/flannel"],
                      volumeMounts: [{ name: "cni-plugin", mountPath: "/opt/cni/bin" }],
                    },
                  ]),
              {
                name: "install-cni",
                image,
                command: ["/opt/bin/install-conf"],
                args: ["/etc/kube-flannel/cni-conf.json", "/etc/cni/net.d/10-flannel.conflist"],
                volumeMounts: [
                  { name: "cni", mountPath: "/etc/cni/net.d" },
                  { name: "flannel-cfg", mountPath: "/etc/kube-flannel/" },
                ],
              },
            ],
            containers: [
              {
                name: "kube-flannel",
                image,
                command: ["/opt/bin/flanneld"],
                args: ["--ip-masq", "--kube-subnet-mgr", "--healthz-port=8081"],
                ports: [{ name: "healthz", containerPort: 8081, protocol: "TCP" }],
                livenessProbe: {
                  httpGet: { path: "/healthz", port: "healthz" },
                  initialDelaySeconds: 10,
                  periodSeconds: 30,
                },
                readinessProbe: {
                  httpGet: { path: "/readyz", port: "healthz" },
                  initialDelaySeconds: 5,
                  periodSeconds: 10,
                },
                resources: { requests: { cpu: "100m", memory: "50Mi" } },
                securityContext: { privileged: false, capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
                env: [
                  fieldEnv("POD_NAME", "metadata.name"),
                  fieldEnv("POD_NAMESPACE", "metadata.namespace"),
                  { name: "EVENT_QUEUE_DEPTH", value: "5000" },
                  { name: "CONT_WHEN_CACHE_NOT_READY", value: "false" },
                ],
                volumeMounts: [
                  { name: "run", mountPath: "/run/flannel" },
                  { name: "flannel-cfg", mountPath: "/etc/kube-flannel/" },
                  { name: "xtables-lock", mountPath: "/run/xtables.lock" },
                ],
              },
            ],
            volumes: [
              hostPath("run", "/run/flannel"),
              ...(pluginImage === null ? [] : [hostPath("cni-plugin", "/opt/cni/bin")]),
              hostPath("cni", "/etc/cni/net.d"),
              { name: "flannel-cfg", configMap: { name: CONFIG_MAP } },
              hostPath("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
            ],
          },
        },
      },
    },
  ];
}
