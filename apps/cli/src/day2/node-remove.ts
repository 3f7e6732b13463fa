import { KUBECONFIG_PATHS } from "@khw/kubeconfig";
import { controlPlaneMembershipPlan, isMembershipError, type MembershipPlan } from "@khw/pki";
import type { ExecResult } from "@khw/remote-exec";
import type { Cluster, ClusterNode } from "@khw/spec";
import { loadCluster } from "@khw/spec";
import { BINARY_PATHS } from "@khw/systemd-units";
import { CliError, UsageError } from "../errors";
import { applyHost } from "../up/phases";
import { blockedPods, describeBlocked, type PdbInfo, type PodInfo } from "./node-drain";
import { describeError, type Hosts } from "./remote";
import { type HostReset, type HostResetResult, resetHosts } from "./reset";

const KUBECTL = `${BINARY_PATHS.kubectl} --kubeconfig ${KUBECONFIG_PATHS.admin}`;

export interface NodeRemoveOptions {
  /** Seconds the drain may take (kubectl drain --timeout). */
  timeoutSeconds: number;
  /** kubectl drain --force: also delete pods no controller manages; and allow removing the last worker. */
  force: boolean;
  /** Keep the host's KUBE-*, CNI-* and FLANNEL-* iptables chains. */
  keepIptables: boolean;
  /**
   * The host is gone or does not answer: no drain (its pods go with its Node, and their controllers
   * recreate them elsewhere), no host reset; the Node, the routes to it and its spec entry only.
   */
  unreachable?: boolean;
}

/** What `khw node remove NAME` will do, as data (printed by --dry-run, carried out otherwise). */
export interface NodeRemovePlan {
  node: string;
  /** In cluster.yaml (its host can be reached and cleaned), or only registered in the cluster (orphan). */
  inSpec: boolean;
  /** The control plane whose kubectl cordons, drains and deletes the Node. */
  via: string;
  /** The drain, or undefined for an unreachable host (nothing there can stop its pods). */
  drain?: string;
  /** The host's reset (services, paths): absent for a node cluster.yaml does not list. */
  reset?: HostReset;
  /** bridge-routes: the other workers' routes to this node's pod slice, deleted. */
  routes: Array<{ host: string; cidr: string; via: string }>;
}

/** Refusals that need no host: the role, the last worker. Returns the node when it is in the spec. */
export function checkRemovable(
  cluster: Cluster,
  name: string,
  options: Pick<NodeRemoveOptions, "force">,
): ClusterNode | undefined {
  const node = cluster.nodes.find((n) => n.name === name);
  if (!node) return undefined;
  if (node.role === "loadbalancer") {
    throw new CliError(
      "NODE_REMOVE_REFUSED",
      `${name} is the load balancer: the API endpoint of every kubeconfig points at it`,
      "only workers can be removed; to drop the load balancer, change the spec and run `khw reset` and `khw up`",
    );
  }
  if (cluster.workers.length === 1 && !options.force) {
    throw new UsageError(
      `${name} is the last worker: without it no pod can run (CoreDNS, the pod network, your workloads)`,
      "pass --force to remove it anyway",
    );
  }
  return node;
}

export function nodeRemovePlan(
  cluster: Cluster,
  name: string,
  node: ClusterNode | undefined,
  reset: HostReset | undefined,
  options: NodeRemoveOptions,
): NodeRemovePlan {
  const via = applyHost(cluster).name;
  const podCIDR = node?.podCIDR;
  return {
    node: name,
    inSpec: node !== undefined,
    via,
    ...(options.unreachable ? {} : { drain: drainCommand(name, options) }),
    ...(reset && !options.unreachable ? { reset } : {}),
    routes:
      node && podCIDR && cluster.spec.addons.podNetwork === "bridge-routes"
        ? cluster.workers
            .filter((w) => w.name !== name)
            .map((w) => ({ host: w.name, cidr: podCIDR, via: node.address }))
        : [],
  };
}

