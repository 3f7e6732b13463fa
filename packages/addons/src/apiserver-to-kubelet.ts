import {
  type ClusterRole,
  type ClusterRoleBinding,
  type Complete,
  MANAGED_BY_LABEL,
  RBAC_API_GROUP,
} from "./objects";

export const APISERVER_TO_KUBELET_ROLE = "system:kube-apiserver-to-kubelet";
/**
 * The user the apiserver presents to kubelets: the CN of its kubelet-client certificate
 * (`--kubelet-client-certificate`). The guide binds `kube-apiserver` instead, which only works
 * because its certificate also carries O=system:masters.
 */
export const KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client";
/** The binding keeps the guide's name, so applying over a guide-built cluster fixes its subject in place. */
export const APISERVER_TO_KUBELET_BINDING = "system:kube-apiserver";

export interface ApiserverToKubeletInput {
  /** The CN of the apiserver's kubelet-client certificate. Default `kube-apiserver-kubelet-client`. */
  kubeletClientUser?: string;
}

/**
 * ClusterRole `system:kube-apiserver-to-kubelet` (nodes/proxy, stats, log, spec, metrics: all verbs)
 * and its binding to the user the apiserver's kubelet-client certificate presents — what makes
 * `kubectl logs`, `exec` and `port-forward` work.
 */
export function apiserverToKubeletObjects(
  input: ApiserverToKubeletInput = {},
): (Complete<ClusterRole> | Complete<ClusterRoleBinding>)[] {
  const user = input.kubeletClientUser ?? KUBELET_CLIENT_USER;
  return [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: {
        name: APISERVER_TO_KUBELET_ROLE,
        labels: { "kubernetes.io/bootstrapping": "rbac-defaults", ...MANAGED_BY_LABEL },
        annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" },
      },
      rules: [
        {
          apiGroups: [""],
          resources: ["nodes/proxy", "nodes/stats", "nodes/log", "nodes/spec", "nodes/metrics"],
          verbs: ["*"],
        },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: APISERVER_TO_KUBELET_BINDING, labels: { ...MANAGED_BY_LABEL } },
      roleRef: { apiGroup: RBAC_API_GROUP, kind: "ClusterRole", name: APISERVER_TO_KUBELET_ROLE },
      subjects: [{ apiGroup: RBAC_API_GROUP, kind: "User", name: user }],
    },
  ];
}
