import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { API_BACKEND_NAME, HAPROXY_CONFIG_PATH, parseHaproxyStats } from "@khw/haproxy-config";
import type { MembershipPlan, MembershipStep } from "@khw/pki";
import type { Executor, HostTarget } from "@khw/remote-exec";
import type { Cluster, ClusterNode } from "@khw/spec/core";
import { etcdctlArgv } from "@khw/systemd-units";
import { type Artifacts, filesForPhase } from "../artifacts";
import { CliError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";
import type { EventSink } from "../up/events";
import { type PhaseDefinition, type PhaseName, phaseByName, type Step } from "../up/phases";
import { runUp, UpError } from "../up/runner";
import { clearPending, readState, writeState } from "../up/state";
import type { WorkdirPaths } from "../workdir";
import { type HostReset, resetHosts } from "./reset";

/**
 * Carries out @khw/pki's control-plane membership plan on the hosts, step by step, each step recorded in
 * `.khw/membership.json` so that a run stopped anywhere resumes where it stopped (every step is also
 * safe to repeat: `member add` of a listed peer and `member remove` of an absent one do nothing). A
 * host's files are pushed, and its services started or restarted, by khw up's own phases run for that
 * host alone, so the install, upload and readiness logic is the bring-up's.
 */

export const ETCD_UNIT_PATH = "/etc/systemd/system/etcd.service";

/** `.khw/membership.json`: the change under way and its finished steps. */
export interface MembershipRecord {
  change: "add" | "remove";
  member: string;
  done: string[];
  startedAt: string;
}

export function membershipStatePath(paths: Pick<WorkdirPaths, "state">): string {
  return join(dirname(paths.state), "membership.json");
}

export function readMembershipRecord(path: string): MembershipRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, "utf8")) as MembershipRecord;
    return (r.change === "add" || r.change === "remove") &&
      typeof r.member === "string" &&
      Array.isArray(r.done)
      ? r
      : undefined;
  } catch {
    return undefined;
  }
}

