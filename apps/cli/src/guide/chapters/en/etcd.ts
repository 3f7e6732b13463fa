import type { ChapterProse } from "../../text";

export const etcd: ChapterProse = {
  title: "The etcd cluster",
  what: (f) => [
    `etcd runs on every control plane (${f.cluster.etcd.members.map((m) => `${m.name} ${m.address}`).join(", ")}): clients on :2379, peers on :2380, both over TLS with client-certificate authentication. The apiserver is its only client. Members must start close together: the first one waits for a quorum before it serves.`,
  ],
  steps: {
    run: () =>
      "On each control plane: install etcd, its certificates and its unit, then start them all at about the same time and check the health:",
  },
  pitfalls: {
    "etcd-member-names": {
      title: "Member names",
      text: () =>
        "`--name` must be exactly the name this member has in `--initial-cluster` on every member; a copy-pasted unit with another host's name or address leaves the cluster without quorum (`member … has already been bootstrapped`, or no leader).",
    },
    "etcd-even-members": {
      title: "Two members",
      text: () =>
        "Two etcd members tolerate no failure (quorum is 2): losing either stops the cluster. Use 1 or 3.",
    },
  },
};
