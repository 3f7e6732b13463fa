import { controlPlaneMembershipPlan, isMembershipError, type MembershipPlan } from "@khw/pki";
import type { Executor, HostTarget } from "@khw/remote-exec";
import { type Cluster, certPath, keyPath, loadCluster } from "@khw/spec";
import { BINARY_PATHS } from "@khw/systemd-units";
import type { Artifacts } from "../artifacts";
import { CliError } from "../errors";
import type { Io } from "../io";
import { type LoadedSpec, loadSpecFile } from "../spec-file";
import { defaultCacheDir } from "../up/binaries";
import type { EventSink } from "../up/events";
import { hostTargets, sshExecutorForSpec } from "../up/executor";
import { readState } from "../up/state";
import { currentSeams, type WorkdirPaths, workdirPaths } from "../workdir";
import {
  carryOutMembership,
  describeMembershipStep,
  membershipStatePath,
  readMembershipRecord,
} from "./membership";

/** The running etcd's members, `name<TAB>peer URL` a line (read-only; nothing when etcd is not active). */
export const ETCD_MEMBERS_SCRIPT = `systemctl is-active --quiet etcd || exit 0
ETCDCTL_API=3 ${BINARY_PATHS.etcdctl} --endpoints=https://127.0.0.1:2379 --cacert=${certPath("ca", "etcdPki")} --cert=${certPath("etcd-server", "etcdPki")} --key=${keyPath("etcd-server", "etcdPki")} --dial-timeout=3s --command-timeout=5s member list 2>/dev/null | awk -F', ' '{print "member\\t" $3 "\\t" $4}'`;

export interface EtcdMemberSeen {
  name: string;
  peerURL: string;
}

/** The members etcd reports on the first control plane that answers; undefined when none runs etcd yet. */
export async function runningEtcdMembers(
  cluster: Cluster,
  executor: Executor,
  targets: ReadonlyMap<string, HostTarget>,
): Promise<EtcdMemberSeen[] | undefined> {
  for (const cp of cluster.controlPlanes) {
    const target = targets.get(cp.name);
    if (!target) continue;
    try {
      const r = await executor.shell(target, ETCD_MEMBERS_SCRIPT, {
        sudo: true,
        check: false,
        timeoutMs: 20_000,
      });
      const members = r.stdout
        .split("\n")
        .map((l) => l.split("\t"))
        .filter((f) => f[0] === "member" && f[1])
        .map((f) => ({ name: f[1]!, peerURL: f[2] ?? "" }));
      if (members.length) return members;
    } catch {
      // unreachable or not scripted: ask the next control plane
    }
  }
  return undefined;
}

export interface MembershipDrift {
  added: string[];
  removed: string[];
  /** @khw/pki's plan of the change, when it can be made (one control plane at a time, quorum kept). */
  plan?: MembershipPlan;
  /** Why there is no plan. */
  refusal?: string;
  /** The cluster as etcd's members say it runs now (when it can be described). */
  before?: Cluster;
}

/**
 * The spec's control planes against etcd's members. Undefined when they agree. Pure: `before` is the
 * spec as the running cluster is (the spec with the members' names and peer addresses).
 */
export function membershipDrift(cluster: Cluster, members: EtcdMemberSeen[]): MembershipDrift | undefined {
  const inSpec = cluster.controlPlanes.map((n) => n.name);
  const running = members.map((m) => m.name);
  const added = inSpec.filter((n) => !running.includes(n));
  const removed = running.filter((n) => !inSpec.includes(n));
  if (!added.length && !removed.length) return undefined;
  const drift: MembershipDrift = { added, removed };
  try {
    const spec = cluster.spec;
    const gone = members
      .filter((m) => removed.includes(m.name))
      .map((m) => ({
        name: m.name,
        role: "controlplane" as const,
        address: /^https:\/\/([^:]+):/.exec(m.peerURL)?.[1] ?? "",
      }));
    const before = loadCluster({
      ...spec,
      nodes: [...gone, ...spec.nodes.filter((n) => !added.includes(n.name))],
    }).cluster;
    drift.before = before;
    drift.plan = controlPlaneMembershipPlan(before, cluster);
  } catch (e) {
    drift.refusal = isMembershipError(e)
      ? e.message
      : `the running cluster cannot be described (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`;
  }
  return drift;
}

/** The lines that explain a drift: what differs, then the plan (or why there is none). */
export function describeDrift(d: MembershipDrift): string[] {
  const what = [
    ...(d.added.length ? [`adds control plane(s) ${d.added.join(", ")}`] : []),
    ...(d.removed.length ? [`drops ${d.removed.join(", ")} (still etcd members)`] : []),
  ].join(" and ");
  return [
    `the spec ${what}`,
    ...(d.plan
      ? [
          "the change as khw carries it out:",
          ...d.plan.steps.map((s, i) => `  ${i + 1}. ${describeMembershipStep(s)} — ${s.reason}`),
          ...d.plan.warnings.map((w) => `  warning: ${w}`),
        ]
      : [`no plan: ${d.refusal}`]),
  ];
}

/** What `khw up` does about the control planes: nothing, carry out an addition, or (dry run) print it. */
export type ControlPlaneCheck =
  | { kind: "none" }
  | { kind: "add"; plan: MembershipPlan; before: Cluster }
  | { kind: "printed" };

/**
 * For `khw up`, before anything is re-issued or pushed: on a cluster this directory brought up (etcd done
 * in .khw/state.json), the spec's control planes against etcd's members. A control plane added to the
 * spec is carried out by `khw up` (the plan is returned; --dry-run prints it and `khw up` stops there,
 * since planning it would re-issue certificates in pki/); one dropped from the spec is refused with the
 * way to remove it (`khw node remove`), as is any change while a removal is unfinished. Nothing is said
 * when etcd cannot be asked.
 */
