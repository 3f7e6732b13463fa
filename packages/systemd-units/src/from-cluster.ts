import type { Cluster, ClusterNode } from "@khw/spec/core";
import { type KubeletConfigInput, kubeletConfig } from "./configs";
import { UnitsError } from "./errors";
import type { ServiceUnit } from "./unit";
import { etcdUnit, kubeApiserverUnit, kubeControllerManagerUnit, kubeletUnit } from "./units";

/** A node of the cluster with the expected role, or a typed error naming it. */
export function clusterNode(cluster: Cluster, nodeName: string, role?: ClusterNode["role"]): ClusterNode {
  const node = cluster.nodes.find((n) => n.name === nodeName);
  if (!node) {
    throw new UnitsError(
      "UNKNOWN_NODE",
      "node",
      `no node named '${nodeName}'`,
      `use one of ${cluster.nodes.map((n) => n.name).join(", ")}`,
    );
  }
  if (role !== undefined && node.role !== role) {
    throw new UnitsError(
      "UNKNOWN_NODE",
      "node",
      `'${nodeName}' is a ${node.role}, not a ${role}`,
      `pick a ${role} node`,
    );
  }
  return node;
}

/** The etcd unit of a control plane (etcd is stacked on every control plane). */
export function etcdUnitFromCluster(cluster: Cluster, nodeName: string): ServiceUnit {
  const node = clusterNode(cluster, nodeName, "controlplane");
  return etcdUnit({
    name: node.name,
    address: node.address,
    initialCluster: cluster.etcd.initialCluster,
    initialClusterToken: cluster.etcd.initialClusterToken,
  });
}

export function kubeApiserverUnitFromCluster(cluster: Cluster, nodeName: string): ServiceUnit {
  const node = clusterNode(cluster, nodeName, "controlplane");
  return kubeApiserverUnit({
    address: node.address,
    etcdServers: cluster.etcd.clientURLs,
    serviceCIDR: cluster.network.serviceCIDR,
    nodePortRange: cluster.network.nodePortRange,
    serviceAccountIssuer: cluster.serviceAccountIssuer,
  });
}

export function kubeControllerManagerUnitFromCluster(cluster: Cluster): ServiceUnit {
  return kubeControllerManagerUnit({
    podCIDR: cluster.network.podCIDR,
    serviceCIDR: cluster.network.serviceCIDR,
    nodeCIDRMaskSize: cluster.network.nodeCIDRMaskSize,
    // bridge-routes: the spec's slices (in spec order) are the only owner of each worker's pod range.
    allocateNodeCIDRs: cluster.spec.addons.podNetwork !== "bridge-routes",
  });
}

export function kubeletUnitFromCluster(cluster: Cluster, nodeName: string): ServiceUnit {
  const node = clusterNode(cluster, nodeName, "worker");
  const podRoutes =
    cluster.spec.addons.podNetwork === "bridge-routes"
      ? cluster.workers
          .filter((w) => w.name !== node.name && w.podCIDR)
          .map((w) => ({ cidr: w.podCIDR!, via: w.address }))
      : [];
  return kubeletUnit({
    nodeIP: node.address,
    credentials: node.kubeletCredentials ?? "certificate",
    ...(podRoutes.length ? { podRoutes } : {}),
  });
}

export function kubeletConfigFromCluster(
  cluster: Cluster,
  nodeName: string,
  options: Pick<KubeletConfigInput, "allowCgroupV1"> = {},
): string {
  const node = clusterNode(cluster, nodeName, "worker");
  return kubeletConfig({
    nodeName: node.name,
    credentials: node.kubeletCredentials ?? "certificate",
    clusterDNS: [cluster.network.dnsServiceIP],
    clusterDomain: cluster.network.clusterDomain,
    kubernetesVersion: cluster.spec.versions.kubernetes,
    ...(options.allowCgroupV1 ? { allowCgroupV1: true } : {}),
    ...(node.kubeletExtraConfig ? { extraConfig: node.kubeletExtraConfig } : {}),
  });
}
