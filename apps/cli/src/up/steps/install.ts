import { readFileSync } from "node:fs";
import type { BinaryArtifact } from "@khw/spec/core";
import { servicesUsingBinary } from "@khw/systemd-units";
import { type FetchedArtifact, installedCheckScript, installScript, remoteCachePath } from "../binaries";
import type { Step } from "../phases";
import { UpError } from "../up-error";
import type { Observation, StepHandler } from "./types";

type InstallStep = { kind: "install"; artifact: BinaryArtifact };

export interface InstallObservation extends Observation {
  /** The host's record says these executables came from this very release file: nothing to do. */
  installed: boolean;
  /** The host's cache already holds the release file (same SHA-256): no upload needed. */
  cached: boolean;
}

/**
 * A verified release file: uploaded into the host's cache and its executables installed, each
 * replaced only when it differs; the services that run a replaced one owe a restart.
 */
export const installStep: StepHandler<InstallStep, InstallObservation> = {
  name: (step) => `install ${step.artifact.id}`,
  async probe(ctx, host, { artifact: a }) {
    const { sha256 } = await ctx.artifact(a);
    // What the host recorded at the last install, compared by size/mtime/inode (no hashing).
    const recorded = installedCheckScript(a, sha256);
    const same = host.unreached
      ? { stdout: "" }
      : await ctx.probe.shell(host.target, recorded.script, {
          sudo: true,
          args: recorded.args,
          check: false,
        });
    if (same.stdout.trim() === `installed ${sha256}`) return { installed: true, cached: true, changes: [] };
    const cache = host.unreached
      ? { stdout: "" }
      : await ctx.probe.exec(host.target, ["sha256sum", remoteCachePath(a)], { sudo: true, check: false });
    if (cache.stdout.startsWith(sha256)) return { installed: false, cached: true, changes: [] };
    const what = `upload and install ${a.path.split("/").pop()} → ${Object.values(a.installAs).join(", ")}`;
    return { installed: false, cached: false, changes: [{ what }] };
  },
  async act(ctx, host, { artifact: a }, seen) {
    if (seen.installed) return { changes: 0 };
    const f = await ctx.artifact(a);
    const remote = remoteCachePath(a);
    let uploaded = "cached";
    if (!seen.cached) {
      const content = ctx.contents.get(a.id) ?? readFileSync(f.file);
      ctx.contents.set(a.id, content);
      const up = await ctx.executor.upload(host.target, { path: remote, content, mode: 0o644, sudo: true });
      uploaded = up.changed ? "changed" : "unchanged";
    }
    const { script, args } = installScript(a, f.sha256);
    const r = await ctx.executor.shell(host.target, script, { sudo: true, args: [remote, ...args] });
    const changed = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("changed "))
      .map((l) => l.slice(8));
    ctx.log(
      `${host.where}: install ${a.id}: upload ${uploaded}; ${changed.join(", ") || "binaries unchanged"}`,
    );
    if (changed.length > 0)
      ctx.owe(host.node.name, {
        restart: servicesUsingBinary(ctx.artifacts.cluster, host.node.name, changed),
      });
    return { changes: changed.length, ...(changed.length ? { detail: changed.join(", ") } : {}) };
  },
};

/**
 * Every release file these steps install is fetched and verified first, on the admin machine: a
 * missing or corrupt file fails the run before any host is touched, naming them all.
 */
export async function fetchReleaseFiles(
  steps: readonly Step[],
  artifact: (a: BinaryArtifact) => Promise<FetchedArtifact>,
  log: (line: string) => void,
): Promise<void> {
  const wanted = [
    ...new Map(
      steps.flatMap((s) => (s.kind === "install" ? [[s.artifact.id, s.artifact] as const] : [])),
    ).values(),
  ];
  if (wanted.length === 0) return;
  const outcomes = await Promise.allSettled(wanted.map((a) => artifact(a)));
  const failed = outcomes.flatMap((o, i) =>
    o.status === "rejected" ? [{ a: wanted[i]!, e: o.reason as Error }] : [],
  );
  for (const o of outcomes)
    if (o.status === "fulfilled")
      log(`binaries: ${o.value.artifact.path} sha256 ${o.value.sha256}${o.value.cached ? " (cached)" : ""}`);
  if (failed.length > 0) {
    throw new UpError(
      "binaries",
      "admin",
      `[binaries] ${failed.length} of ${wanted.length} release file(s) could not be fetched and verified:\n${failed.map((f) => `  ${f.a.id}: ${f.e.message}`).join("\n")}`,
      (failed[0]!.e as { hint?: string }).hint,
    );
  }
}
