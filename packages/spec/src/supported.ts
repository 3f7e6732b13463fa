import { ADMIN_HOST } from "./generated-file";

/**
 * The component versions khw generates configuration for: the one place that states them. Kubernetes:
 * every minor whose flags and config fields @khw/systemd-units' version table was checked against.
 * containerd: khw writes config version 3, which containerd reads from 2.0 on.
 */
export const SUPPORTED_VERSIONS = {
  kubernetes: { from: "v1.30.0", through: "v1.37" },
  containerd: { from: "2.0.0", through: "2" },
} as const;

const numbers = (v: string) => v.replace(/^v/, "").split(".").map(Number);

/** Whether a `vMAJOR.MINOR.PATCH` Kubernetes version lies in SUPPORTED_VERSIONS. */
export function isSupportedKubernetes(version: string): boolean {
  const [major, minor] = numbers(version);
  const [, lo] = numbers(SUPPORTED_VERSIONS.kubernetes.from);
  const [, hi] = numbers(SUPPORTED_VERSIONS.kubernetes.through);
  return major === 1 && minor! >= lo! && minor! <= hi!;
}

/** Whether a `MAJOR.MINOR.PATCH` containerd version lies in SUPPORTED_VERSIONS. */
export function isSupportedContainerd(version: string): boolean {
  return numbers(version)[0] === Number(SUPPORTED_VERSIONS.containerd.through);
}

/**
 * Names no node may take, each with what khw already files under it: the admin machine's folder of
 * `khw gen`'s output, @khw/pki's certificate ids (`pki/<id>.crt`, `<id>.key`; a certificate worker's
 * own files are `pki/<node>.crt`) and @khw/kubeconfig's catalogue ids. @khw/spec cannot import those
 * packages (they import it); a test of the CLI checks this list equals their ids.
 */
export const RESERVED_NODE_NAMES: Readonly<Record<string, string>> = {
  [ADMIN_HOST]: "the admin machine's folder of khw gen's output and the admin certificate",
  ca: "the cluster CA's certificate and key (pki/ca.crt, pki/ca.key)",
  "kube-apiserver": "kube-apiserver's serving certificate",
  "kube-controller-manager": "kube-controller-manager's certificate and kubeconfig",
  "kube-scheduler": "kube-scheduler's certificate and kubeconfig",
  "kube-proxy": "kube-proxy's certificate and kubeconfig",
  "apiserver-kubelet-client": "the apiserver's client certificate towards kubelets",
  "etcd-server": "etcd's serving and peer certificate",
  "service-account": "the service-account key pair",
  kubelet: "the kubelet kubeconfig of certificate workers",
  "kubelet-bootstrap": "the bootstrap kubeconfig of tls-bootstrap workers",
  "admin-machine": "the admin's own kubeconfig",
};
