// khw etcd status / snapshot save / snapshot restore through the RecordingExecutor: the exact commands per
// host, their order, and the error paths (a member down, an unreachable host, a corrupt snapshot file, an
// interrupted restore run again). Every recorded shell script also parses in a real `sh -n`. The lab e2e
// (e2e/test/lifecycle-etcd.e2e.test.ts) runs the same commands on real hosts.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CommandOp, type RecordedOp, RecordingExecutor } from "@khw/remote-exec";
import { ETCD_RESTORE_SCRIPT, LEASES_RENEWED_SCRIPT } from "@khw/systemd-units";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SAVE_SCRIPT, verifySnapshotBytes } from "../src/day2/etcd";
import { setConfirmForTests } from "../src/day2/reset";
import { resetSeamsForTests, setSeamsForTests } from "../src/workdir";
import { khw, tempDir } from "./helpers";

const M1 = { name: "master-1", url: "https://192.168.56.11:2379", id: "1" };
const M2 = { name: "master-2", url: "https://192.168.56.12:2379", id: "2" };
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

let dir: string;
let cleanup: () => void;
let rec: RecordingExecutor;

/** A file shaped like etcdctl's snapshot: a body of 512-byte pages, then the SHA-256 of the body. */
function snapshotBytes(pages = 4): Buffer {
  const body = Buffer.alloc(512 * pages, 7);
  return Buffer.concat([body, createHash("sha256").update(body).digest()]);
}

const argvOf = (op: CommandOp) => (op.kind === "exec" ? op.argv : []);
const isEtcdctl = (op: CommandOp, ...words: string[]) => {
  const a = argvOf(op);
  return a[0] === "/usr/local/bin/etcdctl" && words.every((w) => a.includes(w));
};
const endpointOf = (op: CommandOp) =>
  argvOf(op)
    .find((a) => a.startsWith("--endpoints="))!
    .slice(12);

/** Answers etcdctl like a 2-member cluster whose leader is `leader`; members in `down` do not answer. */
function etcdHosts(r: RecordingExecutor, o: { leader?: string; down?: string[] } = {}): RecordingExecutor {
  const leader = o.leader ?? M1.id;
  const down = new Set(o.down ?? []);
  const member = (url: string) => [M1, M2].find((m) => m.url === url)!;
  return r
    .respond(
      (op) => isEtcdctl(op, "endpoint", "status"),
      (op) => {
        const m = member(endpointOf(op));
        if (down.has(m.name))
          return {
            code: 1,
            stderr: `{"level":"warn","msg":"retrying"}\nFailed to get the status of endpoint ${m.url} (context deadline exceeded)\n`,
          };
        return {
          stdout: `[{"Endpoint":"${m.url}","Status":{"header":{"cluster_id":15118495548433857066,"member_id":${m.id},"revision":42,"raft_term":3},"version":"3.6.16","dbSize":2097152,"leader":${leader},"raftIndex":99,"raftTerm":3,"raftAppliedIndex":99,"dbSizeInUse":1048576}}]\n`,
        };
      },
    )
    .respond(
      (op) => isEtcdctl(op, "endpoint", "health"),
      (op) => {
        const eps = endpointOf(op).split(",");
        const items = eps.map((url) =>
          down.has(member(url).name)
            ? `{"endpoint":"${url}","health":false,"took":"3s","error":"context deadline exceeded"}`
            : `{"endpoint":"${url}","health":true,"took":"3ms"}`,
        );
        return { code: items.some((i) => i.includes("false")) ? 1 : 0, stdout: `[${items.join(",")}]\n` };
      },
    )
    .respond(
      (op) => isEtcdctl(op, "member", "list"),
      () => ({
        stdout: `{"header":{"cluster_id":15118495548433857066},"members":[{"ID":${M1.id},"name":"master-1","peerURLs":["https://192.168.56.11:2380"]},{"ID":${M2.id},"name":"master-2","peerURLs":["https://192.168.56.12:2380"]}]}\n`,
      }),
    );
}

