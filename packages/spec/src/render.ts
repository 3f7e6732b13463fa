// cluster.yaml as `khw init` writes it: the spec with a comment before each top-level field. No zod here.
import { Document, isMap, isScalar } from "yaml";
import type { ClusterSpec, ClusterSpecInput } from "./schema";

export const CLUSTER_SCHEMA_URL = "https://unpkg.com/@khw/spec/cluster.schema.json";

const COMMENTS: Record<string, string> = {
  name: " The cluster's name (kubeconfig cluster entry, etcd cluster token).",
  nodes:
    " Every host. Roles: controlplane (apiserver, controller-manager, scheduler, etcd), worker\n (containerd, kubelet, kube-proxy), loadbalancer (HAProxy in front of the control planes).\n SSH goes through the ports Vagrant forwards on 127.0.0.1, as the Vagrantfile sets them up.",
  network:
    " Pod and service ranges must not overlap each other, the nodes' network or 10.0.2.0/24 (VirtualBox NAT).",
  versions: " Pinned component versions.",
  pki: " Certificates: key algorithm rsa-2048 | rsa-4096 | ecdsa-p256; validity in days.",
  binaries:
    " Where binaries come from: official (dl.k8s.io, GitHub releases), mirror (same paths under a\n base URL) or bundle (a local directory made by `khw bundle build`). Every file is SHA-256 checked.",
  addons:
    " podNetwork: weave (archived upstream, not exercised in the lab) | flannel (recommended) |\n bridge-routes (plain bridge CNI + static routes); dns: CoreDNS on/off; images: flannel and smoke-test images.",
  ssh: " Host keys: strict | accept-new (record on first contact) | insecure. Paths are relative to this file.",
};

/** Renders a spec as YAML with explanatory comments (what `khw init` writes). */
export function renderClusterYaml(
  spec: ClusterSpecInput | ClusterSpec,
  options: { comments?: boolean } = {},
): string {
  const doc = new Document(spec);
  const withComments = options.comments ?? true;
  if (withComments && isMap(doc.contents)) {
    for (const pair of doc.contents.items) {
      if (isScalar(pair.key)) {
        const c = COMMENTS[String(pair.key.value)];
        if (c) pair.key.commentBefore = c;
      }
    }
    doc.commentBefore = ` yaml-language-server: $schema=${CLUSTER_SCHEMA_URL}\n khw cluster spec. Validate with \`khw validate\`; every field is described by \`khw schema\`.`;
  }
  return doc.toString({ lineWidth: 0, indentSeq: true });
}
