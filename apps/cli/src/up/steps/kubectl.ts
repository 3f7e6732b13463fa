import { KUBECONFIG_PATHS } from "@khw/kubeconfig";

/** kubectl on a control plane, as the cluster admin (the cluster-object phases run it there). */
export const KUBECTL_AS_ADMIN = ["/usr/local/bin/kubectl", "--kubeconfig", KUBECONFIG_PATHS.admin] as const;
