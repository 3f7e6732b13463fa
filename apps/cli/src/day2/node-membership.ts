import {
  controlPlaneMembershipPlan,
  isMembershipError,
  type MembershipPlan,
  type MembershipStep,
} from "@khw/pki";
import type { Executor, HostTarget } from "@khw/remote-exec";
import { type Cluster, certPath, keyPath, loadCluster } from "@khw/spec";
import { BINARY_PATHS } from "@khw/systemd-units";
import { CliError } from "../errors";
import type { Io } from "../io";
import { loadSpecFile } from "../spec-file";
import { hostTargets, sshExecutorForSpec } from "../up/executor";
import { readState } from "../up/state";
import { currentSeams, workdirPaths } from "../workdir";

/** The running etcd's members, `name<TAB>peer URL` a line (read-only; nothing when etcd is not active). */
export const ETCD_MEMBERS_SCRIPT = `systemctl is-active --quiet etcd || exit 0
ETCDCTL_API=3 ${BINARY_PATHS.etcdctl} --endpoints=https://127.0.0.1:2379 --cacert=${certPath("ca", "etcdPki")} --cert=${certPath("etcd-server", "etcdPki")} --key=${keyPath("etcd-server", "etcdPki")} --dial-timeout=3s --command-timeout=5s member list 2>/dev/null | awk -F', ' '{print "member\\t" $3 "\\t" $4}'`;

export interface EtcdMemberSeen {
  name: string;
  peerURL: string;
}

/** The members etcd reports on the first control plane that answers; undefined when none runs etcd yet. */
export async function runningEtcdMembers(
  cluster: Cluster,
  executor: Executor,
  targets: ReadonlyMap<string, HostTarget>,
): Promise<EtcdMemberSeen[] | undefined> {
  for (const cp of cluster.controlPlanes) {
    const target = targets.get(cp.name);
    if (!target) continue;
    try {
      const r = await executor.shell(target, ETCD_MEMBERS_SCRIPT, {
        sudo: true,
        check: false,
        timeoutMs: 20_000,
      });
      const members = r.stdout
        .split("\n")
        .map((l) => l.split("\t"))
        .filter((f) => f[0] === "member" && f[1])
        .map((f) => ({ name: f[1]!, peerURL: f[2] ?? "" }));
      if (members.length) return members;
    } catch {
      // unreachable or not scripted: ask the next control plane
    }
  }
  return undefined;
}

export interface MembershipDrift {
  added: string[];
  removed: string[];
  /** @khw/pki's plan of the change, when it can be made (one control plane at a time, quorum kept). */
  plan?: MembershipPlan;
  /** Why there is no plan. */
  refusal?: string;
}

/**
 * The spec's control planes against etcd's members. Undefined when they agree. Pure: `before` is the
 * spec as the running cluster is (the spec with the members' names and peer addresses).
 */
export function membershipDrift(cluster: Cluster, members: EtcdMemberSeen[]): MembershipDrift | undefined {
  const inSpec = cluster.controlPlanes.map((n) => n.name);
  const running = members.map((m) => m.name);
  const added = inSpec.filter((n) => !running.includes(n));
  const removed = running.filter((n) => !inSpec.includes(n));
  if (!added.length && !removed.length) return undefined;
  const drift: MembershipDrift = { added, removed };
  try {
    const spec = cluster.spec;
    const gone = members
      .filter((m) => removed.includes(m.name))
      .map((m) => ({
        name: m.name,
        role: "controlplane" as const,
        address: /^https:\/\/([^:]+):/.exec(m.peerURL)?.[1] ?? "",
      }));
    const before = loadCluster({
      ...spec,
      nodes: [...gone, ...spec.nodes.filter((n) => !added.includes(n.name))],
    }).cluster;
    drift.plan = controlPlaneMembershipPlan(before, cluster);
  } catch (e) {
    drift.refusal = isMembershipError(e)
      ? e.message
      : `the running cluster cannot be described (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`;
  }
  return drift;
}

