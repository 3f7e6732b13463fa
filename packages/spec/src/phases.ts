/**
 * The phases of `khw up`, in REFERENCE.md's bring-up order: the one list. The catalogues name the
 * phase that places their files or starts their services (the service catalogue of
 * @khw/systemd-units), and the CLI runs a table keyed by these names.
 */
export const PHASE_NAMES = [
  "preflight",
  "pki",
  "kubeconfigs",
  "encryption",
  "etcd",
  "control-plane",
  "loadbalancer",
  "workers",
  "admin",
  "network",
  "rbac",
  "dns",
  "smoke",
] as const;

export type PhaseName = (typeof PHASE_NAMES)[number];