function writeMembershipRecord(path: string, record: MembershipRecord): void {
  writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

/** A step's name in the record: its kind and the host it is about. */
export function stepKey(s: MembershipStep): string {
  switch (s.kind) {
    case "etcd-member-add":
    case "etcd-member-remove":
      return `${s.kind} ${s.member}`;
    case "etcd-wait-healthy":
      return `${s.kind} ${s.members.join(",")}`;
    case "reissue-certificates":
      return s.kind;
    default:
      return `${s.kind} ${s.host}`;
  }
}

/**
 * $1 the new member's name, $2 its peer URL, then etcdctl's argv (endpoint and TLS flags): `member add`
 * unless a member with that peer URL is listed already (a run stopped after it, or an unstarted member).
 */
export const MEMBER_ADD_SCRIPT = `set -eu
name="$1"; peer="$2"; shift 2
list=$("$@" member list)
if printf '%s\\n' "$list" | awk -F', ' -v p="$peer" '$4 == p {found = 1} END {exit !found}'; then
  echo "member $name is listed already ($peer)"; exit 0
fi
"$@" member add "$name" --peer-urls="$peer" >/dev/null
echo "changed: member add $name --peer-urls=$peer"`;

/** $1 the member's name, $2 its peer URL, then etcdctl's argv: `member remove` of the member with that peer URL, if listed. */
export const MEMBER_REMOVE_SCRIPT = `set -eu
name="$1"; peer="$2"; shift 2
list=$("$@" member list)
id=$(printf '%s\\n' "$list" | awk -F', ' -v p="$peer" '$4 == p {print $1}')
if [ -z "$id" ]; then echo "member $name is not listed (removed already)"; exit 0; fi
"$@" member remove "$id" >/dev/null
echo "changed: member remove $name ($id)"`;

/** $1 the member count wanted, then etcdctl's argv (every member's client URL): started and healthy counts. */
export const MEMBERS_HEALTHY_SCRIPT = `n="$1"; shift
started=$("$@" member list 2>/dev/null | awk -F', ' '$2 == "started" && $3 != "" {s++} END {print s + 0}')
healthy=$("$@" endpoint health 2>&1 | grep -c ' is healthy' || true)
echo "started=$started healthy=$healthy of $n"`;

/**
 * On the load balancer: $1 backend, $2 server, $3 ready|maint — through HAProxy's admin socket (socat),
 * then the server's status from the stats page. Without socat or the socket: says so, changes nothing.
 */
export const LB_SERVER_STATE_SCRIPT = `sock=/run/haproxy/admin.sock
if ! command -v socat >/dev/null 2>&1 || [ ! -S "$sock" ]; then echo "no-admin-socket"; exit 0; fi
echo "set server $1/$2 state $3" | socat stdio "$sock"
echo "show stat" | socat stdio "$sock"`;

export const LB_STATS_SCRIPT = `sock=/run/haproxy/admin.sock
if ! command -v socat >/dev/null 2>&1 || [ ! -S "$sock" ]; then echo "no-admin-socket"; exit 0; fi
echo "show stat" | socat stdio "$sock"`;

export interface MembershipRun {
  /** The cluster as it is after the change (its artifacts are pushed). */
  cluster: Cluster;
  /** The cluster as it was (hosts that leave are found here). */
  before: Cluster;
  artifacts: Artifacts;
  paths: WorkdirPaths;
  executor: Executor;
  targets: ReadonlyMap<string, HostTarget>;
  plan: MembershipPlan;
  /** `khw node remove`'s reset of the leaving host (from the artifacts it had). */
  reset?: HostReset;
  signal?: AbortSignal;
  emit: EventSink;
  log: (line: string) => void;
  /** Progress lines for the user (`[membership] …`). */
  say: (line: string) => void;
  cacheDir: string;
  baseDir: string;
  now: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Shown in the hint of a failure (`khw up`, `khw node remove master-3 --yes`). */
  rerun: string;
}

export interface MembershipResult {
  ran: string[];
  skipped: string[];
  /** Load-balancer steps that could not take a server out of rotation (no socat / admin socket). */
  notes: string[];
}

/** The etcd unit of the joining member with `--initial-cluster-state=existing` (the rendered one says `new`). */
export function joiningArtifacts(artifacts: Artifacts, host: string): Artifacts {
  let found = false;
  const files = artifacts.files.map((f) => {
    if (f.host !== host || f.path !== ETCD_UNIT_PATH) return f;
    if (!f.contents.includes("--initial-cluster-state=new"))
      throw new Error(
        `${host}: the etcd unit has no --initial-cluster-state=new to turn into existing (a bug in khw)`,
      );
    found = true;
    return {
      ...f,
      contents: f.contents.replace("--initial-cluster-state=new", "--initial-cluster-state=existing"),
    };
  });
  if (!found) throw new Error(`${host}: no etcd unit among the artifacts (a bug in khw)`);
  return { ...artifacts, files };
}

/** Carries out `run.plan`, resuming after the steps `.khw/membership.json` records as done. */
export async function carryOutMembership(run: MembershipRun): Promise<MembershipResult> {
  const { plan, executor, say, log } = run;
  const sleep = run.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const change: MembershipRecord["change"] = plan.added.length ? "add" : "remove";
  const member = (plan.added[0] ?? plan.removed[0])!;
  const recordPath = membershipStatePath(run.paths);
  const previous = readMembershipRecord(recordPath);
  if (previous && (previous.change !== change || previous.member !== member)) {
    throw new CliError(
      "MEMBERSHIP_IN_PROGRESS",
      `the ${previous.change === "add" ? "addition" : "removal"} of ${previous.member} is unfinished (${recordPath})`,
      previous.change === "add"
        ? `finish it first: put ${previous.member} in the spec and run \`khw up\``
        : `finish it first: \`khw node remove ${previous.member} --yes\``,
    );
  }
  const record: MembershipRecord = previous ?? {
    change,
    member,
    done: [],
    startedAt: run.now().toISOString(),
  };
  if (previous)
    say(
      `resuming the ${change === "add" ? "addition" : "removal"} of ${member}: ${previous.done.length} step(s) done by an earlier run`,
    );
  const result: MembershipResult = { ran: [], skipped: [], notes: [] };
  const node = (name: string): ClusterNode => {
    const n = run.cluster.nodes.find((x) => x.name === name) ?? run.before.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`${name} is in neither spec (a bug in khw)`);
    return n;
  };
  const target = (n: ClusterNode): HostTarget => {
    const t = run.targets.get(n.name);
    if (!t) throw new Error(`no SSH target for ${n.name} (a bug in khw)`);
    return t;
  };
  const fail = (host: string, message: string, hint?: string): never => {
    throw new UpError(
      "membership",
      host,
      `[membership] ${host}: ${message}`,
      hint ?? `fix the cause, then run \`${run.rerun}\` again: it resumes`,
    );
  };
  const interrupted = () =>
    new CliError(
      "INTERRUPTED",
      `interrupted; finished steps are recorded in ${recordPath}`,
      `run \`${run.rerun}\` again to resume`,
    );
  const sh = async (host: string, script: string, args: string[], check = true) => {
    const r = await executor.shell(target(node(host)), script, {
      sudo: true,
      args,
      check: false,
      timeoutMs: 120_000,
    });
    log(
      `[membership] ${host}: ${script.split("\n")[0]} … ${args.join(" ")} → ${r.code}\n${r.stdout}${r.stderr}`,
    );
    if (check && r.code !== 0)
      fail(
        host,
        `${
          script
            .split("\n")
            .find((l) => /member|socat|systemctl|haproxy/.test(l))
            ?.trim() ?? "a command"
        } exited ${r.code}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`,
      );
    return r;
  };
  /** `etcdctl member add|remove` run on a healthy member; its last line (the member's id) said. */
  const memberChange = async (script: string, step: { via: string; member: string; peerURL: string }) => {
    const r = await sh(step.via, script, [
      step.member,
      step.peerURL,
      ...etcdctlArgv([endpointOf(step.via)], []),
    ]);
    say(`  ${r.stdout.trim().split("\n").at(-1)}`);
  };
  const endpointOf = (host: string) =>
    [...run.cluster.etcd.members, ...run.before.etcd.members].find((m) => m.name === host)!.clientURL;

  const phases = async (
    names: PhaseName[],
    host: string,
    o: { artifacts?: Artifacts; skip?: Step["kind"][] } = {},
  ) => {
    const h = node(host);
    const defs: PhaseDefinition[] = names.map((n) => {
      const def = phaseByName(n)!;
      return {
        ...def,
        hosts: () => [h],
        ...(o.skip ? { steps: (ctx, x) => def.steps(ctx, x).filter((s) => !o.skip!.includes(s.kind)) } : {}),
      };
    });
    const r = await runUp({
      cluster: run.cluster,
      artifacts: o.artifacts ?? run.artifacts,
      paths: run.paths,
      executor,
      targets: run.targets,
      phases: defs,
      concurrency: 1,
      ...(run.signal ? { signal: run.signal } : {}),
      emit: run.emit,
      log,
      cacheDir: run.cacheDir,
      baseDir: run.baseDir,
      sleep,
    });
    if (r.interrupted) throw interrupted();
  };

  /** etcd needs no restart for what a membership change alters (see restart-apiserver in @khw/pki). */
  const etcdRestartNotOwed = (host: string, why: string) => {
    const state = readState(run.paths.state);
    if (!state.pending[host]?.restart?.includes("etcd")) return;
    clearPending(state, host, { restart: ["etcd"] });
    writeState(run.paths.state, state);
    log(`[membership] ${host}: etcd not restarted: ${why}`);
  };

  const lbServer = async (lb: string, server: string, state: "maint" | "ready") => {
    const r = await sh(lb, LB_SERVER_STATE_SCRIPT, [API_BACKEND_NAME, server, state], false);
    if (r.stdout.includes("no-admin-socket")) {
      result.notes.push(
        `${lb}: no socat or admin socket: ${server} stayed in HAProxy's rotation while its apiserver restarted (its health checks take it out within seconds)`,
      );
      return;
    }
    if (state === "maint") return;
    // back in rotation: wait until HAProxy's health checks see it UP before the next host leaves
    for (let i = 0; i < 30; i++) {
      const s = await sh(lb, LB_STATS_SCRIPT, [], false);
      const row = safeStats(s.stdout).find((x) => x.proxy === API_BACKEND_NAME && x.name === server);
      if (row?.status === "UP") return;
      await sleep(1000);
    }
    fail(
      lb,
      `HAProxy does not report ${server} UP 30 s after its apiserver was ready`,
      `look at HAProxy's stats on ${lb} (http://127.0.0.1:8404/stats)`,
    );
  };

  for (const step of plan.steps) {
    if (run.signal?.aborted) throw interrupted();
    const key = stepKey(step);
    const line = describeMembershipStep(step);
    if (record.done.includes(key)) {
      result.skipped.push(key);
      say(`${line}: done by an earlier run`);
      continue;
    }
    const t0 = performance.now();
    say(`${line} …`);
    switch (step.kind) {
      case "reissue-certificates":
        // the reconcile of pki/ re-issued them (its lines say why); each host's step below pushes them
        break;
      case "etcd-member-add":
        await memberChange(MEMBER_ADD_SCRIPT, step);
        break;
      case "etcd-start-member":
        await phases(["preflight", "pki", "kubeconfigs", "encryption"], step.host);
        await phases(["etcd"], step.host, { artifacts: joiningArtifacts(run.artifacts, step.host) });
        {
          // joined: the unit becomes the one khw renders (etcd reads --initial-cluster-state only at its first start)
          const unit = filesForPhase(run.artifacts, "etcd", step.host).find(
            (f) => f.path === ETCD_UNIT_PATH,
          )!;
          const t = target(node(step.host));
          await executor.upload(t, { path: unit.path, content: unit.contents, mode: unit.mode, sudo: true });
          await executor.exec(t, ["systemctl", "daemon-reload"], { sudo: true });
        }
        break;
      case "etcd-wait-healthy": {
        const urls = step.members.map(endpointOf);
        let last = "";
        for (let i = 0; ; i++) {
          if (run.signal?.aborted) throw interrupted();
          const r = await sh(
            step.via,
            MEMBERS_HEALTHY_SCRIPT,
            [String(urls.length), ...etcdctlArgv(urls, [])],
            false,
          );
          last = r.stdout.trim();
          if (last === `started=${urls.length} healthy=${urls.length} of ${urls.length}`) break;
          if (i >= 60)
            fail(
              step.via,
              `etcd members not all started and healthy after 2 min: ${last}`,
              "look at `journalctl -u etcd` on the new member (peer URL, certificates)",
            );
          await sleep(2000);
        }
        say(`  ${last}`);
        break;
      }
      case "restart-apiserver":
        if (step.loadBalancer) await lbServer(step.loadBalancer, step.host, "maint");
        await phases(["pki", "kubeconfigs", "encryption"], step.host);
        await phases(["etcd"], step.host, { skip: ["services"] });
        etcdRestartNotOwed(
          step.host,
          "it reads its certificate at every TLS handshake and --initial-cluster only at its first start",
        );
        await phases(["control-plane"], step.host);
        if (step.loadBalancer) await lbServer(step.loadBalancer, step.host, "ready");
        break;
      case "start-control-plane":
        await phases(["control-plane"], step.host);
        break;
      case "loadbalancer-backends": {
        const f = filesForPhase(run.artifacts, "loadbalancer", step.host).find(
          (x) => x.path === HAPROXY_CONFIG_PATH,
        );
        if (!f) fail(step.host, `no ${HAPROXY_CONFIG_PATH} among the artifacts (a bug in khw)`);
        const t = target(node(step.host));
        const up = await executor.upload(t, {
          path: f!.path,
          content: f!.contents,
          mode: f!.mode,
          sudo: true,
        });
        if (up.changed) {
          await sh(step.host, `haproxy -c -f ${HAPROXY_CONFIG_PATH} >/dev/null`, []);
          // a reload: the old process finishes its connections, the new one takes new ones
          await sh(step.host, "systemctl reload-or-restart haproxy", []);
        }
        say(`  ${up.changed ? "reloaded with" : "already had"} backends ${step.backends.join(", ")}`);
        break;
      }
      case "stop-control-plane":
        await sh(step.host, 'for s in "$@"; do systemctl stop "$s" 2>/dev/null || true; done', step.services);
        break;
      case "etcd-member-remove":
        await memberChange(MEMBER_REMOVE_SCRIPT, step);
        break;
      case "reset-host": {
        if (!run.reset) fail(step.host, "no reset plan for the leaving host (a bug in khw)");
        const hosts = {
          executor,
          targets: run.targets,
          target,
          close: async () => {},
        };
        const [r] = await resetHosts(run.before, [run.reset!], hosts, { flushIptables: true });
        if (!r!.ok) fail(step.host, `the reset failed: ${r!.error}`, r!.hint);
        say(`  stopped ${r!.stopped.join(", ") || "nothing (not running)"}; khw's files removed`);
        for (const l of r!.left) say(`  left ${l}`);
        const state = readState(run.paths.state);
        if (state.pending[step.host]) {
          delete state.pending[step.host];
          writeState(run.paths.state, state);
        }
        break;
      }
    }
    record.done.push(key);
    writeMembershipRecord(recordPath, record);
    result.ran.push(key);
    say(`${line}: done (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  rmSync(recordPath, { force: true });
  return result;
}

function safeStats(csv: string) {
  try {
    return parseHaproxyStats(csv);
  } catch {
    return [];
  }
}

/** One line per membership step, as the run and --dry-run print it. */
export function describeMembershipStep(s: MembershipStep): string {
  switch (s.kind) {
    case "reissue-certificates":
      return `re-issue ${s.certificates.map((c) => `${c.id} (${c.reason})`).join(", ")}; pushed to ${s.pushTo.join(", ")} by their steps`;
    case "etcd-member-add":
      return `${s.via}: etcdctl member add ${s.member} --peer-urls=${s.peerURL}`;
    case "etcd-start-member":
      return `${s.host}: preflight, certificates, kubeconfigs, encryption config; start etcd with --initial-cluster=${s.initialCluster} --initial-cluster-state=existing`;
    case "etcd-wait-healthy":
      return `${s.via}: wait until ${s.members.join(", ")} are started and healthy`;
    case "etcd-member-remove":
      return `${s.via}: etcdctl member remove <id of ${s.member}>`;
    case "restart-apiserver":
      return `${s.host}: ${s.loadBalancer ? `out of ${s.loadBalancer}'s rotation; ` : ""}new certificates and units, kube-apiserver --etcd-servers=${s.etcdServers.join(",")} restarted, wait ${s.wait}${s.loadBalancer ? "; back in rotation" : ""}`;
    case "start-control-plane":
      return `${s.host}: start ${s.services.join(", ")}, wait ${s.wait}`;
    case "stop-control-plane":
      return `${s.host}: stop ${s.services.join(", ")}`;
    case "loadbalancer-backends":
      return `${s.host}: HAProxy backends ${s.backends.join(", ")}, reload`;
    case "reset-host":
      return `${s.host}: khw reset of this host`;
  }
}
