// The etcd day-2 data: parsers checked on output captured from etcdctl/etcdutl v3.6.16 AND on the live output
// of the pinned etcd (a one-member etcd on loopback, plain HTTP: only the TLS flags differ from the
// members'), and the restore plan's per-member script run for real with the pinned etcdutl on a real
// snapshot — twice, to show a re-run converges — then the restored data dir served by a real etcd.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pinnedBinaries, prerequisiteSkip } from "@khw/test-kit/pinned";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BINARY_PATHS,
  ETCD_CLIENT_SERVICES,
  ETCD_RESTORE_SCRIPT,
  etcdClusterStatus,
  etcdctlArgv,
  etcdIdHex,
  etcdRestorePlan,
  LEASES_RENEWED_SCRIPT,
  PATHS,
  PKI_PATHS,
  parseEndpointHealth,
  parseEndpointStatus,
  parseMemberList,
  parseSnapshotStatus,
  UnitsError,
  waitConditionMet,
} from "../src/index";
import { defaultCluster, unusualCluster } from "./_fixtures";

// Captured from etcdctl v3.6.16 (`-w json`): IDs are uint64 JSON numbers, beyond a double's 53 bits.
const STATUS_JSON =
  '[{"Endpoint":"https://192.168.56.11:2379","Status":{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"revision":2,"raft_term":2},"version":"3.6.16","dbSize":20480,"leader":13668033151171901709,"raftIndex":5,"raftTerm":2,"raftAppliedIndex":5,"dbSizeInUse":16384,"storageVersion":"3.6.0","dbSizeQuota":2147483648,"downgradeInfo":{}}}]';
// etcdctl 3.6.16 with one endpoint down: it repeats the last good entry instead of the missing one.
const STATUS_ONE_DOWN_JSON = `[${STATUS_JSON.slice(1, -1)},${STATUS_JSON.slice(1, -1)}]`;
const HEALTH_ONE_DOWN_JSON =
  '[{"endpoint":"https://192.168.56.11:2379","health":true,"took":"2.639662ms"},{"endpoint":"https://192.168.56.12:2379","health":false,"took":"2.000406358s","error":"context deadline exceeded"}]';
const MEMBERS_JSON =
  '{"header":{"cluster_id":15118495548433857066,"member_id":13668033151171901709,"raft_term":2},"members":[{"ID":13668033151171901709,"name":"m1","peerURLs":["http://127.0.0.1:23801"],"clientURLs":["http://127.0.0.1:23791"]}]}';
const SNAPSHOT_STATUS_JSON =
  '{"hash":2815742250,"revision":2,"totalKey":1,"totalSize":20480,"version":"3.6.0"}';

describe("parsers (etcdctl/etcdutl v3.6.16 output)", () => {
  it("keeps every bit of the uint64 IDs (the same hex etcdctl --hex prints for member list)", () => {
    // `etcdctl member list -w json --hex` printed "bdae9bbc11dd390d" for this member.
    expect(parseMemberList(MEMBERS_JSON)[0]).toEqual({
      id: "bdae9bbc11dd390d",
      name: "m1",
      peerURLs: ["http://127.0.0.1:23801"],
      clientURLs: ["http://127.0.0.1:23791"],
      isLearner: false,
    });
    expect(etcdIdHex("15118495548433857066")).toBe("d1cfaf999eb97a2a");
    // the naive JSON.parse would round the ID: show that the parser did not
    expect((JSON.parse(MEMBERS_JSON) as { members: { ID: number }[] }).members[0]!.ID.toString(16)).not.toBe(
      "bdae9bbc11dd390d",
    );
  });

  it("reads endpoint status, health and snapshot status", () => {
    expect(parseEndpointStatus(STATUS_JSON)).toEqual([
      {
        endpoint: "https://192.168.56.11:2379",
        clusterId: "d1cfaf999eb97a2a",
        memberId: "bdae9bbc11dd390d",
        leaderId: "bdae9bbc11dd390d",
        revision: 2,
        raftTerm: 2,
        raftIndex: 5,
        dbSize: 20480,
        dbSizeInUse: 16384,
        version: "3.6.16",
        isLearner: false,
        errors: [],
      },
    ]);
    expect(parseEndpointStatus(STATUS_ONE_DOWN_JSON)).toHaveLength(1);
    expect(parseEndpointHealth(HEALTH_ONE_DOWN_JSON).map((h) => [h.health, h.error])).toEqual([
      [true, undefined],
      [false, "context deadline exceeded"],
    ]);
    const logs = '{"level":"info","msg":"x"}\n';
    expect(parseSnapshotStatus(`${logs}${SNAPSHOT_STATUS_JSON}\n`)).toEqual({
      hash: 2815742250,
      revision: 2,
      totalKey: 1,
      totalSize: 20480,
      version: "3.6.0",
    });
  });

  it("rejects what is not etcdctl's JSON with an error naming the command", () => {
    expect(() => parseEndpointStatus("Error: context deadline exceeded")).toThrow(/etcdctl endpoint status/);
    expect(() => parseSnapshotStatus("Error: file size too small 5000")).toThrow(UnitsError);
    expect(() => parseMemberList("{}")).toThrow(/member list/);
  });
});

