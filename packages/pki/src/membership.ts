import type { Cluster, ClusterNode } from "@khw/spec/core";
import { type CertificateSpec, catalogueFromCluster } from "./catalogue";

/**
 * Adding or removing a control plane of a running cluster, as data: which certificates are re-issued
 * and why, the etcd membership change (`member add` before the new member starts with
 * `--initial-cluster-state=existing`; `member remove` once its apiserver stopped serving), every
 * apiserver's `--etcd-servers`, HAProxy's backends, one host at a time with `/readyz` between. Pure:
 * the CLI carries the steps out; tests read them.
 */

/** A certificate whose SANs differ between the two clusters: re-issued with the same key. */
export interface CertificateChange {
  id: string;
  added: string[];
  removed: string[];
  /** Why, in words: `SAN IP 10.0.0.13 (master-3) added`. */
  reason: string;
}

export type MembershipStep =
  | {
      kind: "reissue-certificates";
      certificates: CertificateChange[];
      /**
       * The hosts the new files go to: re-issued here (on the admin machine), pushed by each host's own
       * step below (no restart here: those steps restart what must).
       */
      pushTo: string[];
      reason: string;
    }
  | { kind: "etcd-member-add"; via: string; member: string; peerURL: string; reason: string }
  | {
      kind: "etcd-start-member";
      host: string;
      initialCluster: string;
      initialClusterState: "existing";
      reason: string;
    }
  | { kind: "etcd-wait-healthy"; via: string; members: string[]; reason: string }
  | { kind: "etcd-member-remove"; via: string; member: string; peerURL: string; reason: string }
  /**
   * A control plane that stays: its files (re-issued certificates, etcd unit, apiserver unit) pushed, its
   * apiserver restarted and `/readyz` awaited, taken out of the load balancer's rotation meanwhile. etcd
   * is not restarted: it reads its certificate at every TLS handshake and `--initial-cluster` only at its
   * first start, so a restart would only cost quorum.
   */
  | {
      kind: "restart-apiserver";
      host: string;
      etcdServers: string[];
      /** The load balancer whose backend is set to maintenance while this apiserver restarts. */
      loadBalancer?: string;
      wait: "/readyz";
      reason: string;
    }
  | { kind: "start-control-plane"; host: string; services: string[]; wait: "/readyz"; reason: string }
  | { kind: "stop-control-plane"; host: string; services: string[]; reason: string }
  | { kind: "loadbalancer-backends"; host: string; backends: string[]; reload: true; reason: string }
  | { kind: "reset-host"; host: string; reason: string };

export interface MembershipPlan {
  added: string[];
  removed: string[];
  certificates: CertificateChange[];
  /** In order; each step on one host (or via one host), never two control planes at once. */
  steps: MembershipStep[];
  /** Facts the user should know before it runs (e.g. a window without quorum). */
  warnings: string[];
}

export type MembershipErrorCode =
  | "ONE_AT_A_TIME"
  | "LAST_CONTROL_PLANE"
  | "BELOW_QUORUM"
  | "NO_HEALTHY_MEMBER";

/** Why a membership change is refused: a code, the message, the fix. */
export class MembershipError extends Error {
  constructor(
    readonly code: MembershipErrorCode,
    message: string,
    readonly hint: string,
  ) {
    super(`${message} (fix: ${hint})`);
    this.name = "MembershipError";
  }
}

/** By shape (code + name), so callers across bundles recognise it. */
export function isMembershipError(e: unknown): e is MembershipError {
  return (
    e instanceof Error && e.name === "MembershipError" && typeof (e as { code?: unknown }).code === "string"
  );
}

/** etcd's quorum for n members. */
export function quorum(members: number): number {
  return Math.floor(members / 2) + 1;
}

const CONTROL_PLANE_SERVICES = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"];

function sanList(c: CertificateSpec): string[] {
  return [...c.sans.dns.map((d) => `DNS ${d}`), ...c.sans.ips.map((i) => `IP ${i}`)];
}

