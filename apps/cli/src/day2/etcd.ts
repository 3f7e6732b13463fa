import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { type ExecResult, fanOut } from "@khw/remote-exec";
import { type Cluster, type ClusterNode, NODE_DIRS } from "@khw/spec/core";
import {
  BINARY_PATHS,
  type EtcdClusterStatus,
  type EtcdRestorePlan,
  etcdClusterStatus,
  etcdctlArgv,
  type MemberProbe,
  parseSnapshotStatus,
  type RestorePhase,
  type RestoreStep,
  type SnapshotStatus,
  waitConditionMet,
} from "@khw/systemd-units";
import { CliError, EXIT } from "../errors";
import { writeFileAtomic } from "../fs-atomic";
import { currentSeams } from "../workdir";
import { describeError, type Hosts } from "./remote";

// ------------------------------------------------------------------------------------------------
// status

export interface EtcdStatusReport extends EtcdClusterStatus {
  /** The control plane etcdctl ran on (undefined when none could be reached over SSH). */
  from: string | undefined;
}

/** Runs etcdctl on the first control plane that answers over SSH: one probe per member, then member list. */
export async function etcdStatus(cluster: Cluster, hosts: Hosts): Promise<EtcdStatusReport> {
  const sshErrors: string[] = [];
  for (const cp of cluster.controlPlanes) {
    const t = hosts.target(cp);
    const run = (argv: string[]) =>
      hosts.executor.exec(t, argv, { sudo: true, check: false, timeoutMs: 30_000 });
    try {
      await hosts.executor.connect(t);
      const probes: Record<string, MemberProbe> = {};
      await Promise.all(
        cluster.etcd.members.map(async (m) => {
          const [status, health] = await Promise.all([
            run(etcdctlArgv([m.clientURL], ["endpoint", "status", "-w", "json"])),
            run(etcdctlArgv([m.clientURL], ["endpoint", "health", "-w", "json"])),
          ]);
          probes[m.name] = {
            ...(status.code === 0 ? { status: status.stdout } : {}),
            health: health.stdout,
            ...(status.code === 0 ? {} : { error: etcdctlError(status) }),
          };
        }),
      );
      const list = await run(etcdctlArgv(cluster.etcd.clientURLs, ["member", "list", "-w", "json"]));
      const report = etcdClusterStatus(
        cluster.etcd.members,
        probes,
        list.code === 0 ? list.stdout : undefined,
      );
      return { from: cp.name, ...report };
    } catch (e) {
      sshErrors.push(`${cp.name}: ${describeError(e).message}`);
    }
  }
  const why = `no control plane answered over SSH to run etcdctl (${sshErrors.join("; ")})`;
  return {
    from: undefined,
    ...etcdClusterStatus(
      cluster.etcd.members,
      Object.fromEntries(cluster.etcd.members.map((m) => [m.name, { error: why }])),
    ),
  };
}

/** The line of etcdctl's stderr that says why (its JSON logs and retries left out). */
function etcdctlError(r: ExecResult): string {
  const lines = `${r.stderr}\n${r.stdout}`
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("{"));
  const failed = lines.find((l) => /^Failed to get the status|^Error:/.test(l));
  if (r.code === 127 || /No such file|not found/.test(lines.join(" ")))
    return `${BINARY_PATHS.etcdctl} is missing on the host (run \`khw up\`)`;
  return (failed ?? lines.at(-1) ?? `etcdctl exited ${r.code ?? r.signal}`).replace(/^Error:\s*/, "");
}

// ------------------------------------------------------------------------------------------------
// snapshot files

/** `20261202T140501Z`: a UTC timestamp that names files and restores. */
export function compactTimestamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/[-:]/g, "");
}

/**
 * A snapshot saved by etcdctl ends with the SHA-256 of everything before it (its size is then 32 more
 * than a multiple of 512, as etcdutl checks on restore): verified here, before anything is stopped.
 */
