import { kubeconfigPath } from "@khw/kubeconfig";
import { binaryPath } from "@khw/spec/core";

/** kubectl on a control plane, as the cluster admin (the cluster-object phases run it there); paths from the node layout. */
export const KUBECTL_AS_ADMIN = [binaryPath("kubectl"), "--kubeconfig", kubeconfigPath("admin")] as const;
