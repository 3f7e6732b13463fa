import type { PhaseName } from "../up/phases";
import type { ChapterId } from "./model";

/** How khw catches or prevents a failure mode. */
export type CaughtBy =
  /** A check of `khw up`'s preflight phase (the `check` field of its problems). */
  | { kind: "preflight"; check: string }
  /** An issue code of the spec validation (`khw validate`, and every command that loads the spec). */
  | { kind: "spec"; code: string }
  /** A wait of a `khw up` phase that stops with a hint instead of hanging. */
  | { kind: "phase"; phase: PhaseName }
  /** khw derives the value from the spec, so it cannot disagree with the rest. */
  | { kind: "generated" };

export interface FailureMode {
  id: string;
  chapter: ChapterId;
  caughtBy: CaughtBy[];
}

/** The failure modes the guide's readers hit, where each is explained and what in khw catches it. */
export const FAILURE_MODES = [
  { id: "nat-address", chapter: "prerequisites", caughtBy: [{ kind: "preflight", check: "node-address" }] },
  { id: "clock-skew", chapter: "prerequisites", caughtBy: [{ kind: "preflight", check: "clock" }] },
  {
    id: "cidr-overlap",
    chapter: "prerequisites",
    caughtBy: [
      { kind: "spec", code: "cidr-overlaps-nat" },
      { kind: "preflight", check: "cidr-overlap" },
    ],
  },
  { id: "apiserver-sans", chapter: "certificate-authority", caughtBy: [{ kind: "generated" }] },
  { id: "ca-key-on-workers", chapter: "certificate-authority", caughtBy: [{ kind: "generated" }] },
  {
    id: "etcd-member-names",
    chapter: "etcd",
    caughtBy: [{ kind: "generated" }, { kind: "phase", phase: "etcd" }],
  },
  { id: "etcd-even-members", chapter: "etcd", caughtBy: [{ kind: "spec", code: "even-etcd-members" }] },
  { id: "swap", chapter: "workers", caughtBy: [{ kind: "preflight", check: "swap" }] },
  {
    id: "node-ip",
    chapter: "workers",
    caughtBy: [{ kind: "generated" }, { kind: "preflight", check: "node-address" }],
  },
  { id: "cgroup-driver", chapter: "workers", caughtBy: [{ kind: "generated" }] },
  { id: "serving-csr", chapter: "tls-bootstrap", caughtBy: [{ kind: "phase", phase: "rbac" }] },
  {
    id: "weave-ipalloc",
    chapter: "pod-network",
    caughtBy: [{ kind: "generated" }, { kind: "phase", phase: "network" }],
  },
  { id: "kubelet-rbac-subject", chapter: "rbac-kubelet", caughtBy: [{ kind: "generated" }] },
  { id: "coredns-loop", chapter: "dns", caughtBy: [{ kind: "generated" }, { kind: "phase", phase: "dns" }] },
] as const satisfies readonly FailureMode[];

export type FailureModeId = (typeof FAILURE_MODES)[number]["id"];
