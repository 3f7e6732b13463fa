import { readFileSync, statSync } from "node:fs";
import type { Command } from "commander";
import { renderArtifacts } from "../artifacts";
import { removeControlPlaneCommand } from "../day2/membership-remove";
import { checkRemovable, type NodeRemoveResult, nodeRemovePlan, removeNode } from "../day2/node-remove";
import { removeNodeFromSpecText } from "../day2/node-spec";
import { loadDay2Spec, SPEC_OPTION, wholeNumber } from "../day2/options";
import { assertReachable, openHosts } from "../day2/remote";
import { confirmFor, hostResetPlan } from "../day2/reset";
import { CliError, EXIT, UsageError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";
import { colors, type Io } from "../io";
import { readState, writeState } from "../up/state";
import { readWorkdir, workdirPaths } from "../workdir";

interface RemoveOptions {
  file?: string;
  yes: boolean;
  dryRun: boolean;
  json: boolean;
  timeout: number;
  force: boolean;
  updateSpec: boolean;
  keepIptables: boolean;
  unreachable: boolean;
}

/** `khw node remove NAME`: take a worker out of the cluster and clean its host. */
export function registerNode(program: Command, io: Io): void {
  const node = program
    .command("node")
    .description("Change the cluster's membership: remove a worker or a control plane");
  node
    .command("remove")
    .description(
      "Cordon and drain a worker (PodDisruptionBudgets respected), or take a control plane out of etcd and HAProxy (quorum kept, apiservers restarted one by one); stop and clean its host as `khw reset` does, delete its Node; then drop it from cluster.yaml (--update-spec) or say to",
    )
    .argument("<name>", "the node's name (as in cluster.yaml, or as registered: an orphaned node)")
    .option(...SPEC_OPTION)
    .option("-y, --yes", "do not ask (for scripts)", false)
    .option("--dry-run", "print what would be done; change nothing", false)
    .option("--json", "print the result (or with --dry-run the plan) as JSON", false)
    .option("--timeout <seconds>", "the drain may take this long", wholeNumber("--timeout"), 300)
    .option(
      "--force",
      "as kubectl drain --force: also delete pods no controller manages (they are not recreated); and allow removing the last worker",
      false,
    )
    .option("--update-spec", "remove the node's entry from cluster.yaml (comments and layout kept)", false)
    .option("--keep-iptables", "leave the host's KUBE-*, CNI-* and FLANNEL-* iptables chains", false)
    .option(
      "--unreachable",
      "the node's host is lost for good: take it out without reaching it. A worker: no drain, no host reset, its Node deleted (its pods are recreated elsewhere by their controllers). A control plane: HAProxy and etcd's membership changed, the other apiservers restarted, nothing done on its host",
      false,
    )
    .action(async (name: string, opts: RemoveOptions) => {
      await removeCommand(io, name, opts);
    });
}

async function removeCommand(io: Io, name: string, opts: RemoveOptions): Promise<void> {
  const c = colors(io);
  const loaded = await loadDay2Spec(io, opts.file);
  const cluster = loaded.cluster;
  if (opts.updateSpec && loaded.file === undefined) {
    throw new UsageError("--update-spec needs a cluster.yaml (the built-in default spec is in use)");
  }
  if (cluster.controlPlanes.some((n) => n.name === name)) {
    await removeControlPlaneCommand(io, loaded, name, opts);
    return;
  }
  const inSpec = checkRemovable(cluster, name, opts);
  const options = {
    timeoutSeconds: opts.timeout,
    force: opts.force,
    keepIptables: opts.keepIptables,
    unreachable: opts.unreachable,
  };
  const reset =
    inSpec && !opts.unreachable
      ? hostResetPlan(cluster, renderArtifacts(cluster, readWorkdir(loaded.baseDir, cluster)), inSpec)
      : undefined;
  const plan = nodeRemovePlan(cluster, name, inSpec, reset, options);
  const say = (line: string) => (opts.json ? io.stderr : io.stdout)(`[node] ${line}\n`);
  const specName = loaded.displayName;

  if (opts.dryRun) {
    if (opts.json) {
      io.stdout(`${JSON.stringify({ dryRun: true, ...plan, updateSpec: opts.updateSpec }, null, 2)}\n`);
      return;
    }
    say(`would remove ${name}; nothing is changed`);
    if (plan.drain) say(`${plan.via}: ${plan.drain} (cordons first; evictions respect PodDisruptionBudgets)`);
    else say(`${name}: no drain, no host reset (--unreachable): its pods go with its Node`);
    if (reset) {
      say(`${name}: stop and disable ${reset.services.join(", ")}`);
      say(`${name}: remove ${reset.paths.length} paths (${reset.paths.slice(0, 4).join(", ")}, …)`);
      if (reset.workerCleanup)
        say(
          `${name}: delete the k8s.io containers, pod mounts and links${opts.keepIptables ? "" : ", the KUBE-*/CNI-*/FLANNEL-* iptables chains"}`,
        );
    } else if (!opts.unreachable)
      say(
        `${name} is not in ${specName}: its Node is drained and deleted, its host is not cleaned (khw does not know how to reach it)`,
      );
    say(`${plan.via}: kubectl delete node ${name}`);
    for (const r of plan.routes) say(`${r.host}: ip route del ${r.cidr} via ${r.via}`);
    if (inSpec)
      say(opts.updateSpec ? `would remove ${name} from ${specName}` : `${specName} would still list ${name}`);
    return;
  }

  if (!opts.yes) {
    const confirm = confirmFor(io);
    if (!confirm) {
      throw new UsageError(
        `khw node remove drains ${name} and removes Kubernetes from it, and needs a confirmation, but there is no terminal to ask on`,
        "pass --yes to remove it without asking (--dry-run shows what is done)",
      );
    }
    if (
      !(await confirm(
        opts.unreachable
          ? `Remove ${name} from cluster '${cluster.name}' without reaching its host: delete its Node (its pods are recreated elsewhere), leave the host as it is?`
          : `Remove ${name} from cluster '${cluster.name}': drain it, stop and clean its host${inSpec ? "" : " (not in cluster.yaml: host left as it is)"}, delete its Node?`,
      ))
    ) {
      io.stderr("node remove: nothing done\n");
      throw new CliError("ABORTED", "", undefined, EXIT.failure);
    }
  }

  const hosts = openHosts(io, loaded);
  let result: NodeRemoveResult;
  try {
    // Before anything changes: a host that does not answer would leave a drain waiting for pods that
    // nothing stops, then a cordoned node and an unclean host.
    if (plan.reset && inSpec) await assertReachable(hosts, inSpec, specName);
    result = await removeNode(cluster, plan, hosts, options, say);
  } finally {
    await hosts.close();
  }

  // `khw up`'s owed actions on that host are owed no more.
  const paths = workdirPaths(loaded.baseDir);
  const state = readState(paths.state);
  if (state.pending[name]) {
    delete state.pending[name];
    writeState(paths.state, state);
  }

  let specUpdated = false;
  if (inSpec && opts.updateSpec && loaded.file) {
    const text = readFileSync(loaded.file, "utf8");
    const next = removeNodeFromSpecText(text, name, specName);
    if (next !== text) {
      writeFileAtomic(loaded.file, next, statSync(loaded.file).mode & 0o777);
      specUpdated = true;
    }
  }
  const hostFailed = result.host !== undefined && !result.host.ok;
  if (opts.json) io.stdout(`${JSON.stringify({ ...result, specUpdated, ok: !hostFailed }, null, 2)}\n`);
  if (hostFailed) {
    throw new CliError(
      "NODE_REMOVE_FAILED",
      `${name}: the Node is ${result.nodeDeleted ? "deleted" : "gone"}, but its host was not cleaned: ${result.host!.error}`,
      result.host!.hint ??
        `fix the SSH access and run \`khw node remove ${name}\` again (it is safe to repeat)`,
    );
  }
  if (opts.json) return;
  if (specUpdated) say(`removed ${name} from ${specName}`);
  else if (inSpec)
    io.stdout(
      `${c.yellow("next:")} delete ${name} from ${specName} (or run again with --update-spec): until then \`khw up\` would bring it back\n`,
    );
  else
    io.stdout(
      `${c.yellow("note:")} ${name} is not in ${specName}: its host was not cleaned; clean it by hand, or add it back to ${specName} and run \`khw node remove ${name}\` again\n`,
    );
  if (opts.unreachable)
    io.stdout(
      `${c.yellow("note:")} ${name}'s host was not touched: should it come back, its kubelet registers the Node again (\`khw status\` names it orphaned); stop kubelet there or wipe the host first\n`,
    );
  io.stdout(`${c.green("✓")} ${name} removed from the cluster\n`);
}
