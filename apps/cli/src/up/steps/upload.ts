import { NODE_DIRS } from "@khw/spec/core";
import { createTwoFilesPatch } from "diff";
import type { ArtifactFile } from "../../artifacts";
import type { Owed } from "../state";
import { compareSeen, type Observation, type StepHandler } from "./types";

type UploadStep = { kind: "upload"; file: ArtifactFile };

export interface UploadObservation extends Observation {
  /** What a change of this file owes: its services' restarts, a daemon-reload for a unit. */
  owes: Owed;
}

/** A unit file's change owes a daemon-reload too. */
const owedBy = (f: ArtifactFile): Owed => ({
  restart: f.services,
  ...(f.path.startsWith(`${NODE_DIRS.units}/`) ? { daemonReload: true } : {}),
});

/** One generated file: uploaded atomically when it differs; a change owes restarts of its services. */
export const uploadStep: StepHandler<UploadStep, UploadObservation> = {
  name: (step) => `upload ${step.file.path}`,
  async probe(ctx, host, { file: f }) {
    const owes = owedBy(f);
    const mode = `(mode ${f.mode.toString(8)})`;
    const { differs, before } = compareSeen(ctx.seen, host.node.name, f);
    if (differs === false) return { owes, changes: [] };
    if (differs === undefined) {
      return {
        owes,
        detail: f.path,
        changes: [{ what: `upload ${f.path} ${mode} if it differs`, uncertain: true, owes }],
      };
    }
    const name = `${host.node.name}:${f.path}`;
    const text = before?.content.toString("utf8") ?? "";
    return {
      owes,
      detail: f.path,
      changes: [
        {
          what: `${before ? "update" : "create"} ${f.path} ${mode}`,
          ...(f.secret ? {} : { diff: createTwoFilesPatch(name, name, text, f.contents, "current", "khw") }),
          owes,
        },
      ],
    };
  },
  async act(ctx, host, { file: f }, seen) {
    const r = await ctx.executor.upload(host.target, {
      path: f.path,
      content: f.contents,
      mode: f.mode,
      sudo: true,
    });
    ctx.log(`${host.where}: upload ${f.path} (${f.mode.toString(8)}) ${r.changed ? "changed" : "unchanged"}`);
    if (!r.changed) return { changes: 0 };
    ctx.owe(host.node.name, seen.owes);
    return { changes: 1, detail: f.path };
  },
};