/** kubectl drain: evictions (PodDisruptionBudgets respected), DaemonSet pods left, emptyDir data lost. */
export function drainCommand(name: string, options: Pick<NodeRemoveOptions, "timeoutSeconds" | "force">) {
  return [
    "kubectl drain",
    name,
    "--ignore-daemonsets",
    "--delete-emptydir-data",
    `--timeout=${options.timeoutSeconds}s`,
    ...(options.force ? ["--force"] : []),
  ].join(" ");
}

export interface NodeRemoveResult {
  node: string;
  /** The Node object was registered when the command began. */
  registered: boolean;
  drained: boolean;
  /** Pods evicted by the drain (`namespace/name`). */
  evicted: string[];
  nodeDeleted: boolean;
  host?: HostResetResult;
  routesDeleted: string[];
}

/** Lines khw reports as it goes (`[node] …`). */
export type Say = (line: string) => void;

/**
 * Cordon and drain (kubectl on the first control plane), stop and clean the host (khw reset for this one
 * host), delete the Node (after the host stopped, so its kubelet cannot register it again), delete the
 * other workers' routes to its pod slice. Safe to run again: a Node already gone is not drained again.
 */
export async function removeNode(
  cluster: Cluster,
  plan: NodeRemovePlan,
  hosts: Hosts,
  options: NodeRemoveOptions,
  say: Say,
): Promise<NodeRemoveResult> {
  const cp = cluster.nodes.find((n) => n.name === plan.via)!;
  const t = hosts.target(cp);
  const ex = hosts.executor;
  const sh = async (script: string, args: string[], timeoutSeconds: number): Promise<ExecResult> => {
    try {
      return await ex.shell(t, script, { sudo: true, args, check: false, timeoutMs: timeoutSeconds * 1000 });
    } catch (e) {
      const d = describeError(e);
      throw new CliError("NODE_REMOVE_FAILED", `${cp.name}: ${d.message}`, d.hint);
    }
  };
  const result: NodeRemoveResult = {
    node: plan.node,
    registered: false,
    drained: false,
    evicted: [],
    nodeDeleted: false,
    routesDeleted: [],
  };

  const get = await sh(`${KUBECTL} get node "$1" -o name 2>&1`, [plan.node], 60);
  if (get.code !== 0 && !/NotFound|not found/.test(get.stdout)) {
    throw new CliError(
      "NODE_REMOVE_FAILED",
      `${cp.name}: \`kubectl get node ${plan.node}\` failed: ${get.stdout.trim().split("\n").at(-1)}`,
      "the API must answer on the control plane (`khw status`, `khw up`)",
    );
  }
  result.registered = get.code === 0;
  if (!result.registered) say(`${plan.node}: no Node registered (already deleted): nothing to drain`);
  else if (!plan.drain) say(`${plan.node}: not drained (its host is unreachable): its pods go with its Node`);
  else {
    say(`${plan.node}: cordon and drain (${plan.drain}) on ${cp.name}`);
    const drain = await sh(
      `${KUBECTL} drain "$1" --ignore-daemonsets --delete-emptydir-data --timeout="$2"s ${options.force ? "--force " : ""}2>&1`,
      [plan.node, String(options.timeoutSeconds)],
      options.timeoutSeconds + 60,
    );
    result.evicted = [...drain.stdout.matchAll(/^pod\/(\S+) evicted$/gm)].map((m) => m[1]!);
    if (drain.code !== 0) {
      const why = await drainBlockers(sh, plan.node, options.force);
      const timedOut = /global timeout reached|timed out/.test(drain.stdout);
      throw new CliError(
        "DRAIN_FAILED",
        `the drain of ${plan.node} ${timedOut ? `did not finish within ${options.timeoutSeconds} s` : "was refused"}${why ? `: ${why}` : `: ${drain.stdout.trim().split("\n").slice(-3).join(" / ")}`}; the node stays cordoned and its host untouched`,
        /PodDisruptionBudget/.test(why)
          ? "let the budget allow a disruption (more replicas on other nodes, or relax minAvailable/maxUnavailable), or raise --timeout; `kubectl uncordon " +
              `${plan.node}\` undoes the cordon`
          : /no controller/.test(why)
            ? "pass --force to delete pods no controller manages (they are gone for good), or move them yourself"
            : `raise --timeout, or see \`kubectl get pods -A -o wide --field-selector spec.nodeName=${plan.node}\``,
      );
    }
    result.drained = true;
    say(`${plan.node}: drained (${result.evicted.length} pod(s) evicted)`);
  }

  if (plan.reset) {
    const [r] = await resetHosts(cluster, [plan.reset], hosts, { flushIptables: !options.keepIptables });
    result.host = r!;
    if (r!.ok)
      say(
        `${plan.node}: stopped ${r!.stopped.join(", ") || "nothing (not running)"}; files removed${r!.deleted.length ? `; deleted ${r!.deleted.join(", ")}` : ""}`,
      );
    for (const l of r!.left) say(`${plan.node}: left ${l}`);
  }

  if (result.registered) {
    const del = await sh(`${KUBECTL} delete node "$1" --ignore-not-found 2>&1`, [plan.node], 120);
    if (del.code !== 0) {
      throw new CliError(
        "NODE_REMOVE_FAILED",
        `${cp.name}: \`kubectl delete node ${plan.node}\` failed: ${del.stdout.trim().split("\n").at(-1)}`,
        `run \`khw node remove ${plan.node}\` again`,
      );
    }
    result.nodeDeleted = true;
    say(`${plan.node}: Node deleted`);
  }

  for (const r of plan.routes) {
    const w = cluster.nodes.find((n) => n.name === r.host)!;
    try {
      const x = await ex.shell(
        hosts.target(w),
        'if ip -4 route show "$1" | grep -q "via $2 "; then ip -4 route del "$1" via "$2" && echo deleted; fi',
        { sudo: true, args: [r.cidr, r.via] },
      );
      if (/deleted/.test(x.stdout)) result.routesDeleted.push(`${r.host}: ${r.cidr} via ${r.via}`);
    } catch (e) {
      say(`${r.host}: could not delete the route ${r.cidr} via ${r.via}: ${describeError(e).message}`);
    }
  }
  if (result.routesDeleted.length) say(`deleted the routes ${result.routesDeleted.join(", ")}`);
  return result;
}