/** The certificates present in both catalogues whose SANs differ, with the reason in words. */
export function certificateChanges(before: Cluster, after: Cluster): CertificateChange[] {
  const old = new Map(catalogueFromCluster(before).map((c) => [c.id, c]));
  const owner = (cluster: Cluster, san: string) =>
    cluster.nodes.find((n) => san === `IP ${n.address}` || san === `DNS ${n.name}`)?.name;
  const changes: CertificateChange[] = [];
  for (const c of catalogueFromCluster(after)) {
    const prev = old.get(c.id);
    if (!prev) continue;
    const was = new Set(sanList(prev));
    const now = new Set(sanList(c));
    const added = [...now].filter((s) => !was.has(s));
    const removed = [...was].filter((s) => !now.has(s));
    if (!added.length && !removed.length) continue;
    const words = [
      ...added.map((s) => `SAN ${s}${owner(after, s) ? ` (${owner(after, s)})` : ""} added`),
      ...removed.map((s) => `SAN ${s}${owner(before, s) ? ` (${owner(before, s)})` : ""} removed`),
    ];
    changes.push({ id: c.id, added, removed, reason: words.join(", ") });
  }
  return changes;
}

/**
 * The plan of a control-plane membership change from `before` to `after` (the same cluster with one
 * control plane more or less). `healthy`: the etcd members known healthy now (default: all of
 * `before`'s); the plan refuses what would leave etcd below quorum. `unreachable`: the removed control
 * plane's host is lost (it cannot be stopped or reset): its steps on that host are left out.
 */
