// The closed sets of values of cluster.yaml's fields, apart from the zod schema that uses them (schema.ts):
// code that only needs the values does not load zod.
export const ROLES = ["controlplane", "worker", "loadbalancer"] as const;
export const KUBELET_CREDENTIALS = ["certificate", "tls-bootstrap"] as const;
export const KEY_ALGORITHMS = ["rsa-2048", "rsa-4096", "ecdsa-p256"] as const;
export const POD_NETWORKS = ["weave", "flannel", "bridge-routes"] as const;
export const HOST_KEY_CHECKING = ["strict", "accept-new", "insecure"] as const;
export const BINARY_SOURCES = ["official", "mirror", "bundle"] as const;
