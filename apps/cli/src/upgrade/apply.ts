import { rmSync } from "node:fs";
import { join, relative } from "node:path";
import type { ClusterNode } from "@khw/spec/core";
import { clusterAtVersion, type UpgradePlan, type UpgradeStep } from "@khw/systemd-units";
import { renderArtifacts } from "../artifacts";
import { BACKUPS_DIR, saveSnapshot } from "../day2/etcd";
import type { Hosts } from "../day2/remote";
import { CliError } from "../errors";
import type { LoadedSpec } from "../spec-file";
import { defaultCacheDir } from "../up/binaries";
import type { EventSink } from "../up/events";
import { applyHost, type PhaseName, phaseByName } from "../up/phases";
import { runUp, UpError } from "../up/runner";
import { KUBECTL_AS_ADMIN } from "../up/steps/kubectl";
import { readWorkdir } from "../workdir";
import { stepKey, stepLabel } from "./format";
import { updateSpecVersion } from "./spec-version";
import { readUpgradeState, upgradeStatePath, writeUpgradeState } from "./state";

export interface ApplyUpgradeOptions {
  loaded: LoadedSpec;
  plan: UpgradePlan;
  hosts: Hosts;
  env: Record<string, string | undefined>;
  /** The working directory for messages (paths are shown relative to it). */
  cwd: string;
  signal: AbortSignal;
  /** Progress lines for the user. */
  say: (line: string) => void;
  /** The run's log file (every command and its output). */
  log: (line: string) => void;
  /** khw up's events of the install/restart steps. */
  emit: EventSink;
  /** Seconds `kubectl drain` may take per worker (PodDisruptionBudgets can hold it). */
  drainTimeoutSeconds: number;
  now: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

export interface ApplyUpgradeResult {
  /** Steps carried out in this run (not the ones a previous run finished). */
  ran: number;
  skipped: number;
  snapshot?: { file: string; sha256: string; revision?: number };
  specUpdated: boolean;
}

/**
 * Carries out an upgrade plan step by step: the etcd snapshot, each control plane (khw up's
 * control-plane phase for that host alone: the new binaries fetched and checksum-verified as `khw up`
 * does, the services restarted, `/readyz`), then each worker (cordon, drain, khw up's workers phase for
 * that host, Ready at the new version, uncordon), then the spec. Finished steps are recorded in
 * `.khw/upgrade.json`, owed restarts in khw up's state: a run stopped anywhere resumes and converges.
 */
export async function applyUpgrade(o: ApplyUpgradeOptions): Promise<ApplyUpgradeResult> {
  const { loaded, plan, hosts, say, log } = o;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const after = clusterAtVersion(loaded.cluster, plan.to, plan.etcd.changes ? plan.etcd.to : undefined);
  const workdir = readWorkdir(loaded.baseDir, after);
  const artifacts = renderArtifacts(after, workdir);
  const statePath = upgradeStatePath(workdir.paths.state);
  const state = readUpgradeState(statePath, plan.from, plan.to);
  const result: ApplyUpgradeResult = { ran: 0, skipped: 0, specUpdated: false };
  const api = applyHost(loaded.cluster);
  const node = (name: string): ClusterNode => loaded.cluster.nodes.find((n) => n.name === name)!;
  const interrupted = () =>
    new CliError(
      "INTERRUPTED",
      `interrupted; finished steps are recorded in ${relative(o.cwd, statePath)}`,
      `run \`khw upgrade apply --to ${plan.to}\` again to resume`,
    );

  const kubectl = async (args: string[], where: ClusterNode = api) => {
    const r = await hosts.executor.exec(hosts.target(where), [...KUBECTL_AS_ADMIN, ...args], {
      sudo: true,
      check: false,
    });
    log(`[upgrade] ${where.name}: kubectl ${args.join(" ")} → ${r.code}\n${r.stdout}${r.stderr}`);
    return r;
  };
  const must = async (step: UpgradeStep, args: string[], hint: string, where: ClusterNode = api) => {
    const r = await kubectl(args, where);
    if (r.code !== 0) {
      throw new UpError(
        "upgrade",
        where.name,
        `[upgrade] ${stepLabel(step)}: kubectl ${args[0]} failed (exit ${r.code}):\n${(r.stderr || r.stdout).trimEnd().split("\n").slice(-6).join("\n")}`,
        hint,
      );
    }
    return r.stdout;
  };
  /** Polls until `probe` returns true (2 s apart, `attempts` times), else fails with the last output. */
  const until = async (
    step: UpgradeStep,
    attempts: number,
    probe: () => Promise<[boolean, string]>,
    hint: string,
  ) => {
    let last = "";
    for (let i = 0; i < attempts; i++) {
      if (o.signal.aborted) throw interrupted();
      const [ok, out] = await probe();
      if (ok) return;
      last = out;
      if (i < attempts - 1) await sleep(2000);
    }
    throw new UpError(
      "upgrade",
      "host" in step ? step.host : api.name,
      `[upgrade] ${stepLabel(step)}: not reached; last: ${last.trim().slice(0, 400)}`,
      hint,
    );
  };
  const phase = async (name: PhaseName, host: ClusterNode) => {
    const def = phaseByName(name)!;
    const r = await runUp({
      cluster: after,
      artifacts,
      paths: workdir.paths,
      executor: hosts.executor,
      targets: hosts.targets,
      phases: [{ ...def, hosts: () => [host] }],
      concurrency: 1,
      signal: o.signal,
      emit: o.emit,
      log,
      cacheDir: defaultCacheDir(o.env),
      baseDir: loaded.baseDir,
      sleep,
    });
    if (r.interrupted) throw interrupted();
  };

  for (const step of plan.steps) {
    if (o.signal.aborted) throw interrupted();
    const key = stepKey(step);
    if (state.done.includes(key)) {
      result.skipped++;
      say(`[upgrade] ${stepLabel(step)}: done by an earlier run`);
      continue;
    }
    const t0 = performance.now();
    say(`[upgrade] ${stepLabel(step)} …`);
    switch (step.kind) {
      case "etcd-snapshot": {
        state.snapshot = await snapshot(o, node(step.host), plan);
        result.snapshot = state.snapshot;
        say(
          `[upgrade]   snapshot ${relative(o.cwd, state.snapshot.file)} sha256 ${state.snapshot.sha256}${state.snapshot.revision !== undefined ? ` revision ${state.snapshot.revision}` : ""}`,
        );
        break;
      }
      case "etcd-member":
        await phase("etcd", node(step.host));
        break;
      case "control-plane":
        await phase("control-plane", node(step.host));
        break;
      case "readyz":
        await until(
          step,
          60,
          async () => {
            const r = await kubectl(["get", "--raw", "/version"], node(step.host));
            const v = /"gitVersion":\s*"([^"]+)"/.exec(r.stdout)?.[1];
            const ready = await kubectl(["get", "--raw", "/readyz"], node(step.host));
            return [
              v === plan.to && /^ok/m.test(ready.stdout),
              `/version ${v ?? "?"}, /readyz ${ready.stdout || ready.stderr}`,
            ];
          },
          "check `journalctl -u kube-apiserver` on that host",
        );
        break;
      case "cordon":
        await must(step, ["cordon", step.host], "is the Node registered? `kubectl get nodes`");
        break;
      case "drain":
        await must(
          step,
          [
            "drain",
            step.host,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            `--timeout=${o.drainTimeoutSeconds}s`,
          ],
          `a PodDisruptionBudget or a pod without a controller holds the drain: look at \`kubectl get pdb -A\` and the pods left on ${step.host}, then run the upgrade again (or raise --drain-timeout)`,
        );
        break;
      case "worker":
        await phase("workers", node(step.host));
        break;
      case "node-ready":
        await until(
          step,
          90,
          async () => {
            const r = await kubectl([
              "get",
              "node",
              step.host,
              "-o",
              'jsonpath={.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type=="Ready")].status}',
            ]);
            return [r.stdout.trim() === `${step.version} True`, r.stdout || r.stderr];
          },
          `check \`journalctl -u kubelet\` on ${step.host}; the node stays cordoned until it is Ready`,
        );
        break;
      case "uncordon":
        await must(step, ["uncordon", step.host], "run `kubectl uncordon` by hand");
        break;
      case "update-spec":
        if (loaded.file)
          result.specUpdated = updateSpecVersion(loaded.file, step.version, loaded.displayName);
        else
          say(
            `[upgrade]   no cluster.yaml (the built-in default spec): set versions.kubernetes: ${step.version} in yours`,
          );
        break;
    }
    state.done.push(key);
    writeUpgradeState(statePath, state);
    result.ran++;
    say(`[upgrade] ${stepLabel(step)}: done (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  rmSync(statePath, { force: true });
  return result;
}

/**
 * The snapshot before the upgrade: `khw etcd snapshot save`'s own (saveSnapshot: from the plan's member
 * when it is healthy, verified, 0600 in `backups/` kept out of git, the host's copy removed), named after
 * the target version. Returns file, sha256, revision.
 */
async function snapshot(
  o: ApplyUpgradeOptions,
  member: ClusterNode,
  plan: UpgradePlan,
): Promise<{ file: string; sha256: string; revision?: number }> {
  const stamp = o.now().toISOString().replace(/[:.]/g, "-");
  const saved = await saveSnapshot(
    o.loaded.cluster,
    o.hosts,
    o.loaded.baseDir,
    join(BACKUPS_DIR, `etcd-before-${plan.to}-${stamp}.db`),
    (line) => o.log(`[upgrade] ${line}`),
    { prefer: member.name },
  );
  return { file: saved.file, sha256: saved.sha256, revision: saved.status.revision };
}
