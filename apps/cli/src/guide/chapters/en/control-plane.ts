import type { ChapterProse } from "../../text";

export const controlPlane: ChapterProse = {
  title: "The control plane",
  what: (f) => [
    `kube-apiserver on each control plane serves :6443 with its certificate, checks clients against the CA, talks to etcd on :2379 with the etcd certificate and to kubelets on :10250 with its kubelet-client certificate. The controller-manager (signs CSRs with the CA key, allocates each node a /${f.cluster.spec.network.nodeCIDRMaskSize} of ${f.cluster.network.podCIDR}) and the scheduler use leader election, so one of each is active across the control planes.`,
  ],
  steps: {
    run: () =>
      "On each control plane, one at a time (the API stays up): the binaries, the units and configs, start, and wait until /readyz answers ok.",
  },
};
