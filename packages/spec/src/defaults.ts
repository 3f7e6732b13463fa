import type { ClusterSpecInput } from "./schema";

/** The Vagrant lab of Kubernetes the Hard Way: SSH through the ports Vagrant forwards on 127.0.0.1. */
export const VAGRANT_NODES = [
  { name: "master-1", role: "controlplane", address: "192.168.56.11", sshPort: 2711 },
  { name: "master-2", role: "controlplane", address: "192.168.56.12", sshPort: 2712 },
  { name: "worker-1", role: "worker", address: "192.168.56.21", sshPort: 2721, credentials: "certificate" },
  { name: "worker-2", role: "worker", address: "192.168.56.22", sshPort: 2722, credentials: "tls-bootstrap" },
  { name: "loadbalancer", role: "loadbalancer", address: "192.168.56.30", sshPort: 2730 },
] as const;

/** The default spec as a user would write it (what `khw init` writes). */
export function defaultClusterSpecInput(): ClusterSpecInput {
  return {
    apiVersion: "khw/v1alpha1",
    kind: "Cluster",
    name: "kubernetes-the-hard-way",
    nodes: VAGRANT_NODES.map((n) => ({
      name: n.name,
      role: n.role,
      address: n.address,
      ssh: {
        host: "127.0.0.1",
        port: n.sshPort,
        user: "vagrant",
        identityFile: `.vagrant/machines/${n.name}/virtualbox/private_key`,
      },
      ...("credentials" in n ? { kubelet: { credentials: n.credentials } } : {}),
    })),
    network: {
      podCIDR: "10.244.0.0/16",
      serviceCIDR: "10.96.0.0/16",
      clusterDomain: "cluster.local",
      nodePortRange: "30000-32767",
      nodeCIDRMaskSize: 24,
    },
    versions: {
      kubernetes: "v1.34.4",
      etcd: "v3.6.16",
      containerd: "2.1.4",
      runc: "1.3.3",
      cniPlugins: "1.8.0",
      coredns: "1.11.3",
      weave: "2.8.1",
    },
    pki: { keyAlgorithm: "rsa-2048", caValidityDays: 3650, validityDays: 365, extraApiserverSANs: [] },
    binaries: { source: "official", arch: "amd64" },
    addons: { podNetwork: "weave", dns: true },
    ssh: { hostKeyChecking: "accept-new", knownHostsFile: "known_hosts" },
  };
}
