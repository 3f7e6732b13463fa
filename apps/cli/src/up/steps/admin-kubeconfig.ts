import { existsSync, readFileSync } from "node:fs";
import { ADMIN_KUBECONFIG_PATH, type ArtifactFile } from "../../artifacts";
import { writeFileAtomic } from "../../fs-atomic";
import type { Observation, StepHandler } from "./types";

export interface AdminKubeconfigObservation extends Observation {
  /** The kubeconfig to write (undefined: none generated, or the working directory has it already). */
  file: ArtifactFile | undefined;
}

/** The admin's own kubeconfig, written into the working directory (0600) when it differs. */
export const adminKubeconfigStep: StepHandler<{ kind: "admin-kubeconfig" }, AdminKubeconfigObservation> = {
  name: () => "admin kubeconfig",
  async probe(ctx) {
    const f = ctx.artifacts.files.find((x) => x.host === "admin" && x.path === ADMIN_KUBECONFIG_PATH);
    const local = ctx.paths.adminKubeconfig;
    const cur = existsSync(local) ? readFileSync(local, "utf8") : undefined;
    if (!f || cur === f.contents) return { file: undefined, changes: [] };
    return { file: f, detail: local, changes: [{ what: `write ${local} (0600)`, host: "admin" }] };
  },
  async act(ctx, _host, _step, seen) {
    if (!seen.file) return { changes: 0 };
    writeFileAtomic(ctx.paths.adminKubeconfig, seen.file.contents, 0o600);
    return { changes: 1, detail: ctx.paths.adminKubeconfig };
  },
};
