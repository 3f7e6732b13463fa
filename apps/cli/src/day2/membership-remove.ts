import { appendFileSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { KUBECONFIG_PATHS } from "@khw/kubeconfig";
import { type Cluster, loadCluster } from "@khw/spec";
import { BINARY_PATHS } from "@khw/systemd-units";
import { renderArtifacts } from "../artifacts";
import { CliError, EXIT, UsageError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";
import { colors, type Io } from "../io";
import type { LoadedSpec } from "../spec-file";
import { defaultCacheDir } from "../up/binaries";
import type { UpEvent } from "../up/events";
import { plainProgress } from "../up/progress";
import { currentSeams, describePkiChanges, readWorkdir, syncWorkdir, workdirPaths } from "../workdir";
import { etcdStatus } from "./etcd";
import {
  carryOutMembership,
  describeMembershipStep,
  membershipStatePath,
  readMembershipRecord,
} from "./membership";
import { controlPlaneRemovalPlan } from "./node-remove";
import { removeNodeFromSpecText } from "./node-spec";
import { assertReachable, openHosts } from "./remote";
import { confirmFor, hostResetPlan } from "./reset";

export interface ControlPlaneRemoveOptions {
  yes: boolean;
  dryRun: boolean;
  json: boolean;
  updateSpec: boolean;
  /** The control plane's host is lost: no step on it (no stop, no reset). */
  unreachable: boolean;
}

/** The spec without control plane `name` (the cluster as it will be). */
function clusterWithout(cluster: Cluster, name: string): Cluster {
  const spec = cluster.spec;
  return loadCluster({ ...spec, nodes: spec.nodes.filter((n) => n.name !== name) }).cluster;
}

/**
 * `khw node remove <control plane>`: quorum checked against etcd's health, then @khw/pki's plan carried
 * out (HAProxy without it, its control plane stopped, `etcdctl member remove`, the remaining apiservers
 * one by one with the re-issued certificates and the shorter --etcd-servers, its host reset), its Node
 * deleted if one is registered, cluster.yaml edited with --update-spec. Resumable (.khw/membership.json).
 */
export async function removeControlPlaneCommand(
  io: Io,
  loaded: LoadedSpec,
  name: string,
  opts: ControlPlaneRemoveOptions,
): Promise<void> {
  const c = colors(io);
  const before = loaded.cluster;
  const out = opts.json ? io.stderr : io.stdout;
  const say = (line: string) => out(`[node] ${line}\n`);
  const unreachable = opts.unreachable;
  if (opts.dryRun) {
    const plan = controlPlaneRemovalPlan(before, name, { unreachable });
    if (opts.json) {
      io.stdout(
        `${JSON.stringify({ dryRun: true, node: name, ...plan, updateSpec: opts.updateSpec }, null, 2)}\n`,
      );
      return;
    }
    say(`the removal of control plane ${name}, as khw carries it out (nothing is changed now):`);
    for (const [i, s] of plan.steps.entries()) say(`${i + 1}. ${describeMembershipStep(s)} — ${s.reason}`);
    say(`then: kubectl delete node ${name} --ignore-not-found`);
    say(
      opts.updateSpec
        ? `then: remove ${name} from ${loaded.displayName}`
        : `${loaded.displayName} would still list ${name}`,
    );
    for (const w of plan.warnings) io.stderr(`${c.yellow("warning:")} ${w}\n`);
    return;
  }
  // refusals that need no host first (last control plane, two changes, quorum of a full-health cluster;
  // the lost host's own member left out of the healthy ones)
  controlPlaneRemovalPlan(before, name, {
    unreachable,
    ...(unreachable ? { healthy: before.controlPlanes.map((n) => n.name).filter((n) => n !== name) } : {}),
  });
  if (!opts.yes) {
    const confirm = confirmFor(io);
    if (!confirm)
      throw new UsageError(
        `khw node remove ${name} takes a control plane and its etcd member out of the cluster, and needs a confirmation, but there is no terminal to ask on`,
        "pass --yes to remove it without asking (--dry-run shows every step)",
      );
    if (
      !(await confirm(
        unreachable
          ? `Remove control plane ${name} from cluster '${before.name}' without reaching its host (etcd member, HAProxy backend; the host is left as it is)?`
          : `Remove control plane ${name} from cluster '${before.name}' (etcd member, HAProxy backend, host reset)?`,
      ))
    ) {
      io.stderr("node remove: nothing done\n");
      throw new CliError("ABORTED", "", undefined, EXIT.failure);
    }
  }

  const paths = workdirPaths(loaded.baseDir);
  const seams = currentSeams();
  mkdirSync(paths.logs, { recursive: true });
  const logFile = join(paths.logs, `node-remove-${seams.now().toISOString().replace(/[:.]/g, "-")}.log`);
  const log = (line: string) =>
    appendFileSync(logFile, `${line.endsWith("\n") ? line : `${line}\n`}`, { mode: 0o600 });
  const hosts = openHosts(io, loaded);
  let nodeDeleted = false;
  try {
    // the leaving host's reset, from the files it was given (before pki/ is re-issued without it)
    const node = before.nodes.find((n) => n.name === name)!;
    const reset = unreachable
      ? undefined
      : hostResetPlan(before, renderArtifacts(before, readWorkdir(loaded.baseDir, before)), node);
    const resuming = readMembershipRecord(membershipStatePath(paths));
    // Before any step: a host that does not answer would stop the removal half-way (HAProxy changed,
    // the member still in etcd). Unless the removal is past its steps on that host already.
    if (!unreachable && !(resuming?.change === "remove" && resuming.member === name)) {
      await assertReachable(hosts, node, loaded.displayName);
    }
    const status = await etcdStatus(before, hosts);
    if (!status.from)
      throw new CliError(
        "ETCD_UNHEALTHY",
        `no control plane answered to ask etcd whether ${name} can leave: ${status.problems.join("; ")}`,
        "see `khw status`; a removal needs etcd's quorum",
      );
    const healthy = status.members.filter((m) => m.healthy).map((m) => m.name);
    // a removal stopped after `member remove`: the leaving member counts as healthy no more, nor needs to
    const plan = controlPlaneRemovalPlan(before, name, {
      healthy: resuming?.change === "remove" && resuming.member === name ? [...healthy, name] : healthy,
      unreachable,
    });
    const after = clusterWithout(before, name);
    const workdir = await syncWorkdir(loaded.baseDir, after);
    for (const l of describePkiChanges(workdir.report)) say(`pki: ${l}`);
    const artifacts = renderArtifacts(after, workdir);
    for (const w of plan.warnings) io.stderr(`${c.yellow("warning:")} ${w}\n`);
    const view = plainProgress({ ...io, stdout: out });
    const r = await carryOutMembership({
      cluster: after,
      before,
      artifacts,
      paths,
      executor: hosts.executor,
      targets: hosts.targets,
      plan,
      ...(reset ? { reset } : {}),
      emit: (e: UpEvent) => {
        log(`event ${JSON.stringify(e)}`);
        if (e.type === "step" || e.type === "host-failed" || e.type === "warning") view(e);
      },
      log,
      say,
      cacheDir: defaultCacheDir(io.env),
      baseDir: loaded.baseDir,
      now: () => seams.now(),
      ...(seams.sleep ? { sleep: seams.sleep } : {}),
      rerun: `khw node remove ${name} --yes${unreachable ? " --unreachable" : ""}${opts.updateSpec ? " --update-spec" : ""}`,
    });
    for (const n of r.notes) say(`note: ${n}`);
    // a control plane registered as a Node (it ran a kubelet): deleted through a remaining one
    const via = after.controlPlanes[0]!;
    const del = await hosts.executor.exec(
      hosts.target(via),
      [
        BINARY_PATHS.kubectl,
        "--kubeconfig",
        KUBECONFIG_PATHS.admin,
        "delete",
        "node",
        name,
        "--ignore-not-found",
      ],
      { sudo: true, check: false, timeoutMs: 120_000 },
    );
    log(`[node] ${via.name}: kubectl delete node ${name} → ${del.code}\n${del.stdout}${del.stderr}`);
    if (del.code !== 0)
      throw new CliError(
        "NODE_REMOVE_FAILED",
        `${via.name}: \`kubectl delete node ${name}\` failed: ${(del.stderr || del.stdout).trim().split("\n").at(-1)}`,
        `run \`khw node remove ${name} --yes\` again`,
      );
    nodeDeleted = /deleted/.test(del.stdout);
    if (nodeDeleted) say(`${name}: Node deleted`);
  } finally {
    await hosts.close();
  }
  let specUpdated = false;
  if (opts.updateSpec && loaded.file) {
    const text = readFileSync(loaded.file, "utf8");
    const next = removeNodeFromSpecText(text, name, loaded.displayName);
    if (next !== text) {
      writeFileAtomic(loaded.file, next, statSync(loaded.file).mode & 0o777);
      specUpdated = true;
    }
  }
  if (opts.json) {
    io.stdout(
      `${JSON.stringify({ node: name, role: "controlplane", ok: true, nodeDeleted, specUpdated, log: relative(io.cwd, logFile) }, null, 2)}\n`,
    );
    return;
  }
  if (specUpdated) say(`removed ${name} from ${loaded.displayName}`);
  else
    io.stdout(
      `${c.yellow("next:")} delete ${name} from ${loaded.displayName} (or run again with --update-spec): until then \`khw up\` would add it back\n`,
    );
  io.stdout(
    `${c.green("✓")} control plane ${name} removed from the cluster (log: ${relative(io.cwd, logFile)})\n`,
  );
}
