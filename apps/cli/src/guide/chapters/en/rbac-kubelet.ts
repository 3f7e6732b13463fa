import type { ChapterProse } from "../../text";

export const rbacKubelet: ChapterProse = {
  title: "RBAC for kubelet authorization",
  what: (f) => [
    `The kubelets authorize the apiserver's calls (logs, exec, port-forward, metrics) through the apiserver itself (webhook mode). The apiserver calls them as the CN of its kubelet-client certificate, \`${f.catalogue.find((c) => c.id === "apiserver-kubelet-client")?.subject.CN}\`, so a ClusterRole over nodes/proxy, nodes/log, nodes/stats… is bound to that user.`,
  ],
  steps: { run: () => "Apply it on the first control plane:" },
  pitfalls: {
    "kubelet-rbac-subject": {
      title: "The wrong subject",
      text: () =>
        "The binding's user must be the CN of the certificate the apiserver presents (`--kubelet-client-certificate`), not `kube-apiserver`: otherwise `kubectl logs` and `exec` answer Forbidden (user=… verb=get resource=nodes subresource=proxy).",
    },
  },
};