export async function checkControlPlanes(
  io: Io,
  file: string | undefined,
  o: { dryRun: boolean; json: boolean; partial?: boolean },
): Promise<ControlPlaneCheck> {
  const loaded = await loadSpecFile(io.cwd, file, { allowDefault: true });
  const paths = workdirPaths(loaded.baseDir);
  if (readState(paths.state).phases["etcd"]?.status !== "done") return { kind: "none" };
  const record = readMembershipRecord(membershipStatePath(paths));
  if (record?.change === "remove") {
    throw new CliError(
      "MEMBERSHIP_IN_PROGRESS",
      `the removal of control plane ${record.member} is unfinished (${record.done.length} step(s) done, recorded in .khw/membership.json)`,
      `finish it first: khw node remove ${record.member} --yes (it resumes)`,
    );
  }
  const seam = currentSeams().executor;
  // the tests' executor is the run's too: used, not closed, here
  const executor = seam ? seam() : sshExecutorForSpec(loaded, undefined, { dryRun: true });
  let members: EtcdMemberSeen[] | undefined;
  try {
    members = await runningEtcdMembers(loaded.cluster, executor, hostTargets(loaded, io.env));
  } finally {
    if (!seam) await executor.close().catch(() => {});
  }
  let drift = members && membershipDrift(loaded.cluster, members);
  // an addition that stopped after its member joined etcd: its remaining steps, from the record
  if (
    !drift &&
    record?.change === "add" &&
    loaded.cluster.controlPlanes.some((n) => n.name === record.member)
  )
    drift = membershipDrift(
      loaded.cluster,
      loaded.cluster.etcd.members.filter((m) => m.name !== record.member),
    );
  if (!drift) return { kind: "none" };
  const running = members?.map((m) => m.name).join(", ") ?? "";
  if (drift.removed.length || !drift.plan) {
    const [first, ...rest] = describeDrift(drift);
    throw new CliError(
      "CONTROL_PLANES_CHANGED",
      `${o.dryRun ? "dry run: " : ""}${first}: ${drift.removed.length ? "khw up adds control planes; it does not remove them" : "khw up cannot carry it out"}\n${rest.join("\n")}`,
      drift.removed.length
        ? `put ${drift.removed.join(", ")} back in the spec and run \`khw node remove ${drift.removed[0]} --yes --update-spec\` (quorum checked, etcd member remove, HAProxy, apiservers one by one, host reset)`
        : `put the control planes back as etcd has them (${running})`,
    );
  }
  if (o.partial)
    throw new CliError(
      "CONTROL_PLANES_CHANGED",
      `the spec adds control plane(s) ${drift.added.join(", ")}: an addition runs as a whole, never a part of it (--only/--skip)`,
      "run `khw up` without --only/--skip (`khw up --dry-run` shows its steps)",
    );
  if (o.dryRun) {
    const lines = describeDrift(drift);
    if (o.json)
      io.stdout(
        `${JSON.stringify({ type: "membership-plan", added: drift.added, steps: drift.plan.steps, warnings: drift.plan.warnings })}\n`,
      );
    else
      io.stdout(
        `dry run: ${lines.join("\n")}\nthen khw up converges the rest as usual (nothing was re-issued, pushed or restarted)\n`,
      );
    return { kind: "printed" };
  }
  return { kind: "add", plan: drift.plan, before: drift.before! };
}

export interface AdditionContext {
  io: Io;
  loaded: LoadedSpec;
  paths: WorkdirPaths;
  artifacts: Artifacts;
  executor: Executor;
  targets: ReadonlyMap<string, HostTarget>;
  emit: EventSink;
  log: (line: string) => void;
  signal: AbortSignal;
  json: boolean;
}

/**
 * `khw up`'s hook: the control plane the spec adds, carried out before the usual run (which then finds
 * it converged). The sub-runs' step events go to the usual view; the membership's own lines are
 * `[membership] …` (with --json: `{"type":"membership","message":…}` lines).
 */
export async function carryOutAddition(
  check: Extract<ControlPlaneCheck, { kind: "add" }>,
  c: AdditionContext,
): Promise<void> {
  const seams = currentSeams();
  const say = (line: string) =>
    c.json
      ? c.io.stdout(`${JSON.stringify({ type: "membership", message: line })}\n`)
      : c.io.stdout(`[membership] ${line}\n`);
  for (const w of check.plan.warnings) say(`warning: ${w}`);
  const r = await carryOutMembership({
    cluster: c.loaded.cluster,
    before: check.before,
    artifacts: c.artifacts,
    paths: c.paths,
    executor: c.executor,
    targets: c.targets,
    plan: check.plan,
    signal: c.signal,
    emit: (e) =>
      ["step", "host-failed", "warning", "phase-not-run"].includes(e.type)
        ? c.emit(e)
        : c.log(`event ${JSON.stringify(e)}`),
    log: c.log,
    say,
    cacheDir: defaultCacheDir(c.io.env),
    baseDir: c.loaded.baseDir,
    now: () => seams.now(),
    ...(seams.sleep ? { sleep: seams.sleep } : {}),
    rerun: "khw up",
  });
  for (const n of r.notes) say(`note: ${n}`);
  say(
    `control plane ${check.plan.added.join(", ")} added (${r.ran.length} step(s)${r.skipped.length ? `, ${r.skipped.length} done by an earlier run` : ""})`,
  );
}
