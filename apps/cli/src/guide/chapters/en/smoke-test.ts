import type { ChapterProse } from "../../text";

export const smokeTest: ChapterProse = {
  title: "Smoke test",
  what: () => [
    "Every node registered and Ready is the first check. The guide's smoke tests then prove each part: a Secret stored encrypted in etcd (aescbc prefix), a Deployment, port-forward, logs and exec (apiserver → kubelet), a NodePort Service, DNS from a pod, and the control plane surviving one apiserver's loss. `khw smoke` runs all of them and reports each.",
  ],
  steps: {
    run: () => "On the first control plane, wait until every worker is Ready:",
    tests: () =>
      "Then the guide's smoke tests; `khw smoke` runs each of these against the cluster and reports pass or fail, with a hint when one fails:",
  },
};
