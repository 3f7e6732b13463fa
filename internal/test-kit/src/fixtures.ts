// The cluster fixtures every package's tests share: the default spec (the Vagrant lab) and ONE unusual
// spec. A test that needs another shape derives it from the unusual spec with `deriveSpec`, in that test.
import { type Cluster, type ClusterSpecInput, defaultClusterSpecInput, loadCluster } from "@khw/spec";

/** The default spec: the Vagrant lab (2 masters, worker-1 with a certificate, worker-2 by TLS bootstrap, a LB). */
export function defaultCluster(): Cluster {
  return loadCluster(defaultClusterSpecInput()).cluster;
}

/** The unusual spec: 3 masters, 1 worker (TLS bootstrap), an LB, custom CIDRs, DNS IP, cluster domain and node-port range, a newer CoreDNS. */
export function unusualSpec(): ClusterSpecInput {
  const input = defaultClusterSpecInput();
  return {
    ...input,
    name: "edge-lab",
    nodes: [
      { name: "cp-a", role: "controlplane", address: "172.20.0.11" },
      { name: "cp-b", role: "controlplane", address: "172.20.0.12" },
      { name: "cp-c", role: "controlplane", address: "172.20.0.13" },
      { name: "node-1", role: "worker", address: "172.20.0.21", kubelet: { credentials: "tls-bootstrap" } },
      { name: "api-lb", role: "loadbalancer", address: "172.20.0.100" },
    ],
    network: {
      podCIDR: "10.200.0.0/16",
      serviceCIDR: "10.32.0.0/24",
      dnsServiceIP: "10.32.0.53",
      clusterDomain: "lab.example",
      nodePortRange: "31000-31999",
      nodeCIDRMaskSize: 24,
    },
    versions: { ...input.versions, coredns: "1.12.1" },
  };
}

export function unusualCluster(): Cluster {
  return loadCluster(unusualSpec()).cluster;
}

type NodeInput = ClusterSpecInput["nodes"][number];

/** What a test changes in a spec: whole top-level sections are replaced, nodes renamed/moved one by one. */
export interface SpecChange extends Partial<Omit<ClusterSpecInput, "nodes">> {
  /** Node names to replace: `{ "node-1": "node-x" }`. */
  rename?: Record<string, string>;
  /** A node's new address, from its index and current address. */
  address?: (index: number, address: string) => string;
  /** Any other per-node change (after rename and address). */
  node?: (node: NodeInput) => NodeInput;
}

/** A spec derived from `base` (a test's own shape, stated as its difference from the shared one). */
export function deriveSpec(base: ClusterSpecInput, change: SpecChange): ClusterSpecInput {
  const { rename, address, node, ...sections } = change;
  const nodes = base.nodes.map((n, i) => {
    let out: NodeInput = { ...n, name: rename?.[n.name] ?? n.name };
    if (address) out = { ...out, address: address(i, n.address) };
    return node ? node(out) : out;
  });
  return { ...base, ...sections, nodes };
}

/**
 * The unusual spec on loopback addresses (real kubectl and etcd reach them), with other names, CIDRs
 * and domain and an older Kubernetes (v1.30): the shape @khw/kubeconfig's and @khw/systemd-units'
 * golden files share.
 */
export function loopbackUnusualSpec(): ClusterSpecInput {
  return deriveSpec(unusualSpec(), {
    name: "odd-lab",
    rename: { "node-1": "node-x", "api-lb": "lb" },
    address: (i) => `127.0.0.${[11, 12, 13, 21, 30][i]}`,
    network: {
      podCIDR: "172.20.0.0/16",
      serviceCIDR: "10.32.0.0/20",
      dnsServiceIP: "10.32.0.53",
      clusterDomain: "odd.internal",
      nodePortRange: "31000-31999",
      nodeCIDRMaskSize: 26,
    },
    versions: { kubernetes: "v1.30.14" },
  });
}

export function loopbackUnusualCluster(): Cluster {
  return loadCluster(loopbackUnusualSpec()).cluster;
}

/** A single-master cluster (loopback addresses) without a load balancer and with a certificate worker. */
export function singleMasterCluster(): Cluster {
  return loadCluster({
    name: "solo",
    nodes: [
      { name: "solo-cp", role: "controlplane", address: "127.0.0.11" },
      { name: "solo-w", role: "worker", address: "127.0.0.21" },
    ],
  }).cluster;
}
