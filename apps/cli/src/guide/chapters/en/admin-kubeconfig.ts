import type { ChapterProse } from "../../text";

export const adminKubeconfig: ChapterProse = {
  title: "kubectl for remote access",
  what: (f) => [
    `Your own kubeconfig: user \`admin\` (group system:masters) with the certificate embedded, talking to ${f.cluster.api.url}. Its cluster, user and context are named after the cluster (\`${f.cluster.name}\`) so it can be merged into ~/.kube/config beside others.`,
  ],
  steps: { run: () => "Write it next to cluster.yaml and check the API through the endpoint:" },
};
