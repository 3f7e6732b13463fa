import { AddonsError } from "./errors";
import {
  type ClusterRole,
  type ClusterRoleBinding,
  type Complete,
  type DaemonSet,
  MANAGED_BY_LABEL,
  RBAC_API_GROUP,
  type Role,
  type RoleBinding,
  type ServiceAccount,
} from "./objects";

export interface WeaveNetInput {
  /** Weave Net version, e.g. `2.8.1`. */
  version: string;
  /** IPALLOC_RANGE: must be the controller-manager's `--cluster-cidr` (the spec's pod CIDR). */
  podCIDR: string;
  /** Default `docker.io/weaveworks` (weave-kube and weave-npc live there). */
  imageRepository?: string;
}

export const WEAVE_IMAGE_REPOSITORY = "docker.io/weaveworks";
const NS = "kube-system";
const NAME = "weave-net";

export type WeaveNetObject =
  | Complete<ServiceAccount>
  | Complete<ClusterRole>
  | Complete<ClusterRoleBinding>
  | Complete<Role>
  | Complete<RoleBinding>
  | Complete<DaemonSet>;

/**
 * Weave Net as its release manifest (`weave-daemonset-k8s-1.11.yaml` of v2.8.1) ships it —
 * ServiceAccount, ClusterRole, ClusterRoleBinding, Role, RoleBinding, DaemonSet with the weave-init
 * init container and the weave and weave-npc containers — with one fix: IPALLOC_RANGE = the pod
 * CIDR (Weave's default 10.32.0.0/12 does not match the controller-manager's pod CIDR). Also: images
 * fully qualified, and the manifest's explicit `hostPID: false` / `readOnly: false` left out (they
 * are the defaults, which the apiserver does not store, so `kubectl apply` would report the
 * DaemonSet changed on every run).
 */
export function weaveNetObjects(input: WeaveNetInput): WeaveNetObject[] {
  if (!/^\d+\.\d+\.\d+$/.test(input.version)) {
    throw new AddonsError(
      "INVALID_INPUT",
      "version",
      `'${input.version}' is not a Weave Net version`,
      "e.g. 2.8.1",
    );
  }
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(input.podCIDR)) {
    throw new AddonsError(
      "INVALID_INPUT",
      "podCIDR",
      `'${input.podCIDR}' is not an IPv4 CIDR`,
      "e.g. 10.244.0.0/16",
    );
  }
  const repo = input.imageRepository ?? WEAVE_IMAGE_REPOSITORY;
  const kube = `${repo}/weave-kube:${input.version}`;
  const npc = `${repo}/weave-npc:${input.version}`;
  const labels = { name: NAME, ...MANAGED_BY_LABEL };
  const sa = { kind: "ServiceAccount", name: NAME, namespace: NS };
  const hostname = {
    name: "HOSTNAME",
    valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "spec.nodeName" } },
  };
  const xtablesLock = { name: "xtables-lock", mountPath: "/run/xtables.lock" };
  const hostPath = (name: string, path: string, type?: string) => ({
    name,
    hostPath: { path, ...(type ? { type } : {}) },
  });
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NAME, namespace: NS, labels } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: NAME, labels },
      rules: [
        { apiGroups: [""], resources: ["pods", "namespaces", "nodes"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["extensions"], resources: ["networkpolicies"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch", "update"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: NAME, labels },
      roleRef: { apiGroup: RBAC_API_GROUP, kind: "ClusterRole", name: NAME },
      subjects: [sa],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: NAME, namespace: NS, labels },
      rules: [
        { apiGroups: [""], resources: ["configmaps"], resourceNames: [NAME], verbs: ["get", "update"] },
        { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: NAME, namespace: NS, labels },
      roleRef: { apiGroup: RBAC_API_GROUP, kind: "Role", name: NAME },
      subjects: [sa],
    },
    {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: NAME, namespace: NS, labels },
      spec: {
        selector: { matchLabels: { name: NAME } },
        // Wait 5 seconds to let a pod connect before rolling the next one.
        minReadySeconds: 5,
        template: {
          metadata: { labels: { name: NAME } },
          spec: {
            initContainers: [
              {
                name: "weave-init",
                image: kube,
                command: ["/home/weave/init.sh"],
                securityContext: { privileged: true },
                volumeMounts: [
                  { name: "cni-bin", mountPath: "/host/opt" },
                  { name: "cni-bin2", mountPath: "/host/home" },
                  { name: "cni-conf", mountPath: "/host/etc" },
                  { name: "lib-modules", mountPath: "/lib/modules" },
                  xtablesLock,
                ],
              },
            ],
            containers: [
              {
                name: "weave",
                command: ["/home/weave/launch.sh"],
                env: [
                  { name: "IPALLOC_RANGE", value: input.podCIDR },
                  { name: "INIT_CONTAINER", value: "true" },
                  hostname,
                ],
                image: kube,
                readinessProbe: { httpGet: { host: "127.0.0.1", path: "/status", port: 6784 } },
                resources: { requests: { cpu: "50m" } },
                securityContext: { privileged: true },
                volumeMounts: [
                  { name: "weavedb", mountPath: "/weavedb" },
                  { name: "dbus", mountPath: "/host/var/lib/dbus", readOnly: true },
                  { name: "cni-machine-id", mountPath: "/host/etc/machine-id", readOnly: true },
                  xtablesLock,
                ],
              },
              {
                name: "weave-npc",
                env: [hostname],
                image: npc,
                resources: { requests: { cpu: "50m" } },
                securityContext: { privileged: true },
                volumeMounts: [xtablesLock],
              },
            ],
            hostNetwork: true,
            dnsPolicy: "ClusterFirstWithHostNet",
            restartPolicy: "Always",
            securityContext: { seLinuxOptions: {} },
            serviceAccountName: NAME,
            tolerations: [
              { effect: "NoSchedule", operator: "Exists" },
              { effect: "NoExecute", operator: "Exists" },
            ],
            volumes: [
              hostPath("weavedb", "/var/lib/weave"),
              hostPath("cni-bin", "/opt"),
              hostPath("cni-bin2", "/home"),
              hostPath("cni-conf", "/etc"),
              hostPath("cni-machine-id", "/etc/machine-id"),
              hostPath("dbus", "/var/lib/dbus"),
              hostPath("lib-modules", "/lib/modules"),
              hostPath("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
            ],
            priorityClassName: "system-node-critical",
          },
        },
        updateStrategy: { type: "RollingUpdate" },
      },
    },
  ];
}
