import type { ChapterProse } from "../../text";

export const prerequisites: ChapterProse = {
  title: "Prerequisites",
  what: (f) => [
    `${f.cluster.nodes.length} Linux hosts with systemd, reachable over SSH from the admin machine, with sudo. Each host has one address on the cluster network, and that address is what every certificate, kubeconfig and unit below names: if a host answers on another address (a NAT interface), the cluster still starts but logs, exec and port-forward break later.`,
    `The API is reached at ${f.cluster.api.url}${f.cluster.loadBalancer ? `, HAProxy on ${f.cluster.loadBalancer.name} forwarding to every kube-apiserver on :6443` : ""}. Control planes run etcd (clients on :2379, peers on :2380), and the apiserver calls each kubelet on :10250. Pod CIDR ${f.cluster.network.podCIDR}, service CIDR ${f.cluster.network.serviceCIDR}: both must not overlap any network of the hosts.`,
  ],
  steps: {
    hosts: () => "The hosts of this cluster and how the admin machine reaches them:",
    checks: () =>
      "Check each host: its address must be on one of its interfaces, swap must be off on workers, and the clocks must agree (compare the epoch seconds printed).",
  },
  pitfalls: {
    "nat-address": {
      title: "The NAT address trap",
      text: () =>
        'VirtualBox gives every VM the same NAT address 10.0.2.15 on its first interface. Services that pick "the" address of the host pick that one: the node registers with an InternalIP every node shares.',
    },
    "clock-skew": {
      title: "Clock skew",
      text: () =>
        "Certificates are valid from the moment they were signed: a host whose clock runs behind sees them as not yet valid; etcd warns above one second of skew between members. Enable time sync (systemd-timesyncd or chrony) on every host.",
    },
    "cidr-overlap": {
      title: "Overlapping networks",
      text: (f) =>
        `The pod CIDR ${f.cluster.network.podCIDR} and the service CIDR ${f.cluster.network.serviceCIDR} must not overlap each other, the hosts' networks, or VirtualBox's NAT network 10.0.2.0/24: packets for pods would be routed out of the wrong interface.`,
    },
  },
};