export function controlPlaneMembershipPlan(
  before: Cluster,
  after: Cluster,
  options: { healthy?: readonly string[]; unreachable?: boolean } = {},
): MembershipPlan {
  const names = (nodes: ClusterNode[]) => nodes.map((n) => n.name);
  const added = names(after.controlPlanes).filter((n) => !names(before.controlPlanes).includes(n));
  const removed = names(before.controlPlanes).filter((n) => !names(after.controlPlanes).includes(n));
  const certificates = certificateChanges(before, after);
  const plan: MembershipPlan = { added, removed, certificates, steps: [], warnings: [] };
  if (added.length + removed.length === 0) return plan;
  if (added.length + removed.length > 1) {
    throw new MembershipError(
      "ONE_AT_A_TIME",
      `the spec adds ${added.join(", ") || "no"} and removes ${removed.join(", ") || "no"} control plane(s) at once`,
      "change one control plane per run (etcd changes membership one member at a time)",
    );
  }
  const healthy = new Set(options.healthy ?? names(before.controlPlanes));
  const lb = after.loadBalancer ?? before.loadBalancer;
  const certStep = (pushTo: string[], reason: string): MembershipStep[] =>
    certificates.length
      ? [
          {
            kind: "reissue-certificates",
            certificates,
            pushTo,
            reason,
          },
        ]
      : [];

  /** The control planes that stay, one at a time, each out of the load balancer's rotation meanwhile. */
  const restarts = (hosts: ClusterNode[], why: string) =>
    hosts.map(
      (n): MembershipStep => ({
        kind: "restart-apiserver",
        host: n.name,
        etcdServers: after.etcd.clientURLs,
        ...(lb ? { loadBalancer: lb.name } : {}),
        wait: "/readyz",
        reason: `${why}; one control plane at a time so the API stays up`,
      }),
    );

  if (added.length === 1) {
    const name = added[0]!;
    const member = after.etcd.members.find((m) => m.name === name)!;
    const via = before.controlPlanes.find((n) => healthy.has(n.name));
    if (!via) {
      throw new MembershipError(
        "NO_HEALTHY_MEMBER",
        `no etcd member of the running cluster is healthy to add ${name} through`,
        "bring etcd back first (`khw status`), then add the control plane",
      );
    }
    const size = after.controlPlanes.length;
    const healthyOld = before.controlPlanes.filter((n) => healthy.has(n.name)).length;
    // Until the new member joins it counts in the quorum without voting: it must restore quorum at least.
    if (healthyOld + 1 < quorum(size)) {
      throw new MembershipError(
        "BELOW_QUORUM",
        `after \`member add\` etcd has ${size} members and needs ${quorum(size)} for quorum, but only ${healthyOld} of the running ones are healthy (with ${name}, ${healthyOld + 1})`,
        "make every etcd member healthy before adding one",
      );
    }
    if (healthyOld < quorum(size)) {
      plan.warnings.push(
        `between \`member add\` and ${name}'s etcd joining, etcd has ${size} members and ${healthyOld} running, below its quorum of ${quorum(size)}: the API stops until ${name} joins`,
      );
    } else if (healthyOld === quorum(size)) {
      plan.warnings.push(
        `between \`member add\` and ${name}'s etcd joining, the cluster has ${size} members and exactly ${quorum(size)} running: one more failure then stops the API`,
      );
    }
    plan.steps.push(
      ...certStep(names(after.controlPlanes), "certificates name every control plane"),
      {
        kind: "etcd-member-add",
        via: via.name,
        member: name,
        peerURL: member.peerURL,
        reason: "etcd must know the new member before it starts, or it would bootstrap a cluster of its own",
      },
      {
        kind: "etcd-start-member",
        host: name,
        initialCluster: after.etcd.initialCluster,
        initialClusterState: "existing",
        reason: "it joins the existing cluster (with `new` it would start one of its own)",
      },
      {
        kind: "etcd-wait-healthy",
        via: via.name,
        members: names(after.controlPlanes),
        reason: "the apiservers are told about the new member only once it serves",
      },
      ...restarts(before.controlPlanes, `--etcd-servers gains ${member.clientURL}`),
      {
        kind: "start-control-plane",
        host: name,
        services: CONTROL_PLANE_SERVICES,
        wait: "/readyz",
        reason: "the new control plane's own apiserver, controller-manager and scheduler",
      },
      ...(lb
        ? [
            {
              kind: "loadbalancer-backends" as const,
              host: lb.name,
              backends: names(after.controlPlanes),
              reload: true as const,
              reason: `${name} serves /readyz: HAProxy may send clients to it (a reload keeps open connections)`,
            },
          ]
        : []),
    );
    return plan;
  }

  const name = removed[0]!;
  const remaining = after.controlPlanes;
  if (remaining.length === 0) {
    throw new MembershipError(
      "LAST_CONTROL_PLANE",
      `${name} is the last control plane`,
      "a cluster needs one; `khw reset` removes the whole cluster",
    );
  }
  const healthyLeft = remaining.filter((n) => healthy.has(n.name));
  if (healthyLeft.length < quorum(remaining.length)) {
    throw new MembershipError(
      "BELOW_QUORUM",
      `without ${name}, etcd has ${remaining.length} member(s) and needs ${quorum(remaining.length)} healthy, but only ${healthyLeft.length} (${names(healthyLeft).join(", ") || "none"}) are`,
      "make the other members healthy first (`khw status`)",
    );
  }
  const removedMember = before.etcd.members.find((m) => m.name === name)!;
  plan.steps.push(
    ...(lb
      ? [
          {
            kind: "loadbalancer-backends" as const,
            host: lb.name,
            backends: names(remaining),
            reload: true as const,
            reason: `no new client is sent to ${name}'s apiserver`,
          },
        ]
      : []),
    ...(options.unreachable
      ? []
      : [
          {
            kind: "stop-control-plane" as const,
            host: name,
            services: CONTROL_PLANE_SERVICES,
            reason: "its apiserver stops writing to etcd before the member leaves",
          },
        ]),
    {
      kind: "etcd-member-remove",
      via: healthyLeft[0]!.name,
      member: name,
      peerURL: removedMember.peerURL,
      reason: `etcd shrinks to ${remaining.length} member(s) (quorum ${quorum(remaining.length)}) before anything else depends on it`,
    },
    ...certStep(names(remaining), "a removed host's address is no longer trusted"),
    ...restarts(remaining, `--etcd-servers loses ${removedMember.clientURL}`),
    ...(options.unreachable
      ? []
      : [
          {
            kind: "reset-host" as const,
            host: name,
            reason: "etcd, the control plane and khw's files leave the host",
          },
        ]),
  );
  if (options.unreachable)
    plan.warnings.push(
      `${name}'s host is not touched (unreachable): should it come back, its etcd member is refused by the others, but its services would still run; reset it before any reuse`,
    );
  if (remaining.length === 2)
    plan.warnings.push("2 etcd members tolerate no failure: one down stops the API (3 or 1 is recommended)");
  return plan;
}
