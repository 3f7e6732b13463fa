import type { ChapterProse } from "../../text";

export const workers: ChapterProse = {
  title: "The worker nodes",
  what: (f) => [
    `Each worker (${f.cluster.workers.map((w) => `${w.name} ${w.address}`).join(", ") || "none in this spec"}) runs containerd (with runc and the CNI plugins), the kubelet and kube-proxy. The kubelet registers the node with the apiserver at ${f.cluster.api.url} and serves :10250 for the apiserver's logs/exec calls; kube-proxy programs iptables for Services. The kernel needs overlay and br_netfilter, and IP forwarding on.`,
    "A worker with a pre-issued certificate uses it right away; a TLS-bootstrapping worker starts with the bootstrap kubeconfig and asks for its certificate (next chapter).",
  ],
  steps: { run: () => "On each worker: binaries, kernel settings, containerd, kubelet and kube-proxy:" },
  nothingToDo: (f) => (f.cluster.workers.length ? undefined : "This cluster has no workers."),
  pitfalls: {
    swap: {
      title: "Swap on",
      text: () =>
        "The kubelet refuses to start while swap is on: `swapoff -a` and remove swap from /etc/fstab.",
    },
    "node-ip": {
      title: "The node's address",
      text: () =>
        "Without `--node-ip` the kubelet registers the address of the default route's interface — on Vagrant the NAT address every VM shares, and `kubectl logs`/`exec` then dial the wrong host.",
    },
    "cgroup-driver": {
      title: "Cgroup driver mismatch",
      text: () =>
        "containerd (`SystemdCgroup = true`) and the kubelet (`cgroupDriver: systemd`) must agree, or every pod crash-loops.",
    },
  },
};