describe("etcdClusterStatus", () => {
  const cluster = defaultCluster();
  const [m1, m2] = cluster.etcd.members;
  const statusOf = (endpoint: string, member: string, leader: string, revision: number) =>
    STATUS_JSON.replace("https://192.168.56.11:2379", endpoint)
      .replace('"member_id":13668033151171901709', `"member_id":${member}`)
      .replace('"leader":13668033151171901709', `"leader":${leader}`)
      .replace('"revision":2', `"revision":${revision}`);
  const healthOf = (endpoint: string) => `[{"endpoint":"${endpoint}","health":true,"took":"3ms"}]`;

  it("two members that answer, one leader: ok", () => {
    const s = etcdClusterStatus(cluster.etcd.members, {
      [m1!.name]: { status: statusOf(m1!.clientURL, "1", "2", 7), health: healthOf(m1!.clientURL) },
      [m2!.name]: { status: statusOf(m2!.clientURL, "2", "2", 7), health: healthOf(m2!.clientURL) },
    });
    expect(s.problems).toEqual([]);
    expect(s.ok).toBe(true);
    expect(s.leader).toBe(m2!.name);
    expect(s.members.map((m) => [m.name, m.id, m.isLeader, m.revision, m.healthy])).toEqual([
      [m1!.name, "0000000000000001", false, 7, true],
      [m2!.name, "0000000000000002", true, 7, true],
    ]);
  });

  it("a member that does not answer is shown as such, and the status is not ok", () => {
    const s = etcdClusterStatus(cluster.etcd.members, {
      [m1!.name]: { status: statusOf(m1!.clientURL, "1", "1", 7), health: healthOf(m1!.clientURL) },
      [m2!.name]: { error: "context deadline exceeded" },
    });
    expect(s.ok).toBe(false);
    expect(s.leader).toBe(m1!.name);
    expect(s.members[1]).toMatchObject({ name: m2!.name, healthy: false, id: undefined });
    expect(s.problems).toEqual([`${m2!.name} (${m2!.clientURL}): context deadline exceeded`]);
  });

  it("no leader, and a member the spec does not name, are problems", () => {
    const s = etcdClusterStatus(
      cluster.etcd.members,
      {
        [m1!.name]: { status: statusOf(m1!.clientURL, "1", "0", 7), health: healthOf(m1!.clientURL) },
        [m2!.name]: { status: statusOf(m2!.clientURL, "2", "0", 7), health: healthOf(m2!.clientURL) },
      },
      MEMBERS_JSON,
    );
    expect(s.ok).toBe(false);
    expect(s.problems).toEqual([
      "no member is the leader (no quorum?)",
      "etcd has a member the spec does not name: m1 bdae9bbc11dd390d http://127.0.0.1:23801",
    ]);
  });
});

