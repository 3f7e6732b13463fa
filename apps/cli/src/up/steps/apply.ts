import { createTwoFilesPatch } from "diff";
import type { Manifest } from "../../artifacts";
import { REMOTE_MANIFEST_DIR } from "../phases";
import { KUBECTL_AS_ADMIN } from "./kubectl";
import { compareSeen, type StepHandler } from "./types";

type ApplyStep = { kind: "apply"; manifest: Manifest };

const remotePath = (m: Manifest) => `${REMOTE_MANIFEST_DIR}/${m.file}`;
const modeOf = (m: Manifest) => (m.secret ? 0o600 : 0o644);

/**
 * A manifest placed on the applying control plane and `kubectl apply`d when it changed, or when an
 * apply is still owed (the run that placed it stopped before applying).
 */
export const applyStep: StepHandler<ApplyStep> = {
  name: (step) => `apply ${step.manifest.file}`,
  async probe(ctx, host, { manifest: m }) {
    const path = remotePath(m);
    const owed = ctx.state.pending[host.node.name]?.apply?.includes(m.file) ?? false;
    const changed = compareSeen(ctx.seen, host.node.name, {
      path,
      contents: m.contents,
      mode: modeOf(m),
    }).differs;
    if (!owed && changed === false) return { changes: [] };
    const diff = m.secret ? {} : { diff: createTwoFilesPatch(path, path, "", m.contents, "current", "khw") };
    const what = `kubectl apply -f ${path} (${m.description})`;
    return {
      detail: m.file,
      changes: [
        {
          what: owed || changed ? what : `${what} if it changed`,
          ...diff,
          ...(owed || changed ? {} : { uncertain: true }),
          settles: { apply: [m.file] },
        },
      ],
    };
  },
  async act(ctx, host, { manifest: m }) {
    const path = remotePath(m);
    const r = await ctx.executor.upload(host.target, {
      path,
      content: m.contents,
      mode: modeOf(m),
      sudo: true,
    });
    if (r.changed) ctx.owe(host.node.name, { apply: [m.file] });
    if (!ctx.state.pending[host.node.name]?.apply?.includes(m.file)) return { changes: 0 };
    const a = await ctx.executor.exec(host.target, [...KUBECTL_AS_ADMIN, "apply", "-f", path], {
      sudo: true,
    });
    ctx.log(`${host.where}: kubectl apply -f ${path}\n${a.stdout}`);
    ctx.settle(host.node.name, { apply: [m.file] });
    return { changes: 1, detail: m.file };
  },
};