/** What holds pods on the node after a failed drain: its pods and the budgets, read through the API. */
async function drainBlockers(
  sh: (script: string, args: string[], timeoutSeconds: number) => Promise<ExecResult>,
  node: string,
  force: boolean,
): Promise<string> {
  const r = await sh(
    `${KUBECTL} get pods -A --field-selector spec.nodeName="$1" -o json 2>/dev/null && echo '--- khw ---' && ${KUBECTL} get pdb -A -o json 2>/dev/null`,
    [node],
    60,
  );
  const [pods, pdbs] = r.stdout.split("--- khw ---");
  try {
    const items = (JSON.parse(pods!) as { items: PodInfo[] }).items;
    const budgets = (JSON.parse(pdbs!) as { items: PdbInfo[] }).items;
    return describeBlocked(blockedPods(items, budgets), force);
  } catch {
    return "";
  }
}

/**
 * The plan of removing control plane `name` (@khw/pki's membership plan from the spec with and without
 * it; `healthy`: the etcd members known healthy, default all); its refusals (quorum, last control plane)
 * as CLI errors.
 */
export function controlPlaneRemovalPlan(
  cluster: Cluster,
  name: string,
  options: { healthy?: readonly string[]; unreachable?: boolean } = {},
): MembershipPlan {
  const spec = cluster.spec;
  let after: Cluster;
  try {
    after = loadCluster({ ...spec, nodes: spec.nodes.filter((n) => n.name !== name) }).cluster;
  } catch (e) {
    throw new CliError(
      "NODE_REMOVE_REFUSED",
      `without ${name} the spec is not valid: ${e instanceof Error ? e.message.split("\n").slice(0, 2).join(" ") : String(e)}`,
      "a cluster needs a control plane; `khw reset` removes the whole cluster",
    );
  }
  try {
    return controlPlaneMembershipPlan(cluster, after, options);
  } catch (e) {
    if (isMembershipError(e))
      throw new CliError("NODE_REMOVE_REFUSED", e.message.replace(/ \(fix: .*\)$/, ""), e.hint);
    throw e;
  }
}
