import type { Cluster } from "@khw/spec";
import type { WorkdirSecrets } from "../workdir/workdir";

/** Where cluster objects are filed under the admin host (`out/admin/manifests/`). */
export const MANIFEST_DIR = "/manifests";

/** One file of cluster objects, applied by `kubectl apply` in its phase. */
export interface Manifest {
  /** File name, e.g. `20-rbac-apiserver-to-kubelet.yaml` (ordered by the numeric prefix). */
  file: string;
  phase: "admin" | "network" | "rbac" | "dns";
  description: string;
  contents: string;
  /** Holds a credential (the bootstrap token Secret): never shown in diffs or logs. */
  secret?: boolean;
}

/** The cluster objects of a cluster (from @khw/addons). */
export function clusterManifests(_cluster: Cluster, _secrets: WorkdirSecrets): Manifest[] {
  return [];
}
