import { KUBECONFIG_PATHS } from "@khw/kubeconfig";
import { type Cluster, type EtcdMember, NODE_DIRS } from "@khw/spec/core";
import { UnitsError } from "./errors";
import { BINARY_PATHS, PATHS, PKI_PATHS } from "./paths";

/**
 * etcd day-2 operations as data: the etcdctl/etcdutl command lines (TLS flags and paths as the etcd unit
 * uses them), parsers of etcdctl's and etcdutl's JSON output, the cluster status made of them, and the
 * plan of a snapshot restore (ordered phases, each a list of steps per host). Nothing here runs anything.
 */

/** etcdutl, installed beside etcd and etcdctl from the same release archive. */
const ETCDUTL = BINARY_PATHS.etcdutl;

/** The control-plane services that read or write etcd, in start order. */
export const ETCD_CLIENT_SERVICES = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

/** `etcdctl` with the member's TLS client flags (etcd-server is also etcd's client certificate). */
export function etcdctlArgv(endpoints: readonly string[], command: readonly string[]): string[] {
  if (endpoints.length === 0)
    throw new UnitsError(
      "INVALID_ARGUMENT",
      "endpoints",
      "etcdctl needs at least one endpoint",
      "pass the members' client URLs",
    );
  return [
    BINARY_PATHS.etcdctl,
    `--endpoints=${endpoints.join(",")}`,
    `--cacert=${PKI_PATHS.etcdCa}`,
    `--cert=${PKI_PATHS.etcdServer}`,
    `--key=${PKI_PATHS.etcdServerKey}`,
    "--command-timeout=5s",
    "--dial-timeout=3s",
    ...command,
  ];
}

// ------------------------------------------------------------------------------------------------
// parsing etcdctl / etcdutl JSON

/** Output of etcdctl/etcdutl that is not what this version prints. */
function badOutput(what: string, message: string): UnitsError {
  return new UnitsError(
    "INVALID_ETCD_OUTPUT",
    what,
    message,
    "check that etcdctl/etcdutl are the release khw installed (BINARY_PATHS) and answered with -w json",
  );
}

/**
 * etcdctl prints member and cluster IDs as JSON numbers that do not fit a double (uint64): quote every
 * integer of 16 digits or more before JSON.parse, so no ID loses its low bits.
 */
function parseJsonWithIds(text: string, what: string): unknown {
  const quoted = text.replace(/("[A-Za-z_]+"\s*:\s*)(\d{16,})(?=\s*[,}\]])/g, '$1"$2"');
  try {
    return JSON.parse(quoted);
  } catch {
    throw badOutput(what, `not JSON: ${text.trim().slice(0, 200) || "(empty)"}`);
  }
}

/** An etcd ID (decimal uint64 as etcdctl prints it, or a number) as 16 hex digits, as etcd logs show it. */
export function etcdIdHex(id: unknown): string {
  if (typeof id === "string" && /^\d+$/.test(id)) return BigInt(id).toString(16).padStart(16, "0");
  if (typeof id === "string" && /^[0-9a-f]+$/i.test(id)) return id.toLowerCase().padStart(16, "0");
  if (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) return id.toString(16).padStart(16, "0");
  throw badOutput("id", `not an etcd ID: ${String(id)}`);
}

function num(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
  throw badOutput(what, `expected a number, got ${JSON.stringify(v)}`);
}

/** One entry of `etcdctl endpoint status -w json`. */
export interface EndpointStatus {
  endpoint: string;
  clusterId: string;
  memberId: string;
  leaderId: string;
  revision: number;
  raftTerm: number;
  raftIndex: number;
  dbSize: number;
  dbSizeInUse: number | undefined;
  version: string;
  isLearner: boolean;
  errors: string[];
}

