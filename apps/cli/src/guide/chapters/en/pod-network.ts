import type { ChapterProse } from "../../text";

export const podNetwork: ChapterProse = {
  title: "Pod network",
  what: (f) => [
    f.cluster.spec.addons.podNetwork === "weave"
      ? `Weave Net gives every pod an address from ${f.cluster.network.podCIDR} and connects the workers. It runs as a DaemonSet and reaches the API through the service IP ${f.cluster.network.apiServiceIP} (so kube-proxy must be running first).`
      : `The original guide's network: each worker's bridge CNI hands out its node's pod CIDR, and every worker has a route to the other workers' pod CIDRs.`,
  ],
  steps: { run: () => "Apply it on the first control plane:" },
  pitfalls: {
    "weave-ipalloc": {
      title: "Weave's IPALLOC_RANGE",
      text: (f) =>
        `Weave's manifest defaults to 10.32.0.0/12, not the cluster's pod CIDR ${f.cluster.network.podCIDR}: pods get addresses the controller-manager did not allocate, and traffic to them is not routed. IPALLOC_RANGE must be the pod CIDR.`,
    },
  },
};
