/**
 * Why a drain did not finish, from the cluster's own objects (never from kubectl's wording): the pods
 * still on the node that are not DaemonSet- or mirror pods, and for each the PodDisruptionBudgets that
 * select it with no disruption allowed. Pure.
 */

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

export interface PodInfo {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  status?: { phase?: string };
}

export interface PdbInfo {
  metadata: { name: string; namespace: string };
  spec?: { selector?: LabelSelector; minAvailable?: number | string; maxUnavailable?: number | string };
  status?: { disruptionsAllowed?: number; currentHealthy?: number; desiredHealthy?: number };
}

/** Whether a label selector selects these labels (Kubernetes semantics; an empty selector selects all). */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return false; // a PDB without a selector selects nothing (policy/v1)
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const values = e.values ?? [];
    const ok =
      e.operator === "In"
        ? has && values.includes(labels[e.key]!)
        : e.operator === "NotIn"
          ? !has || !values.includes(labels[e.key]!)
          : e.operator === "Exists"
            ? has
            : e.operator === "DoesNotExist"
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

export interface BlockedPod {
  /** `namespace/name`. */
  pod: string;
  /** The budgets that forbid evicting it now (`namespace/name` and what they demand). */
  budgets: Array<{ name: string; detail: string }>;
  /** No controller owns it: only `--force` deletes it (kubectl's rule). */
  unmanaged: boolean;
  /** Being deleted already (its grace period runs). */
  terminating: boolean;
}

const finished = (p: PodInfo) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
const isDaemonSetPod = (p: PodInfo) =>
  (p.metadata.ownerReferences ?? []).some((o) => o.controller && o.kind === "DaemonSet");
const isMirrorPod = (p: PodInfo) => !!p.metadata.annotations?.["kubernetes.io/config.mirror"];

/** The pods a drain must still move off the node, and what holds each one there. */
export function blockedPods(pods: PodInfo[], pdbs: PdbInfo[]): BlockedPod[] {
  return pods
    .filter((p) => !finished(p) && !isDaemonSetPod(p) && !isMirrorPod(p))
    .map((p) => {
      const budgets = pdbs
        .filter(
          (b) =>
            b.metadata.namespace === p.metadata.namespace &&
            (b.status?.disruptionsAllowed ?? 0) < 1 &&
            selectorMatches(b.spec?.selector, p.metadata.labels ?? {}),
        )
        .map((b) => {
          const demand =
            b.spec?.minAvailable !== undefined
              ? `minAvailable ${b.spec.minAvailable}`
              : b.spec?.maxUnavailable !== undefined
                ? `maxUnavailable ${b.spec.maxUnavailable}`
                : "no disruption";
          return {
            name: `${b.metadata.namespace}/${b.metadata.name}`,
            detail: `${demand}, ${b.status?.currentHealthy ?? "?"} healthy, ${b.status?.disruptionsAllowed ?? 0} disruption(s) allowed`,
          };
        });
      return {
        pod: `${p.metadata.namespace}/${p.metadata.name}`,
        budgets,
        unmanaged: !(p.metadata.ownerReferences ?? []).some((o) => o.controller),
        terminating: !!p.metadata.deletionTimestamp,
      };
    });
}

/**
 * One sentence per pod that holds the drain. Without --force, kubectl drain refuses the whole node while
 * a pod has no controller (nothing is evicted then): those pods are the cause, named alone.
 */
export function describeBlocked(blocked: BlockedPod[], force = false): string {
  const unmanaged = force ? [] : blocked.filter((b) => b.unmanaged);
  const shown = unmanaged.length ? unmanaged : blocked;
  return shown
    .map((b) =>
      b.unmanaged && !force
        ? `pod ${b.pod} has no controller${b.terminating ? " (terminating)" : ""}: kubectl drain deletes it only with --force, and nothing recreates it`
        : b.budgets.length
          ? `pod ${b.pod} is held by PodDisruptionBudget ${b.budgets.map((x) => `${x.name} (${x.detail})`).join(", ")}`
          : b.terminating
            ? `pod ${b.pod} is still terminating`
            : `pod ${b.pod} was not evicted`,
    )
    .join("; ");
}