/** `etcdctl endpoint status -w json` → one entry per endpoint (etcdctl may repeat one: kept once). */
export function parseEndpointStatus(text: string): EndpointStatus[] {
  const data = parseJsonWithIds(text, "etcdctl endpoint status");
  if (!Array.isArray(data)) throw badOutput("etcdctl endpoint status", "expected a JSON list");
  const out = new Map<string, EndpointStatus>();
  for (const raw of data as Array<Record<string, unknown>>) {
    const s = (raw["Status"] ?? {}) as Record<string, unknown>;
    const h = (s["header"] ?? {}) as Record<string, unknown>;
    const endpoint = String(raw["Endpoint"] ?? "");
    if (!endpoint || out.has(endpoint)) continue;
    out.set(endpoint, {
      endpoint,
      clusterId: etcdIdHex(h["cluster_id"]),
      memberId: etcdIdHex(h["member_id"]),
      leaderId: etcdIdHex(s["leader"]),
      revision: num(h["revision"], `${endpoint} revision`),
      raftTerm: num(s["raftTerm"] ?? h["raft_term"], `${endpoint} raftTerm`),
      raftIndex: num(s["raftIndex"] ?? 0, `${endpoint} raftIndex`),
      dbSize: num(s["dbSize"], `${endpoint} dbSize`),
      dbSizeInUse: s["dbSizeInUse"] === undefined ? undefined : num(s["dbSizeInUse"], "dbSizeInUse"),
      version: String(s["version"] ?? ""),
      isLearner: s["isLearner"] === true,
      errors: Array.isArray(s["errors"]) ? (s["errors"] as unknown[]).map(String) : [],
    });
  }
  return [...out.values()];
}

/** One entry of `etcdctl endpoint health -w json`. */
export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  took: string;
  error: string | undefined;
}

export function parseEndpointHealth(text: string): EndpointHealth[] {
  const data = parseJsonWithIds(text, "etcdctl endpoint health");
  if (!Array.isArray(data)) throw badOutput("etcdctl endpoint health", "expected a JSON list");
  return (data as Array<Record<string, unknown>>).map((e) => ({
    endpoint: String(e["endpoint"] ?? ""),
    health: e["health"] === true,
    took: String(e["took"] ?? ""),
    error: typeof e["error"] === "string" ? e["error"] : undefined,
  }));
}

/** One member of `etcdctl member list -w json`. */
export interface ListedMember {
  id: string;
  /** Empty for a member that was added but has not started yet. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export function parseMemberList(text: string): ListedMember[] {
  const data = parseJsonWithIds(text, "etcdctl member list") as { members?: unknown };
  if (!data || !Array.isArray(data.members))
    throw badOutput("etcdctl member list", "no members in the answer");
  return (data.members as Array<Record<string, unknown>>).map((m) => ({
    id: etcdIdHex(m["ID"]),
    name: String(m["name"] ?? ""),
    peerURLs: Array.isArray(m["peerURLs"]) ? (m["peerURLs"] as unknown[]).map(String) : [],
    clientURLs: Array.isArray(m["clientURLs"]) ? (m["clientURLs"] as unknown[]).map(String) : [],
    isLearner: m["isLearner"] === true,
  }));
}

/** `etcdutl snapshot status FILE -w json` (or etcdctl's). */
export interface SnapshotStatus {
  /** etcd's own hash of the key space (not the file's SHA-256). */
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
  /** The storage version the snapshot was written by, e.g. 3.6.0. */
  version: string;
}

export function parseSnapshotStatus(text: string): SnapshotStatus {
  // etcdutl logs on stderr; stdout's last JSON object line is the answer.
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("{") && l.includes('"revision"'))
    .pop();
  if (!line) throw badOutput("snapshot status", `no JSON in ${JSON.stringify(text.slice(0, 200))}`);
  const d = parseJsonWithIds(line, "snapshot status") as Record<string, unknown>;
  return {
    hash: num(d["hash"], "snapshot hash"),
    revision: num(d["revision"], "snapshot revision"),
    totalKey: num(d["totalKey"], "snapshot totalKey"),
    totalSize: num(d["totalSize"], "snapshot totalSize"),
    version: String(d["version"] ?? ""),
  };
}