export function verifySnapshotBytes(bytes: Uint8Array): { ok: true } | { ok: false; why: string } {
  if (bytes.length < 512 + 32)
    return { ok: false, why: `${bytes.length} bytes is too small for an etcd snapshot` };
  if (bytes.length % 512 !== 32)
    return {
      ok: false,
      why: "it has no integrity hash (not a file written by `etcdctl snapshot save`: truncated, or a raw member/snap/db)",
    };
  const body = bytes.subarray(0, bytes.length - 32);
  const want = Buffer.from(bytes.subarray(bytes.length - 32)).toString("hex");
  const got = createHash("sha256").update(body).digest("hex");
  if (got !== want)
    return { ok: false, why: "its integrity hash does not match its contents (the file is corrupt)" };
  return { ok: true };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Reads and verifies a snapshot file; one CliError naming the file otherwise. */
export function readSnapshotFile(path: string, shown: string): { bytes: Buffer; sha256: string } {
  let bytes: Buffer;
  try {
    if (!statSync(path).isFile()) throw new Error("not a file");
    bytes = readFileSync(path);
  } catch (e) {
    throw new CliError(
      "SNAPSHOT_INVALID",
      `${shown}: cannot read the snapshot (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      "give the path of a file written by `khw etcd snapshot save`",
    );
  }
  const v = verifySnapshotBytes(bytes);
  if (!v.ok)
    throw new CliError(
      "SNAPSHOT_INVALID",
      `${shown} is not a usable etcd snapshot: ${v.why}; nothing was stopped or changed`,
      "use another snapshot (`ls backups/`), or save a new one with `khw etcd snapshot save`",
    );
  return { bytes, sha256: sha256Hex(bytes) };
}

// ------------------------------------------------------------------------------------------------
// snapshot save

export interface SavedSnapshot {
  file: string;
  sha256: string;
  size: number;
  member: string;
  status: SnapshotStatus;
}

/** Where snapshots go by default, in the directory of cluster.yaml. */
export const BACKUPS_DIR = "backups";

/** $1 the file on the host, then etcdctl's argv (endpoint and TLS flags): `snapshot save` into $1, 0600. */
export const SAVE_SCRIPT = `set -eu
out="$1"; shift
umask 077
mkdir -p "$(dirname "$out")"
rm -f "$out" "$out.part"
if ! "$@" snapshot save "$out" >/dev/null 2>"$out.log"; then cat "$out.log" >&2; rm -f "$out.log" "$out.part"; exit 1; fi
rm -f "$out.log"`;

/** A `.gitignore` that keeps a directory's contents (and itself) out of git. */
const IGNORE_ALL =
  "# etcd snapshots hold every Secret of the cluster: never commit them (written by khw)\n*\n";

/**
 * `etcdctl snapshot save` on a healthy member (`prefer` when it is healthy, else a follower when there is
 * one: the leader keeps its time for the cluster), `etcdutl snapshot status`, the file copied here, the
 * host's copy removed, the local file verified and written atomically with mode 0600.
 */
export async function saveSnapshot(
  cluster: Cluster,
  hosts: Hosts,
  baseDir: string,
  file: string | undefined,
  say: (line: string) => void,
  options: { prefer?: string } = {},
): Promise<SavedSnapshot> {
  const now = currentSeams().now();
  const stamp = compactTimestamp(now);
  const target = file ? resolve(baseDir, file) : join(baseDir, BACKUPS_DIR, `etcd-${stamp}.db`);
  if (existsSync(target))
    throw new CliError(
      "SNAPSHOT_EXISTS",
      `${target} already exists`,
      "give another FILE, or move the old one away",
    );
  const status = await etcdStatus(cluster, hosts);
  const healthy = status.members.filter((m) => m.healthy);
  const source =
    healthy.find((m) => m.name === options.prefer) ?? healthy.find((m) => !m.isLeader) ?? healthy[0];
  if (!source)
    throw new CliError(
      "ETCD_UNHEALTHY",
      `no healthy etcd member to take a snapshot from: ${status.problems.join("; ")}`,
      "see `khw etcd status`; start etcd (`khw up --only etcd`) and try again",
    );
  const node = cluster.nodes.find((n) => n.name === source.name) as ClusterNode;
  const t = hosts.target(node);
  const ex = hosts.executor;
  const remote = `${NODE_DIRS.khw}/etcd-snapshot-${stamp}.db`;
  say(`${source.name}: etcdctl snapshot save ${remote} (${source.isLeader ? "the leader" : "a follower"})`);
  let bytes: Buffer;
  let st: SnapshotStatus;
  try {
    await ex.shell(t, SAVE_SCRIPT, {
      sudo: true,
      args: [remote, ...etcdctlArgv([source.endpoint], [])],
      timeoutMs: 600_000,
    });
    const r = await ex.exec(t, [BINARY_PATHS.etcdutl, "snapshot", "status", remote, "-w", "json"], {
      sudo: true,
      timeoutMs: 120_000,
    });
    st = parseSnapshotStatus(r.stdout);
    bytes = await ex.download(t, remote, { sudo: true });
  } catch (e) {
    const d = describeError(e);
    throw new CliError(
      "SNAPSHOT_SAVE_FAILED",
      `${source.name}: ${oneLine(d.message)}`,
      d.hint ?? "see `khw etcd status`, then run `khw etcd snapshot save` again (nothing was written here)",
    );
  } finally {
    await ex
      .exec(t, ["rm", "-f", "--", remote, `${remote}.part`], { sudo: true, check: false })
      .catch(() => {});
  }
  const v = verifySnapshotBytes(bytes);
  if (!v.ok)
    throw new CliError(
      "SNAPSHOT_INVALID",
      `the snapshot copied from ${source.name} is not usable: ${v.why}`,
      "run `khw etcd snapshot save` again",
    );
  if (!file || dirname(target) === join(baseDir, BACKUPS_DIR)) {
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    const ignore = join(dirname(target), ".gitignore");
    if (!existsSync(ignore)) writeFileAtomic(ignore, IGNORE_ALL, 0o644);
  }
  writeFileAtomic(target, bytes, 0o600);
  return { file: target, sha256: sha256Hex(bytes), size: bytes.length, member: source.name, status: st };
}

// ------------------------------------------------------------------------------------------------
// snapshot restore

/** `.khw/etcd-restore.json`: the restore under way, so that running it again resumes it. */
export interface RestoreRecord {
  restoreId: string;
  sha256: string;
  file: string;
  startedAt: string;
  completed: boolean;
}

export function readRestoreRecord(path: string): RestoreRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, "utf8")) as RestoreRecord;
    return typeof r.restoreId === "string" && typeof r.sha256 === "string" ? r : undefined;
  } catch {
    return undefined;
  }
}

export function writeRestoreRecord(path: string, record: RestoreRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

/** One line per step, as `--dry-run` prints it (the argv and script arguments are the ones run). */
export function describePlan(plan: EtcdRestorePlan): string[] {
  const lines: string[] = [];
  plan.phases.forEach((p, i) => {
    lines.push(`${i + 1}. ${p.name}: ${p.description}`);
    for (const s of p.steps) lines.push(`   ${s.host}: ${describeStep(s)}`);
  });
  return lines;
}

function describeStep(s: RestoreStep): string {
  switch (s.kind) {
    case "upload":
      return `upload the snapshot to ${s.path} (mode ${s.mode.toString(8).padStart(4, "0")})`;
    case "exec":
      return s.argv.join(" ");
    case "shell":
      return `${s.what}\n      sh -c <restore script> ${s.args.map((a) => JSON.stringify(a)).join(" ")}`;
    case "wait":
      return `until ${s.until.kind === "ok" ? "it answers ok" : "every endpoint is healthy"} (at most ${s.timeoutSeconds} s): ${s.argv[0] === "sh" ? `${s.what} (sh -c <script> ${s.argv.slice(4).join(" ")})` : s.argv.join(" ")}`;
  }
}

export interface RestoreProgress {
  phase(p: RestorePhase, index: number, total: number): void;
  step(host: string, line: string): void;
}

/** Runs the plan: each phase on its hosts at once; the first phase with a failed host stops the run. */
export async function carryOutRestore(
  cluster: Cluster,
  plan: EtcdRestorePlan,
  hosts: Hosts,
  snapshotBytes: Uint8Array,
  progress: RestoreProgress,
): Promise<{ snapshot?: SnapshotStatus }> {
  const sleep = currentSeams().sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let snapshot: SnapshotStatus | undefined;
  for (const [i, phase] of plan.phases.entries()) {
    progress.phase(phase, i, plan.phases.length);
    const byHost = new Map<string, RestoreStep[]>();
    for (const s of phase.steps) byHost.set(s.host, [...(byHost.get(s.host) ?? []), s]);
    const results = await fanOut(
      [...byHost.keys()].map((name) => ({ name })),
      async ({ name }) => {
        const node = cluster.nodes.find((n) => n.name === name)!;
        const t = hosts.target(node);
        const ex = hosts.executor;
        for (const s of byHost.get(name)!) {
          switch (s.kind) {
            case "upload": {
              const r = await ex.upload(t, {
                path: s.path,
                content: snapshotBytes,
                mode: s.mode,
                sudo: true,
              });
              progress.step(name, `${r.changed ? "uploaded" : "already there:"} ${s.path} (${r.size} bytes)`);
              break;
            }
            case "exec": {
              const r = await ex.exec(t, s.argv, { sudo: true, timeoutMs: s.timeoutSeconds * 1000 });
              if (phase.name === "verify") {
                const st = parseSnapshotStatus(r.stdout);
                snapshot ??= st;
                progress.step(name, `snapshot ok: revision ${st.revision}, ${st.totalKey} keys`);
              } else progress.step(name, s.what);
              break;
            }
            case "shell": {
              const r = await ex.shell(t, s.script, {
                sudo: true,
                args: s.args,
                timeoutMs: s.timeoutSeconds * 1000,
              });
              progress.step(name, r.stdout.trim().split("\n").at(-1) || s.what);
              break;
            }
            case "wait": {
              const deadline = Date.now() + s.timeoutSeconds * 1000;
              let last = "";
              for (;;) {
                const r = await ex.exec(t, s.argv, { sudo: true, check: false, timeoutMs: 30_000 });
                last = `${r.stdout}${r.stderr}`.trim();
                if (waitConditionMet(s.until, r.stdout)) break;
                if (Date.now() > deadline)
                  throw new Error(
                    `${s.what}: not ready after ${s.timeoutSeconds} s: ${last.split("\n").slice(-3).join(" | ") || "no answer"}`,
                  );
                await sleep(2000);
              }
              progress.step(name, `${s.what}: ok`);
              break;
            }
          }
        }
      },
    );
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) {
      const before = plan.phases.findIndex((p) => p.name === "stop-control-plane") > i;
      throw new CliError(
        "RESTORE_FAILED",
        `[${phase.name}] ${failed
          .map((f) => `${f.host}: ${f.ok ? "" : oneLine(describeError(f.error).message)}`)
          .join("; ")}${before ? "; nothing was stopped or changed" : ""}`,
        before
          ? "fix the cause above and run the same command again"
          : `fix the cause above and run the same \`khw etcd snapshot restore\` again: it resumes restore ${plan.restoreId} (the data already restored is kept as is)`,
        EXIT.failure,
      );
    }
  }
  return snapshot ? { snapshot } : {};
}

/** A remote error's lines (command, then its stderr) on one line. */
function oneLine(message: string): string {
  return message
    .replace(/^\[[^\]\s]+\]\s*/, "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .join(" ");
}

/** A path as the user would type it from `cwd`. */
export function shownPath(cwd: string, path: string): string {
  const r = relative(cwd, path);
  return r && !r.startsWith("..") ? r : path;
}
