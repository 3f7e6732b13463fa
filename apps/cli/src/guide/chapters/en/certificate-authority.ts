import type { ChapterProse } from "../../text";

export const certificateAuthority: ChapterProse = {
  title: "Certificate authority",
  what: (f) => [
    `One CA signs every certificate of the cluster. Each component proves who it is with a client certificate: the apiserver reads the user from the CN and the groups from the O's (so \`admin\` is in \`system:masters\`, each kubelet is \`system:node:<name>\` in \`system:nodes\`). Servers prove their address with SANs: the apiserver's certificate must name every address a client dials — the API service IP ${f.cluster.network.apiServiceIP} (pods), each control plane, ${f.cluster.loadBalancer ? `the load balancer ${f.cluster.loadBalancer.address}, ` : ""}127.0.0.1 and the in-cluster DNS names.`,
    "etcd uses one certificate as server, as peer and as the apiserver's client (both usages). The service-account key pair signs and verifies pod tokens. The CA key stays on the admin machine and the control planes (the controller-manager signs kubelet CSRs with it); workers get only the CA certificate.",
  ],
  steps: {
    workdir: () =>
      "Create each key and certificate with OpenSSL in `pki/` on the admin machine. Every certificate gets an extension file with its exact key usages and SANs; this is where hand-made PKIs usually go wrong.",
    inspect: () => "Check what you made, e.g. the apiserver's SANs:",
    distribute: () =>
      "Copy each host its certificates and keys (keys 0600, owned by root). The CA key goes to the control planes only.",
  },
  pitfalls: {
    "apiserver-sans": {
      title: "A SAN missing from the apiserver certificate",
      text: () =>
        "The most reported failure of the guide: `x509: certificate is valid for …, not …` when a client dials the load balancer, the service IP or a second master that the certificate does not name. Regenerate the certificate whenever a control plane, the load balancer or the service CIDR changes.",
    },
    "ca-key-on-workers": {
      title: "The CA key on a worker",
      text: () =>
        "Whoever holds ca.key can mint `system:masters` certificates. Copying the whole pki directory everywhere is the usual shortcut; only the control planes need the key.",
    },
  },
};