// ------------------------------------------------------------------------------------------------
// the cluster's status

/** What each member's endpoint answered (or the error text when it did not). */
export interface MemberProbe {
  /** `etcdctl endpoint status -w json` output for this endpoint alone, if it answered. */
  status?: string | undefined;
  /** `etcdctl endpoint health -w json` output for this endpoint alone. */
  health?: string | undefined;
  /** Why the probe could not run or the endpoint did not answer. */
  error?: string | undefined;
}

export interface EtcdMemberStatus {
  name: string;
  endpoint: string;
  /** The member ID (hex), when the member answered. */
  id: string | undefined;
  isLeader: boolean;
  healthy: boolean;
  revision: number | undefined;
  raftTerm: number | undefined;
  raftIndex: number | undefined;
  dbSize: number | undefined;
  dbSizeInUse: number | undefined;
  version: string | undefined;
  error: string | undefined;
}

export interface EtcdClusterStatus {
  ok: boolean;
  /** The leader's member name, when exactly one leader is agreed on by the members that answered. */
  leader: string | undefined;
  members: EtcdMemberStatus[];
  /** Why the cluster is not ok (a member down, no or several leaders, members not in the spec). */
  problems: string[];
}

/**
 * One status out of per-member probes and the member list: every member of the spec (answered or not),
 * leader agreed on, same cluster, members etcd knows that the spec does not name.
 */
export function etcdClusterStatus(
  members: readonly EtcdMember[],
  probes: Readonly<Record<string, MemberProbe>>,
  memberList?: string,
): EtcdClusterStatus {
  const problems: string[] = [];
  let listed: ListedMember[] = [];
  if (memberList !== undefined) {
    try {
      listed = parseMemberList(memberList);
    } catch (e) {
      problems.push(`member list: ${(e as Error).message}`);
    }
  }
  const rows: EtcdMemberStatus[] = members.map((m) => {
    const p = probes[m.name] ?? {};
    let st: EndpointStatus | undefined;
    let healthy = false;
    let error = p.error;
    try {
      if (p.status) st = parseEndpointStatus(p.status).find((s) => s.endpoint === m.clientURL);
      if (p.health) {
        const h = parseEndpointHealth(p.health).find((x) => x.endpoint === m.clientURL);
        healthy = h?.health === true;
        if (h && !h.health) error ??= h.error ?? "unhealthy";
      }
    } catch (e) {
      error ??= (e as Error).message;
    }
    if (!st) {
      healthy = false;
      error ??= "did not answer";
    }
    if (st?.errors.length) error ??= st.errors.join("; ");
    return {
      name: m.name,
      endpoint: m.clientURL,
      id: st?.memberId,
      isLeader: st !== undefined && st.memberId === st.leaderId,
      healthy,
      revision: st?.revision,
      raftTerm: st?.raftTerm,
      raftIndex: st?.raftIndex,
      dbSize: st?.dbSize,
      dbSizeInUse: st?.dbSizeInUse,
      version: st?.version,
      error,
    };
  });
  for (const r of rows) if (!r.healthy) problems.push(`${r.name} (${r.endpoint}): ${r.error ?? "unhealthy"}`);
  const leaders = rows.filter((r) => r.isLeader);
  const leader = leaders.length === 1 ? leaders[0]!.name : undefined;
  if (rows.some((r) => r.id !== undefined) && leaders.length !== 1) {
    problems.push(
      leaders.length === 0
        ? "no member is the leader (no quorum?)"
        : `${leaders.length} members say they lead: ${leaders.map((l) => l.name).join(", ")}`,
    );
  }
  for (const l of listed) {
    if (!members.some((m) => m.name === l.name || l.peerURLs.includes(m.peerURL))) {
      problems.push(
        `etcd has a member the spec does not name: ${l.name || "(unstarted)"} ${l.id} ${l.peerURLs.join(",")}`,
      );
    }
  }
  return { ok: problems.length === 0, leader, members: rows, problems };
}