const STATUS_JSON = '{"hash":2815742250,"revision":42,"totalKey":321,"totalSize":2097152,"version":"3.6.0"}';

/** systemctl start/stop, etcdutl, the restore script, readyz, rm: as on healthy hosts. */
function restoreHosts(r: RecordingExecutor, o: { failStartEtcd?: boolean } = {}): RecordingExecutor {
  return r
    .respond((op) => argvOf(op)[0] === "/usr/local/bin/etcdutl", { stdout: `${STATUS_JSON}\n` })
    .respond(
      (op) => argvOf(op)[0] === "systemctl" && argvOf(op)[1] === "start" && argvOf(op)[2] === "etcd",
      () => (o.failStartEtcd ? { code: 1, stderr: "Job for etcd.service failed" } : {}),
    )
    .respond((op) => argvOf(op)[0] === "systemctl", {})
    .respond(
      (op) => op.kind === "shell" && op.script === ETCD_RESTORE_SCRIPT,
      (op) => ({
        stdout: `restored (previous data kept in ${(op as Extract<CommandOp, { kind: "shell" }>).args[3]})\n`,
      }),
    )
    .respond((op) => argvOf(op)[0] === "/usr/local/bin/kubectl", { stdout: "ok" })
    .respond((op) => argvOf(op)[0] === "sh" && argvOf(op)[2] === LEASES_RENEWED_SCRIPT, { stdout: "ok\n" })
    .respond((op) => argvOf(op)[0] === "rm", {});
}

function use(r: RecordingExecutor) {
  rec = r;
  setSeamsForTests({
    executor: () => rec,
    now: () => new Date("2026-12-02T14:00:00.123Z"),
    sleep: async () => {},
  });
}

const commands = () => rec.ops.filter((o): o is CommandOp => o.kind === "exec" || o.kind === "shell");
const stops = () => commands().filter((o) => argvOf(o)[0] === "systemctl" && argvOf(o)[1] === "stop");
const uploads = () =>
  rec.ops.filter((o): o is Extract<RecordedOp, { kind: "upload" }> => o.kind === "upload");

function expectScriptsParse() {
  for (const op of commands()) {
    if (op.kind !== "shell") continue;
    const r = spawnSync("sh", ["-n", "-c", op.script], { encoding: "utf8" });
    expect(r.status, `sh -n failed for:\n${op.script}\n${r.stderr}`).toBe(0);
  }
}

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  use(etcdHosts(new RecordingExecutor()));
});
afterEach(() => {
  resetSeamsForTests();
  setConfirmForTests(undefined);
  cleanup();
});

