import { type AddonManifest, addonManifestsFromCluster, parseBootstrapToken } from "@khw/addons";
import type { Cluster } from "@khw/spec/core";
import type { WorkdirSecrets } from "../workdir/workdir";

/** Where cluster objects are filed under the admin host (`out/admin/manifests/`). */
export const MANIFEST_DIR = "/manifests";

/** The `khw up` phase that applies each addon; `smoke` objects are applied by `khw smoke`, not by `up`. */
export const ADDON_PHASE: Record<AddonManifest["name"], Manifest["phase"]> = {
  "tls-bootstrap": "rbac",
  "apiserver-to-kubelet": "rbac",
  "weave-net": "network",
  flannel: "network",
  coredns: "dns",
  "smoke-test": "smoke",
};

/** One file of cluster objects, applied by `kubectl apply` in its phase. */
export interface Manifest {
  /** File name, e.g. `02-apiserver-to-kubelet.yaml` (ordered by the numeric prefix). */
  file: string;
  phase: "network" | "rbac" | "dns" | "smoke";
  description: string;
  contents: string;
  /** Holds a credential (the bootstrap token Secret): never shown in diffs or logs. */
  secret?: boolean;
}

/** The cluster objects of a cluster (from @khw/addons), with the phase that applies each. */
export function clusterManifests(cluster: Cluster, secrets: WorkdirSecrets): Manifest[] {
  const needsToken = cluster.workers.some((w) => w.kubeletCredentials === "tls-bootstrap");
  const addons = addonManifestsFromCluster(
    cluster,
    needsToken
      ? {
          bootstrapToken: {
            ...parseBootstrapToken(secrets.bootstrapToken),
            expiration: secrets.bootstrapTokenExpires,
          },
        }
      : {},
  );
  return addons.map((a) => ({
    file: a.file,
    phase: ADDON_PHASE[a.name],
    description: a.description,
    contents: a.yaml,
    ...(a.secret ? { secret: true } : {}),
  }));
}