/** One line per membership step. */
export function describeStep(s: MembershipStep): string {
  switch (s.kind) {
    case "reissue-certificates":
      return `re-issue ${s.certificates.map((c) => `${c.id} (${c.reason})`).join(", ")}; push to ${s.pushTo.join(", ")}`;
    case "etcd-member-add":
      return `${s.via}: etcdctl member add ${s.member} --peer-urls=${s.peerURL}`;
    case "etcd-start-member":
      return `${s.host}: start etcd with --initial-cluster=${s.initialCluster} --initial-cluster-state=existing`;
    case "etcd-wait-healthy":
      return `${s.via}: wait until ${s.members.join(", ")} are healthy`;
    case "etcd-member-remove":
      return `${s.via}: etcdctl member remove <id of ${s.member}>`;
    case "restart-apiserver":
      return `${s.host}: kube-apiserver --etcd-servers=${s.etcdServers.join(",")}, restart, wait ${s.wait}`;
    case "start-control-plane":
      return `${s.host}: start ${s.services.join(", ")}, wait ${s.wait}`;
    case "stop-control-plane":
      return `${s.host}: stop ${s.services.join(", ")}`;
    case "loadbalancer-backends":
      return `${s.host}: HAProxy backends ${s.backends.join(", ")}, reload`;
    case "reset-host":
      return `${s.host}: khw reset of this host`;
  }
}

/** The lines that explain a drift: what differs, then the plan (or why there is none). */
export function describeDrift(d: MembershipDrift): string[] {
  const what = [
    ...(d.added.length ? [`adds control plane(s) ${d.added.join(", ")}`] : []),
    ...(d.removed.length ? [`drops ${d.removed.join(", ")} (still etcd members)`] : []),
  ].join(" and ");
  return [
    `the spec ${what}: khw up does not carry out control-plane membership changes yet (it would start a new member's etcd as a cluster of its own and restart every member at once)`,
    ...(d.plan
      ? [
          "the change as khw plans it:",
          ...d.plan.steps.map((s, i) => `  ${i + 1}. ${describeStep(s)} — ${s.reason}`),
          ...d.plan.warnings.map((w) => `  warning: ${w}`),
        ]
      : [`no plan: ${d.refusal}`]),
  ];
}

/**
 * For `khw up`, before anything is re-issued or pushed: on a cluster this directory brought up (etcd done
 * in .khw/state.json), the spec's control planes must be etcd's members. A drift is refused with the plan
 * of the change (--dry-run too). Nothing is said when etcd cannot be asked.
 */
export async function checkControlPlanes(io: Io, file: string | undefined, dryRun: boolean): Promise<void> {
  const loaded = loadSpecFile(io.cwd, file, { allowDefault: true });
  if (readState(workdirPaths(loaded.baseDir).state).phases["etcd"]?.status !== "done") return;
  const seam = currentSeams().executor;
  // the tests' executor is the run's too: used, not closed, here
  const executor = seam ? seam() : sshExecutorForSpec(loaded, undefined, { dryRun: true });
  let members: EtcdMemberSeen[] | undefined;
  try {
    members = await runningEtcdMembers(loaded.cluster, executor, hostTargets(loaded, io.env));
  } finally {
    if (!seam) await executor.close().catch(() => {});
  }
  const drift = members && membershipDrift(loaded.cluster, members);
  if (!drift) return;
  const [first, ...rest] = describeDrift(drift);
  // --dry-run too: planning the unsupported change would re-issue certificates in pki/ already.
  throw new CliError(
    "CONTROL_PLANES_CHANGED",
    `${dryRun ? "dry run: " : ""}${first}\n${rest.join("\n")}`,
    `put the control planes back as etcd has them (${members!.map((m) => m.name).join(", ")}); workers can be added and removed`,
  );
}
