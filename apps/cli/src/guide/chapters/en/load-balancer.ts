import type { ChapterProse } from "../../text";

export const loadBalancer: ChapterProse = {
  title: "The API load balancer",
  what: (f) => [
    f.cluster.loadBalancer
      ? `HAProxy on ${f.cluster.loadBalancer.name} (${f.cluster.loadBalancer.address}) forwards TCP :6443 to every kube-apiserver. It does not terminate TLS: clients check the apiserver's certificate, which is why that certificate names the load balancer's address.`
      : "This cluster has no load balancer: clients talk to the control plane directly.",
  ],
  steps: { run: () => "Install HAProxy, its config, check it and start it:" },
  nothingToDo: (f) => (f.cluster.loadBalancer ? undefined : "Nothing to do for this cluster."),
};