// ------------------------------------------------------------------------------------------------
// the restore plan

/** Where a restore keeps its files on each member. */
export const ETCD_RESTORE_DIR = `${NODE_DIRS.khw}/etcd-restore`;

/** A step of a plan: one operation on one host. */
export type RestoreStep =
  | { kind: "upload"; host: string; what: string; path: string; mode: number }
  | { kind: "exec"; host: string; what: string; argv: string[]; timeoutSeconds: number }
  | { kind: "shell"; host: string; what: string; script: string; args: string[]; timeoutSeconds: number }
  | {
      /** Run `argv` (failures allowed) until its output shows `until`, at most `timeoutSeconds`. */
      kind: "wait";
      host: string;
      what: string;
      argv: string[];
      until: WaitCondition;
      timeoutSeconds: number;
    };

/** When a wait step is done: every endpoint healthy in `endpoint health -w json`, or stdout is `ok`. */
export type WaitCondition = { kind: "etcd-healthy"; endpoints: string[] } | { kind: "ok" };

/** Whether a wait step's output (stdout) meets its condition. */
export function waitConditionMet(until: WaitCondition, stdout: string): boolean {
  if (until.kind === "ok") return /^ok\s*$/.test(stdout.trim());
  let health: EndpointHealth[];
  try {
    health = parseEndpointHealth(stdout);
  } catch {
    return false;
  }
  return until.endpoints.every((e) => health.some((h) => h.endpoint === e && h.health));
}

/** One phase: its steps run on every host at once, a host's steps one after the other. */
export interface RestorePhase {
  name:
    | "upload"
    | "verify"
    | "stop-control-plane"
    | "stop-etcd"
    | "restore"
    | "start-etcd"
    | "wait-etcd"
    | "start-control-plane"
    | "wait-apiserver"
    | "wait-controllers"
    | "clean-up";
  description: string;
  steps: RestoreStep[];
}

export interface EtcdRestorePlan {
  /** Names this restore on the hosts (staging and set-aside directories, snapshot copy). */
  restoreId: string;
  /** The new `--initial-cluster-token` (a restored cluster must not rejoin the old one's peers). */
  initialClusterToken: string;
  snapshotSha256: string;
  /** Per member: where the previous data directory is kept. */
  keptDataDirs: Record<string, string>;
  phases: RestorePhase[];
}

export interface EtcdRestoreInput {
  /** Letters, digits and dashes: a UTC timestamp such as 20261202T140000Z is the usual one. */
  restoreId: string;
  /** The snapshot file's SHA-256 (hex), checked by the caller before the plan runs. */
  snapshotSha256: string;
}

/**
 * Idempotent per member: $1 snapshot, $2 data dir, $3 staging dir, $4 set-aside dir, then etcdutl's
 * --name, --initial-cluster, --initial-advertise-peer-urls, --initial-cluster-token. Once the old data
 * dir is set aside and the new one is in place, a second run does nothing (Ctrl-C at any point, then a
 * re-run, converges). The new dir is root's, mode 0700 (etcd runs as root).
 */
export const ETCD_RESTORE_SCRIPT = `set -eu
snap="$1"; data="$2"; staging="$3"; aside="$4"; name="$5"; cluster="$6"; peer="$7"; token="$8"
if [ -d "$aside" ] && [ -d "$data" ]; then echo "in place (previous data kept in $aside)"; exit 0; fi
rm -rf "$staging"
${ETCDUTL} snapshot restore "$snap" --name="$name" --initial-cluster="$cluster" --initial-advertise-peer-urls="$peer" --initial-cluster-token="$token" --data-dir="$staging" >"$staging.log" 2>&1 || { cat "$staging.log" >&2; rm -rf "$staging" "$staging.log"; exit 1; }
rm -f "$staging.log"
chown -R root:root "$staging"
chmod 0700 "$staging"
if [ -e "$data" ]; then mv "$data" "$aside"; fi
mv "$staging" "$data"
sync
echo "restored (previous data kept in $aside)"`;

