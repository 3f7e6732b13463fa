import type { ChapterProse } from "../../text";

export const dns: ChapterProse = {
  title: "The DNS cluster add-on",
  what: (f) => [
    f.cluster.spec.addons.dns
      ? `CoreDNS answers for ${f.cluster.network.clusterDomain} at the service IP ${f.cluster.network.dnsServiceIP}, the address every kubelet writes into pods' resolv.conf; other names go to the node's upstream resolvers.`
      : "DNS is turned off in this spec (addons.dns: false).",
  ],
  steps: { run: () => "Apply it on the first control plane and wait for the pods:" },
  nothingToDo: (f) => (f.cluster.spec.addons.dns ? undefined : "Nothing to do for this cluster."),
  pitfalls: {
    "coredns-loop": {
      title: "A forwarding loop",
      text: () =>
        "On Ubuntu /etc/resolv.conf points at systemd-resolved's stub 127.0.0.53; pods that inherit it make CoreDNS forward to itself and crash (`Loop … detected`). The kubelet's resolvConf must be /run/systemd/resolve/resolv.conf.",
    },
  },
};
