import { KUBECONFIG_PATHS } from "@khw/kubeconfig";
import type { Executor, HostTarget } from "@khw/remote-exec";
import type { Cluster } from "@khw/spec/core";
import { BINARY_PATHS } from "@khw/systemd-units";
import { applyHost } from "../up/phases";

/** Lists the registered Nodes' names, one a line (read-only, with the admin kubeconfig on a control plane). */
export const LIST_NODES_SCRIPT = `${BINARY_PATHS.kubectl} --kubeconfig ${KUBECONFIG_PATHS.admin} get nodes --request-timeout=10s -o jsonpath='{range .items[*]}{.metadata.name}{"\\n"}{end}'`;

/** Nodes registered in the cluster that cluster.yaml does not name. Pure. */
export function orphansOf(cluster: Cluster, registered: readonly string[]): string[] {
  const known = new Set(cluster.nodes.map((n) => n.name));
  return registered.filter((n) => n && !known.has(n)).sort();
}

/** The line `khw status` and `khw up --dry-run` print for an orphaned node. */
export function orphanMessage(name: string): string {
  return `orphaned node ${name}: registered but not in cluster.yaml — \`khw node remove ${name}\` or add it back`;
}

/**
 * The orphaned nodes, asked of the API on the first control plane; undefined when it cannot be asked
 * (host unreachable, API down, kubectl not installed yet): never an error of the command that asks.
 */
export async function findOrphans(
  cluster: Cluster,
  executor: Executor,
  targets: ReadonlyMap<string, HostTarget>,
): Promise<string[] | undefined> {
  const cp = cluster.controlPlanes.length ? applyHost(cluster) : undefined;
  const target = cp && targets.get(cp.name);
  if (!target) return undefined;
  try {
    const r = await executor.shell(target, LIST_NODES_SCRIPT, {
      sudo: true,
      check: false,
      timeoutMs: 20_000,
    });
    if (r.code !== 0) return undefined;
    return orphansOf(
      cluster,
      r.stdout.split("\n").map((l) => l.trim()),
    );
  } catch {
    return undefined;
  }
}
