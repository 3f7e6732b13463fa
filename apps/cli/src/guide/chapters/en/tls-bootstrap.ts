import type { ChapterProse } from "../../text";

const bootstrapping = (f: Parameters<ChapterProse["what"]>[0]) =>
  f.cluster.workers.filter((w) => w.kubeletCredentials === "tls-bootstrap");

export const tlsBootstrap: ChapterProse = {
  title: "TLS bootstrapping",
  what: (f) => [
    bootstrapping(f).length
      ? `${bootstrapping(f)
          .map((w) => w.name)
          .join(
            ", ",
          )} get no certificate from you. The kubelet authenticates with the bootstrap token (user \`system:bootstrap:<token id>\`, group \`system:bootstrappers\`), submits a CSR for its client certificate, which the controller-manager approves and signs with the CA; then it asks for a serving certificate (signer kubernetes.io/kubelet-serving), which nobody approves automatically.`
      : "Every worker of this cluster has a pre-issued certificate; TLS bootstrapping is not used. The bindings below would let a worker join with only a token.",
  ],
  sequence: (f) => {
    const w = bootstrapping(f)[0]?.name ?? "worker";
    return [
      {
        from: `kubelet (${w})`,
        to: "kube-apiserver",
        text: "bootstrap token: create a CSR for system:node:" + w,
      },
      {
        from: "kube-controller-manager",
        to: "kube-apiserver",
        text: "auto-approve (group system:bootstrappers), sign with the CA",
      },
      {
        from: `kubelet (${w})`,
        to: "kube-apiserver",
        text: "fetch the client certificate, write its kubeconfig",
      },
      { from: `kubelet (${w})`, to: "kube-apiserver", text: "as system:node: create a kubelet-serving CSR" },
      { from: "admin", to: "kube-apiserver", text: "kubectl certificate approve (the node's own CSR only)" },
      { from: "kube-apiserver", to: `kubelet (${w})`, text: "logs, exec on :10250, now trusted" },
    ];
  },
  steps: {
    run: () =>
      "On the first control plane: the token's Secret and the bindings that let bootstrappers create CSRs and get them approved, then approve each bootstrapping node's serving CSR. First set `TOKEN_ID`, `TOKEN_SECRET` and `TOKEN_EXPIRATION` in that root shell to the values you made in the kubeconfigs chapter (`echo $TOKEN_ID $TOKEN_SECRET $TOKEN_EXPIRATION` on the admin machine shows them; khw keeps its own in `pki/bootstrap-token`):",
  },
  pitfalls: {
    "serving-csr": {
      title: "The serving CSR stays Pending",
      text: () =>
        "Client CSRs are approved automatically, serving CSRs are not: until you approve it, `kubectl logs` and `exec` on that node fail with a TLS error. Approve only CSRs whose requestor is the node itself.",
    },
  },
};
