import { stringify } from "yaml";
import type { Kubeconfig } from "./model";
import { parseKubeconfigObject } from "./parse";
import { toKubeconfigObject, YAML_OPTIONS } from "./render";

/** An entry of a kubeconfig, as `cluster/NAME`, `user/NAME` or `context/NAME`. */
export type KubeconfigEntryRef = `${"cluster" | "user" | "context"}/${string}`;

export interface MergeOptions {
  /** Make the incoming context the current one (default true, as kind and minikube do). */
  setCurrentContext?: boolean;
}

export interface MergeResult {
  /** The merged kubeconfig, to write back (the CLI writes it to a temp name, then renames). */
  yaml: string;
  /** Entries that did not exist before. */
  added: KubeconfigEntryRef[];
  /** Same-named entries that existed with other contents and were replaced by the incoming ones. */
  replaced: KubeconfigEntryRef[];
  /** Same-named entries that were already identical. */
  unchanged: KubeconfigEntryRef[];
  /** The current-context before and after. */
  currentContext: { before: string | undefined; after: string | undefined };
}

const LISTS = [
  ["clusters", "cluster"],
  ["contexts", "context"],
  ["users", "user"],
] as const;

/**
 * Adds `incoming` to an existing kubeconfig (e.g. `~/.kube/config`; "" for none), purely.
 *
 * The rule for names: every entry of `incoming` (cluster, user, context) is ours and replaces an
 * existing entry of the same kind and name, in place; every other existing entry is theirs and is kept
 * exactly as it was, unknown fields included (exec plugins, extensions, namespaces). Entries that are new
 * are appended. Top-level keys other than the lists and current-context are kept too. Comments in the
 * existing file are not kept (it is re-rendered). To never replace anyone else's entry, give incoming
 * entries names unique to the cluster — `kubeconfigFilesFromCluster`'s admin-machine copy is named after
 * the cluster (context `<name>`, user `admin@<name>`) for this reason.
 */
export function mergeKubeconfig(
  existingYaml: string,
  incoming: Kubeconfig,
  options: MergeOptions = {},
): MergeResult {
  const existing = parseKubeconfigObject(existingYaml);
  const ours = toKubeconfigObject(incoming);
  const added: KubeconfigEntryRef[] = [];
  const replaced: KubeconfigEntryRef[] = [];
  const unchanged: KubeconfigEntryRef[] = [];
  const merged: Record<string, unknown> = { apiVersion: "v1", kind: "Config" };
  const lists: Record<string, unknown[]> = {};
  for (const [key, kind] of LISTS) {
    const theirs = (Array.isArray(existing[key]) ? existing[key] : []) as Record<string, unknown>[];
    const mine = ours[key] as Record<string, unknown>[];
    const byName = new Map(mine.map((e) => [e["name"] as string, e]));
    const out: unknown[] = [];
    const seen = new Set<string>();
    for (const entry of theirs) {
      const name = entry["name"] as string;
      const replacement = byName.get(name);
      if (replacement === undefined || seen.has(name)) {
        if (replacement === undefined) out.push(entry);
        continue;
      }
      seen.add(name);
      const ref = `${kind}/${name}` as KubeconfigEntryRef;
      if (JSON.stringify(entry) === JSON.stringify(replacement)) unchanged.push(ref);
      else replaced.push(ref);
      out.push(replacement);
    }
    for (const entry of mine) {
      const name = entry["name"] as string;
      if (!seen.has(name)) {
        added.push(`${kind}/${name}` as KubeconfigEntryRef);
        out.push(entry);
      }
    }
    lists[key] = out;
  }
  const before = typeof existing["current-context"] === "string" ? existing["current-context"] : undefined;
  const after =
    (options.setCurrentContext ?? true) || before === undefined || before === ""
      ? incoming.currentContext
      : before;
  // Known keys in the renderer's fixed order, then any other top-level keys as the file had them:
  // merging into the result again gives the same bytes (idempotent), whatever order the file had.
  merged["apiVersion"] = existing["apiVersion"] ?? "v1";
  merged["kind"] = existing["kind"] ?? "Config";
  merged["clusters"] = lists["clusters"];
  merged["contexts"] = lists["contexts"];
  merged["current-context"] = after;
  merged["preferences"] = existing["preferences"] ?? {};
  merged["users"] = lists["users"];
  for (const [k, v] of Object.entries(existing)) {
    if (!(k in merged)) merged[k] = v;
  }
  return {
    yaml: stringify(merged, YAML_OPTIONS),
    added,
    replaced,
    unchanged,
    currentContext: { before, after },
  };
}