/**
 * Prints `ok` once kube-controller-manager and kube-scheduler hold their leader leases again: each lease
 * renewed at or after the local unit (re)started. The snapshot holds the old holders' leases, which look
 * held until they expire; until then no controller runs (a new namespace gets no `default`
 * ServiceAccount). $1 kubectl, $2 the admin kubeconfig. Otherwise one line says what is missing.
 */
export const LEASES_RENEWED_SCRIPT = `kubectl="$1"; kubeconfig="$2"
for c in ${ETCD_CLIENT_SERVICES.slice(1).join(" ")}; do
  since=$(systemctl show -p ActiveEnterTimestamp --value "$c")
  s=$(date -d "$since" +%s 2>/dev/null) || { echo "$c: not started"; exit 0; }
  r=$("$kubectl" --kubeconfig "$kubeconfig" -n kube-system get lease "$c" -o 'jsonpath={.spec.renewTime}' --request-timeout=5s 2>&1) || { echo "$c lease: $r"; exit 0; }
  t=$(date -d "$r" +%s 2>/dev/null) || { echo "$c lease renewTime: '$r'"; exit 0; }
  [ "$t" -ge "$s" ] || { echo "$c: no leader since the restart"; exit 0; }
done
echo ok`;

/**
 * The restore of every member from one snapshot, as data: upload and check the snapshot everywhere
 * (nothing stopped yet), stop the control plane then etcd, restore each member into a fresh data dir
 * with a new cluster token (the old dir set aside, kept), start etcd on all members at once (the first
 * waits for quorum), wait until every endpoint is healthy, start the control plane, wait for /readyz on
 * every apiserver and for the controller-manager's and scheduler's leader leases, remove the snapshot copies.
 */
