import type { ChapterProse } from "../../text";

export const kubeconfigs: ChapterProse = {
  title: "Kubeconfigs",
  what: (f) => [
    `A kubeconfig tells a client where the API is and who it is. The controller-manager, the scheduler and the control planes' admin use the local apiserver (https://127.0.0.1:6443); kube-proxy and the kubelets use the cluster endpoint ${f.cluster.api.url}, so they keep working when one control plane is down. All of them trust the CA at its path on the host.`,
    f.cluster.workers.some((w) => w.kubeletCredentials === "tls-bootstrap")
      ? `Workers that join by TLS bootstrapping (${f.cluster.workers
          .filter((w) => w.kubeletCredentials === "tls-bootstrap")
          .map((w) => w.name)
          .join(
            ", ",
          )}) get a bootstrap kubeconfig with a token instead of a certificate; the kubelet writes its real kubeconfig itself.`
      : "Every worker has a pre-issued kubelet certificate, so every kubelet gets a kubeconfig with that certificate.",
  ],
  steps: {
    token: () =>
      "A bootstrap token for the TLS-bootstrapping workers (`<6>.<16>` lower-case characters), valid 24 hours. Keep these variables set until the TLS bootstrap chapter:",
    workdir: () =>
      "Write each kubeconfig with `kubectl config` into `kubeconfigs/` (paths point at files on the hosts; embedded certificates are read from `pki/`):",
    distribute: () => "Copy them to the hosts:",
  },
};