describe("khw etcd status", () => {
  it("shows both members, one leader, and exits 0", async () => {
    const r = await khw(dir, ["etcd", "status"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+ENDPOINT\s+ID\s+LEADER\s+DB SIZE\s+REVISION\s+RAFT TERM\s+HEALTH$/);
    expect(lines[1]).toMatch(
      /^master-1\s+https:\/\/192\.168\.56\.11:2379\s+0000000000000001\s+yes\s+2\.1 MB\s+42\s+3\s+healthy$/,
    );
    expect(lines[2]).toMatch(/^master-2\s+.*\s+no\s+.*healthy$/);
    // the etcdctl calls run on the first control plane, with the etcd unit's TLS files
    expect(new Set(commands().map((o) => o.host))).toEqual(new Set(["master-1"]));
    expect(argvOf(commands()[0]!)).toContain("--cert=/etc/etcd/etcd-server.crt");
  });

  it("--json gives every field", async () => {
    const r = await khw(dir, ["etcd", "status", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as {
      ok: boolean;
      leader: string;
      from: string;
      members: Record<string, unknown>[];
    };
    expect(j).toMatchObject({ ok: true, leader: "master-1", from: "master-1" });
    expect(j.members[1]).toMatchObject({
      name: "master-2",
      endpoint: M2.url,
      id: "0000000000000002",
      isLeader: false,
      healthy: true,
      revision: 42,
      raftTerm: 3,
      dbSize: 2097152,
    });
  });

  it("a member that does not answer is shown as such, exit 1, no stack trace", async () => {
    use(etcdHosts(new RecordingExecutor(), { down: ["master-2"] }));
    const r = await khw(dir, ["etcd", "status"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^master-2\s+https:\/\/192\.168\.56\.12:2379\s+-\s+-\s+-\s+-\s+-\s+NOT ANSWERING$/m,
    );
    expect(r.stderr).toContain(
      `error: master-2 (${M2.url}): Failed to get the status of endpoint ${M2.url} (context deadline exceeded)`,
    );
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });

  it("the first control plane unreachable: etcdctl runs on the next one", async () => {
    use(etcdHosts(new RecordingExecutor({ unreachable: ["master-1"] })));
    const r = await khw(dir, ["etcd", "status", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, from: "master-2" });
  });

  it("no control plane reachable: every member shown as not answering, with why", async () => {
    use(etcdHosts(new RecordingExecutor({ unreachable: ["master-1", "master-2"] })));
    const r = await khw(dir, ["etcd", "status"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no control plane answered over SSH to run etcdctl");
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });
});

describe("khw etcd snapshot save", () => {
  const remote = "/var/lib/khw/etcd-snapshot-20261202T140000Z.db";
  beforeEach(() => {
    rec.respond(
      (op) => op.kind === "shell" && op.script === SAVE_SCRIPT,
      (op) => {
        rec.setFile(op.host, remote, snapshotBytes());
        return {};
      },
    );
    rec.respond((op) => argvOf(op)[0] === "/usr/local/bin/etcdutl", { stdout: `${STATUS_JSON}\n` });
    rec.respond((op) => argvOf(op)[0] === "rm", {});
  });

  it("takes it on a follower, copies it to backups/ (0600, git-ignored), removes the host's copy, prints the SHA-256", async () => {
    const r = await khw(dir, ["etcd", "snapshot", "save"]);
    expect(r.code, r.stderr).toBe(0);
    const file = join(dir, "backups", "etcd-20261202T140000Z.db");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const bytes = readFileSync(file);
    expect(verifySnapshotBytes(bytes)).toEqual({ ok: true });
    const sha = createHash("sha256").update(bytes).digest("hex");
    expect(r.stdout).toContain(`sha256    ${sha}`);
    expect(r.stdout).toMatch(/revision {2}42\nkeys {6}321\n/);
    expect(readFileSync(join(dir, "backups", ".gitignore"), "utf8")).toMatch(/^\*$/m);
    // master-1 leads: the snapshot comes from master-2, through its own endpoint only
    const save = commands().find((o) => o.kind === "shell" && o.script === SAVE_SCRIPT)! as Extract<
      CommandOp,
      { kind: "shell" }
    >;
    expect(save.host).toBe("master-2");
    expect(save.args).toContain(`--endpoints=${M2.url}`);
    expect(save.args[0]).toBe(remote);
    const ops = rec
      .opsFor("master-2")
      .map((o) =>
        o.kind === "download" ? `download ${o.path}` : o.kind === "exec" ? o.argv.join(" ") : o.kind,
      );
    expect(ops.slice(-3)).toEqual([
      `/usr/local/bin/etcdutl snapshot status ${remote} -w json`,
      `download ${remote}`,
      `rm -f -- ${remote} ${remote}.part`,
    ]);
    expectScriptsParse();
  });

  it("--json, to a given file", async () => {
    const r = await khw(dir, ["etcd", "snapshot", "save", "my.db", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ file: join(dir, "my.db"), member: "master-2", revision: 42, totalKey: 321 });
    expect(j["sha256"]).toBe(
      createHash("sha256")
        .update(readFileSync(join(dir, "my.db")))
        .digest("hex"),
    );
  });

  it("no healthy member: one error, nothing taken", async () => {
    use(etcdHosts(new RecordingExecutor(), { down: ["master-1", "master-2"] }));
    const r = await khw(dir, ["etcd", "snapshot", "save"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: no healthy etcd member to take a snapshot from: master-1/m);
    expect(existsSync(join(dir, "backups"))).toBe(false);
  });

  it("the host's copy is removed even when the copy fails", async () => {
    rec.respondFirst(
      (op) => op.kind === "shell" && op.script === SAVE_SCRIPT,
      () => ({}), // no file appears: the download fails
    );
    const r = await khw(dir, ["etcd", "snapshot", "save"]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(r.stderr).toMatch(/^error: master-2: download .* no such file/m);
    expect(commands().at(-1)!.kind === "exec" && argvOf(commands().at(-1)!)[0]).toBe("rm");
  });
});

describe("khw etcd snapshot restore", () => {
  let snap: string;
  beforeEach(() => {
    snap = join(dir, "snap.db");
    writeFileSync(snap, snapshotBytes());
    restoreHosts(rec);
  });

  it("a corrupt snapshot: one error naming the file, no host touched", async () => {
    const bytes = snapshotBytes();
    bytes[100] = 0; // flipped inside the body: the trailing hash no longer matches
    writeFileSync(snap, bytes);
    const r = await khw(dir, ["etcd", "snapshot", "restore", "snap.db", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("error:"))).toEqual([
      "error: snap.db is not a usable etcd snapshot: its integrity hash does not match its contents (the file is corrupt); nothing was stopped or changed",
    ]);
    expect(rec.ops).toEqual([]);
    writeFileSync(snap, snapshotBytes().subarray(0, 1500)); // truncated
    const t = await khw(dir, ["etcd", "snapshot", "restore", "snap.db", "--yes"]);
    expect(t.stderr).toContain("snap.db is not a usable etcd snapshot: it has no integrity hash");
    const m = await khw(dir, ["etcd", "snapshot", "restore", "missing.db", "--yes"]);
    expect(m.stderr).toContain("missing.db: cannot read the snapshot (ENOENT)");
    expect(rec.ops).toEqual([]);
  });

  it("--dry-run prints the plan and touches no host", async () => {
    const r = await khw(dir, ["etcd", "snapshot", "restore", "snap.db", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(rec.ops).toEqual([]);
    expect(r.stdout).toContain("5. restore: restore each member into a fresh data dir");
    expect(r.stdout).toContain(
      "master-2: systemctl stop kube-scheduler kube-controller-manager kube-apiserver",
    );
    const j = await khw(dir, ["etcd", "snapshot", "restore", "snap.db", "--dry-run", "--json"]);
    expect(JSON.parse(j.stdout)).toMatchObject({ restoreId: "20261202t140000z", phases: expect.any(Array) });
    expect(existsSync(join(dir, ".khw", "etcd-restore.json"))).toBe(false);
  });

  it("without --yes and no terminal: refuses, nothing done", async () => {
    const r = await khw(dir, ["etcd", "snapshot", "restore", "snap.db"]);
    expect(r.code).toBe(2);
    expect(rec.ops).toEqual([]);
    setConfirmForTests(async () => false);
    const n = await khw(dir, ["etcd", "snapshot", "restore", "snap.db"]);
    expect(n.code).toBe(1);
    expect(rec.ops).toEqual([]);
  });

  it("runs the phases in order: nothing stops before every member read the snapshot", async () => {
    const r = await khw(dir, ["etcd", "snapshot", "restore", "snap.db", "--yes"]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const seq = rec.ops
      .filter((o) => o.kind !== "close" && o.kind !== "connect")
      .map((o) =>
        o.kind === "upload"
          ? "upload"
          : o.kind === "shell"
            ? "restore"
            : o.kind === "exec"
              ? o.argv
                  .slice(0, 3)
                  .join(" ")
                  .replace(/^\/usr\/local\/bin\//, "")
              : o.kind,
      );
    const first = (s: string) => seq.findIndex((x) => x.startsWith(s));
    const last = (s: string) => seq.findLastIndex((x) => x.startsWith(s));
    expect(last("upload")).toBeLessThan(first("etcdutl snapshot status"));
    expect(last("etcdutl snapshot status")).toBeLessThan(first("systemctl stop kube-scheduler"));
    expect(last("systemctl stop kube-scheduler")).toBeLessThan(first("systemctl stop etcd"));
    expect(last("systemctl stop etcd")).toBeLessThan(first("restore"));
    expect(last("restore")).toBeLessThan(first("systemctl start etcd"));
    expect(last("systemctl start etcd")).toBeLessThan(first("etcdctl"));
    expect(last("etcdctl")).toBeLessThan(first("systemctl start kube-apiserver"));
    expect(last("systemctl start kube-apiserver")).toBeLessThan(first("kubectl"));
    expect(last("kubectl")).toBeLessThan(first("sh -c"));
    expect(last("sh -c")).toBeLessThan(first("rm"));
    expect(uploads().map((u) => [u.host, u.path, u.mode, u.size])).toEqual([
      ["master-1", "/var/lib/khw/etcd-restore/20261202t140000z.db", 0o600, 2080],
      ["master-2", "/var/lib/khw/etcd-restore/20261202t140000z.db", 0o600, 2080],
    ]);
    expect(r.stdout).toContain(
      "[restore] master-1: the previous data dir is kept in /var/lib/etcd.before-restore-20261202t140000z",
    );
    expect(r.stdout).toContain("✓ restored etcd on 2 member(s) from snap.db (revision 42, 321 keys)");
    expectScriptsParse();
  });

  it("a member down: the upload fails, one error, nothing stopped", async () => {
    use(restoreHosts(etcdHosts(new RecordingExecutor({ unreachable: ["master-2"] }))));
    const r = await khw(dir, ["etcd", "snapshot", "restore", "snap.db", "--yes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: \[upload\] master-2: .*; nothing was stopped or changed$/m);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(stops()).toEqual([]);
  });

  it("a failure after the stop is resumed by running the same command again (same restore id)", async () => {
    use(restoreHosts(etcdHosts(new RecordingExecutor()), { failStartEtcd: true }));
    writeFileSync(snap, snapshotBytes());
    const r1 = await khw(dir, ["etcd", "snapshot", "restore", "snap.db", "--yes"]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/^error: \[start-etcd\] master-1: .*Job for etcd.service failed/m);
    expect(r1.stderr).toContain("it resumes restore 20261202t140000z");
    // an hour later, the same file: the same restore (directories, token) is carried on
    use(restoreHosts(etcdHosts(new RecordingExecutor())));
    setSeamsForTests({
      executor: () => rec,
      now: () => new Date("2026-12-02T15:00:00Z"),
      sleep: async () => {},
    });
    const r2 = await khw(dir, ["etcd", "snapshot", "restore", "snap.db", "--yes"]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toContain("resuming restore 20261202t140000z");
    expect(uploads()[0]!.path).toBe("/var/lib/khw/etcd-restore/20261202t140000z.db");
    // once complete, the next restore is a new one
    use(restoreHosts(etcdHosts(new RecordingExecutor())));
    setSeamsForTests({
      executor: () => rec,
      now: () => new Date("2026-12-02T16:00:00Z"),
      sleep: async () => {},
    });
    const r3 = await khw(dir, ["etcd", "snapshot", "restore", "snap.db", "--yes"]);
    expect(r3.code, r3.stderr).toBe(0);
    expect(r3.stdout).toContain("starting restore 20261202t160000z");
  });
});