describe("etcdRestorePlan", () => {
  const sha = "a".repeat(64);

  it("orders the phases: nothing stops before every member has read the snapshot", () => {
    const plan = etcdRestorePlan(defaultCluster(), { restoreId: "20261202T140000Z", snapshotSha256: sha });
    expect(plan.phases.map((p) => p.name)).toEqual([
      "upload",
      "verify",
      "stop-control-plane",
      "stop-etcd",
      "restore",
      "start-etcd",
      "wait-etcd",
      "start-control-plane",
      "wait-apiserver",
      "wait-controllers",
      "clean-up",
    ]);
    expect(plan.initialClusterToken).toBe("etcd-kubernetes-the-hard-way-restore-20261202t140000z");
    expect(plan.initialClusterToken).not.toBe(defaultCluster().etcd.initialClusterToken);
    expect(plan.keptDataDirs).toEqual({
      "master-1": "/var/lib/etcd.before-restore-20261202t140000z",
      "master-2": "/var/lib/etcd.before-restore-20261202t140000z",
    });
    const stop = plan.phases.find((p) => p.name === "stop-control-plane")!.steps;
    expect(stop.map((s) => (s.kind === "exec" ? s.argv : []))).toEqual([
      ["systemctl", "stop", "kube-scheduler", "kube-controller-manager", "kube-apiserver"],
      ["systemctl", "stop", "kube-scheduler", "kube-controller-manager", "kube-apiserver"],
    ]);
    const start = plan.phases.find((p) => p.name === "start-control-plane")!.steps[0]!;
    expect(start.kind === "exec" && start.argv).toEqual(["systemctl", "start", ...ETCD_CLIENT_SERVICES]);
  });

  it("gives etcdutl each member's name and peer URL and the spec's initial cluster (3 members)", () => {
    const cluster = unusualCluster();
    const plan = etcdRestorePlan(cluster, { restoreId: "r1", snapshotSha256: sha });
    const restore = plan.phases.find((p) => p.name === "restore")!.steps;
    expect(restore).toHaveLength(cluster.etcd.members.length);
    for (const [i, m] of cluster.etcd.members.entries()) {
      const s = restore[i]!;
      expect(s.kind).toBe("shell");
      if (s.kind !== "shell") continue;
      expect(s.host).toBe(m.name);
      expect(s.args).toEqual([
        "/var/lib/khw/etcd-restore/r1.db",
        PATHS.etcdDataDir,
        "/var/lib/etcd.restore-r1",
        "/var/lib/etcd.before-restore-r1",
        m.name,
        cluster.etcd.initialCluster,
        m.peerURL,
        plan.initialClusterToken,
      ]);
    }
    const wait = plan.phases.find((p) => p.name === "wait-etcd")!.steps[0]!;
    expect(wait.kind === "wait" && wait.argv).toEqual(
      etcdctlArgv(cluster.etcd.clientURLs, ["endpoint", "health", "-w", "json"]),
    );
  });

  it("refuses an id or a hash that could not name a directory safely", () => {
    expect(() => etcdRestorePlan(defaultCluster(), { restoreId: "../x", snapshotSha256: sha })).toThrow(
      /restoreId/,
    );
    expect(() => etcdRestorePlan(defaultCluster(), { restoreId: "x", snapshotSha256: "abc" })).toThrow(
      /snapshotSha256/,
    );
  });

  it("wait conditions: every endpoint healthy; /readyz ok", () => {
    const endpoints = ["https://192.168.56.11:2379", "https://192.168.56.12:2379"];
    expect(waitConditionMet({ kind: "etcd-healthy", endpoints }, HEALTH_ONE_DOWN_JSON)).toBe(false);
    expect(
      waitConditionMet({ kind: "etcd-healthy", endpoints }, HEALTH_ONE_DOWN_JSON.replace("false", "true")),
    ).toBe(true);
    expect(waitConditionMet({ kind: "etcd-healthy", endpoints }, "Error: unhealthy cluster")).toBe(false);
    expect(waitConditionMet({ kind: "ok" }, "ok")).toBe(true);
    expect(waitConditionMet({ kind: "ok" }, "[-]etcd failed: reason withheld\nreadyz check failed")).toBe(
      false,
    );
  });

  it("the scripts parse in a real POSIX shell", () => {
    for (const script of [ETCD_RESTORE_SCRIPT, LEASES_RENEWED_SCRIPT]) {
      const r = spawnSync("sh", ["-n", "-c", script], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
    }
  });

  it("etcdctl gets the unit's TLS material", () => {
    expect(etcdctlArgv(["https://a:2379"], ["member", "list"])).toEqual([
      BINARY_PATHS.etcdctl,
      "--endpoints=https://a:2379",
      `--cacert=${PKI_PATHS.etcdCa}`,
      `--cert=${PKI_PATHS.etcdServer}`,
      `--key=${PKI_PATHS.etcdServerKey}`,
      "--command-timeout=5s",
      "--dial-timeout=3s",
      "member",
      "list",
    ]);
  });
});

// ------------------------------------------------------------------------------------------------
// real etcd

const pinned = pinnedBinaries();
const ETCDUTL = join(dirname(pinned.etcdctl), "etcdutl");
const missing = [
  ...pinned.missing,
  ...(existsSync(ETCDUTL) || pinned.missing.length ? [] : [`no ${ETCDUTL}`]),
];
const skip = prerequisiteSkip(missing);

describe.skipIf(skip)("with the pinned etcd, etcdctl and etcdutl", () => {
  let dir: string;
  let etcd: ChildProcess | undefined;
  const client = "http://127.0.0.1:23879";
  const peer = "http://127.0.0.1:23880";
  const ctl = (...args: string[]) =>
    spawnSync(pinned.etcdctl, [`--endpoints=${client}`, ...args], { encoding: "utf8", timeout: 30_000 });

  async function startEtcd(dataDir: string, token: string): Promise<void> {
    const log = openSync(join(dir, "etcd.log"), "a");
    etcd = spawn(
      pinned.etcd,
      [
        "--name=m1",
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=m1=${peer}`,
        `--initial-cluster-token=${token}`,
      ],
      { stdio: ["ignore", log, log] },
    );
    for (let i = 0; i < 100; i++) {
      if (ctl("endpoint", "health").status === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd did not start: ${readFileSync(join(dir, "etcd.log"), "utf8").slice(-2000)}`);
  }
  async function stopEtcd(): Promise<void> {
    const child = etcd;
    etcd = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "khw-etcd-ops-"));
    await startEtcd(join(dir, "data"), "etcd-old");
  });
  afterAll(async () => {
    await stopEtcd();
    rmSync(dir, { recursive: true, force: true });
  });

  it("parses live endpoint status, health and member list", () => {
    expect(ctl("put", "/k", "v1").status).toBe(0);
    const status = parseEndpointStatus(ctl("endpoint", "status", "-w", "json").stdout);
    const hex = parseMemberList(ctl("member", "list", "-w", "json", "--hex").stdout)[0]!.id;
    const members = parseMemberList(ctl("member", "list", "-w", "json").stdout);
    expect(members[0]!.id).toBe(hex);
    expect(status[0]!.memberId).toBe(hex);
    expect(status[0]!.leaderId).toBe(hex);
    expect(status[0]!.revision).toBeGreaterThanOrEqual(2);
    expect(parseEndpointHealth(ctl("endpoint", "health", "-w", "json").stdout)[0]!.health).toBe(true);
  });

  it("the restore script restores a real snapshot, converges on a re-run, and the data dir serves it", async () => {
    const snap = join(dir, "s.db");
    expect(ctl("snapshot", "save", snap).status).toBe(0);
    const st = parseSnapshotStatus(
      spawnSync(ETCDUTL, ["snapshot", "status", snap, "-w", "json"], { encoding: "utf8" }).stdout,
    );
    expect(st.totalKey).toBeGreaterThanOrEqual(1);
    expect(ctl("put", "/k", "v2-after-snapshot").status).toBe(0);
    await stopEtcd();

    const plan = etcdRestorePlan(defaultCluster(), { restoreId: "t1", snapshotSha256: "0".repeat(64) });
    const step = plan.phases.find((p) => p.name === "restore")!.steps[0]!;
    if (step.kind !== "shell") throw new Error("restore step is not a shell step");
    // only the etcdutl path and the directories are this machine's; the peer URLs are the test etcd's
    const script = ETCD_RESTORE_SCRIPT.replace(BINARY_PATHS.etcdutl, ETCDUTL);
    const data = join(dir, "data");
    const args = [
      snap,
      data,
      `${data}.restore-t1`,
      `${data}.before-restore-t1`,
      "m1",
      `m1=${peer}`,
      peer,
      "tok-new",
    ];
    const run = () => spawnSync("sh", ["-c", script, "sh", ...args], { encoding: "utf8", timeout: 60_000 });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain(`restored (previous data kept in ${data}.before-restore-t1)`);
    expect(statSync(data).mode & 0o777).toBe(0o700);
    expect(existsSync(`${data}.before-restore-t1/member`)).toBe(true);
    expect(existsSync(`${data}.restore-t1`)).toBe(false);
    const second = run();
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain("in place");

    await startEtcd(data, "tok-new");
    expect(ctl("get", "/k", "--print-value-only").stdout.trim()).toBe("v1");
  });

  it("a corrupt snapshot fails the script and leaves the data dir alone", () => {
    const bad = join(dir, "bad.db");
    writeFileSync(bad, readFileSync(join(dir, "s.db")).subarray(0, 5000));
    const data = join(dir, "data2");
    const script = ETCD_RESTORE_SCRIPT.replace(BINARY_PATHS.etcdutl, ETCDUTL);
    const r = spawnSync(
      "sh",
      ["-c", script, "sh", bad, data, `${data}.restore-x`, `${data}.before-x`, "m1", `m1=${peer}`, peer, "t"],
      { encoding: "utf8" },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/snapshot|size|file/i);
    expect(existsSync(`${data}.restore-x`)).toBe(false);
    expect(existsSync(`${data}.before-x`)).toBe(false);
  });
});