export function etcdRestorePlan(cluster: Cluster, input: EtcdRestoreInput): EtcdRestorePlan {
  if (!/^[A-Za-z0-9-]{1,40}$/.test(input.restoreId))
    throw new UnitsError(
      "INVALID_ARGUMENT",
      "restoreId",
      `must be 1-40 letters, digits and dashes, got '${input.restoreId}'`,
      "use a UTC timestamp such as 20261202T140000Z",
    );
  if (!/^[0-9a-f]{64}$/.test(input.snapshotSha256))
    throw new UnitsError(
      "INVALID_ARGUMENT",
      "snapshotSha256",
      "must be 64 lower-case hex digits",
      "pass the snapshot file's SHA-256",
    );
  const id = input.restoreId.toLowerCase();
  const members = cluster.etcd.members;
  const cps = cluster.controlPlanes.map((n) => n.name);
  const token = `etcd-${cluster.name}-restore-${id}`;
  const snapshot = `${ETCD_RESTORE_DIR}/${id}.db`;
  const data = PATHS.etcdDataDir;
  const staging = `${data}.restore-${id}`;
  const aside = `${data}.before-restore-${id}`;
  const endpoints = cluster.etcd.clientURLs;
  const each = <T>(f: (m: EtcdMember) => T) => members.map(f);
  const phases: RestorePhase[] = [
    {
      name: "upload",
      description: "copy the snapshot to every member (nothing is stopped yet)",
      steps: each((m) => ({
        kind: "upload",
        host: m.name,
        what: `snapshot → ${snapshot}`,
        path: snapshot,
        mode: 0o600,
      })),
    },
    {
      name: "verify",
      description: "etcdutl reads the snapshot on every member (its integrity hash and revision)",
      steps: each((m) => ({
        kind: "exec",
        host: m.name,
        what: "etcdutl snapshot status",
        argv: [ETCDUTL, "snapshot", "status", snapshot, "-w", "json"],
        timeoutSeconds: 120,
      })),
    },
    {
      name: "stop-control-plane",
      description: "stop the etcd clients: kube-apiserver, kube-controller-manager, kube-scheduler",
      steps: cps.map((host) => ({
        kind: "exec",
        host,
        what: `stop ${ETCD_CLIENT_SERVICES.join(", ")}`,
        argv: ["systemctl", "stop", ...[...ETCD_CLIENT_SERVICES].reverse()],
        timeoutSeconds: 120,
      })),
    },
    {
      name: "stop-etcd",
      description: "stop etcd on every member",
      steps: each((m) => ({
        kind: "exec",
        host: m.name,
        what: "stop etcd",
        argv: ["systemctl", "stop", "etcd"],
        timeoutSeconds: 120,
      })),
    },
    {
      name: "restore",
      description: `restore each member into a fresh data dir (token ${token}); the old one is set aside, kept`,
      steps: each((m) => ({
        kind: "shell",
        host: m.name,
        what: `etcdutl snapshot restore --name=${m.name} → ${data} (previous kept in ${aside})`,
        script: ETCD_RESTORE_SCRIPT,
        args: [snapshot, data, staging, aside, m.name, cluster.etcd.initialCluster, m.peerURL, token],
        timeoutSeconds: 300,
      })),
    },
    {
      name: "start-etcd",
      description: "start etcd on every member at once (each waits for quorum)",
      steps: each((m) => ({
        kind: "exec",
        host: m.name,
        what: "start etcd",
        argv: ["systemctl", "start", "etcd"],
        timeoutSeconds: 180,
      })),
    },
    {
      name: "wait-etcd",
      description: "wait until every member's endpoint is healthy",
      steps: [
        {
          kind: "wait",
          host: members[0]!.name,
          what: `etcdctl endpoint health (${endpoints.join(", ")})`,
          argv: etcdctlArgv(endpoints, ["endpoint", "health", "-w", "json"]),
          until: { kind: "etcd-healthy", endpoints },
          timeoutSeconds: 120,
        },
      ],
    },
    {
      name: "start-control-plane",
      description: "start kube-apiserver, kube-controller-manager, kube-scheduler",
      steps: cps.map((host) => ({
        kind: "exec",
        host,
        what: `start ${ETCD_CLIENT_SERVICES.join(", ")}`,
        argv: ["systemctl", "start", ...ETCD_CLIENT_SERVICES],
        timeoutSeconds: 180,
      })),
    },
    {
      name: "wait-apiserver",
      description: "wait for /readyz on every kube-apiserver",
      steps: cps.map((host) => ({
        kind: "wait",
        host,
        what: "kubectl get --raw /readyz",
        argv: [
          BINARY_PATHS.kubectl,
          "--kubeconfig",
          KUBECONFIG_PATHS.admin,
          "get",
          "--raw",
          "/readyz",
          "--request-timeout=5s",
        ],
        until: { kind: "ok" },
        timeoutSeconds: 180,
      })),
    },
    {
      name: "wait-controllers",
      description: "wait until kube-controller-manager and kube-scheduler hold their leader leases again",
      steps: [
        {
          kind: "wait",
          host: cps[0]!,
          what: "leader leases renewed since the restart",
          argv: ["sh", "-c", LEASES_RENEWED_SCRIPT, "khw", BINARY_PATHS.kubectl, KUBECONFIG_PATHS.admin],
          until: { kind: "ok" },
          timeoutSeconds: 180,
        },
      ],
    },
    {
      name: "clean-up",
      description: "remove the snapshot copies from the members",
      steps: each((m) => ({
        kind: "exec",
        host: m.name,
        what: `rm ${snapshot}`,
        argv: ["rm", "-f", "--", snapshot],
        timeoutSeconds: 60,
      })),
    },
  ];
  return {
    restoreId: id,
    initialClusterToken: token,
    snapshotSha256: input.snapshotSha256,
    keptDataDirs: Object.fromEntries(members.map((m) => [m.name, aside])),
    phases,
  };
}
