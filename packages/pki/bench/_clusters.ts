import {
  type Cluster,
  ClusterSpecSchema,
  defaultClusterSpecInput,
  type KeyAlgorithm,
  resolveCluster,
} from "@khw/spec";

/**
 * The default spec (workers = undefined), or the default control plane and LB with `workers`
 * certificate-mode workers (for the scaling runs; the pod CIDR is widened to hold them).
 */
export function benchCluster(algorithm: KeyAlgorithm, workers?: number): Cluster {
  const input = defaultClusterSpecInput();
  const pki = { ...input.pki, keyAlgorithm: algorithm };
  if (workers === undefined) return resolveCluster(ClusterSpecSchema.parse({ ...input, pki })).cluster;
  const nodes = input.nodes.filter((n) => n.role !== "worker");
  for (let i = 0; i < workers; i++) {
    nodes.push({
      name: `worker-${i + 1}`,
      role: "worker",
      address: `192.168.${60 + Math.floor(i / 250)}.${(i % 250) + 1}`,
      kubelet: { credentials: "certificate" },
    });
  }
  return resolveCluster(
    ClusterSpecSchema.parse({ ...input, nodes, pki, network: { ...input.network, podCIDR: "10.128.0.0/9" } }),
  ).cluster;
}
