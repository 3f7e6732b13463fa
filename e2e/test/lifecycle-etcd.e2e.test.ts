/**
 * etcd backup and restore on the default lab cluster (`khw lab up` → `khw up`): `khw etcd status` (2 members,
 * one leader, same revision); a namespace with a ConfigMap, `khw etcd snapshot save` (0600, the printed
 * SHA-256 is the file's), the namespace deleted, `khw etcd snapshot restore --dry-run` (no unit restarted,
 * nothing on the hosts), then the restore interrupted with SIGINT in its restore phase and run again (it
 * resumes and converges): the ConfigMap is back, etcd healthy on both members, the old data dirs kept where
 * it said, `khw smoke` passes. Named, bounded, timed scenarios; a table of times at the end.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { endSuite, type Lab, labSkipReason, spawnKhw, startLab } from "./_lab";
import { scenario } from "./_scenario";
import { khw, onHost, until } from "./_support";

const SUITE = "lifecycle-etcd";
const unavailable = labSkipReason(SUITE);
let lab: Lab;
let release: () => void = () => {};
const STACK_FRAME = /^\s+at .+(\(|\s)\/?[^\s]+:\d+:\d+\)?$/m;
const VALUE = `kept-${process.pid}`;
let snapshotFile = "";

interface Member {
  name: string;
  endpoint: string;
  id?: string;
  isLeader: boolean;
  healthy: boolean;
  revision?: number;
}
interface Status {
  ok: boolean;
  leader?: string;
  members: Member[];
}

async function etcdStatus(): Promise<{ code: number; status: Status; stderr: string }> {
  const r = await khw(lab.workdir, ["etcd", "status", "--json"]);
  expect(r.stderr).not.toMatch(STACK_FRAME);
  return { code: r.code, status: JSON.parse(r.stdout) as Status, stderr: r.stderr };
}

describe.skipIf(unavailable !== undefined)("etcd backup and restore on a lab of real hosts", () => {
  beforeAll(async () => {
    const started = await startLab({ suite: SUITE });
    lab = started.lab;
    release = started.release;
  }, 40 * 60_000);

  afterAll(() => endSuite(SUITE, lab, release), 5 * 60_000);

  scenario(SUITE, "khw etcd status: 2 members, exactly one leader, the same revision", 3, async () => {
    const { code, status } = await etcdStatus();
    expect(code).toBe(0);
    expect(status.ok).toBe(true);
    expect(status.members.map((m) => m.name)).toEqual(lab.hosts.masters);
    expect(status.members.filter((m) => m.isLeader)).toHaveLength(1);
    expect(status.members.every((m) => m.healthy && /^[0-9a-f]{16}$/.test(m.id ?? ""))).toBe(true);
    // the apiservers write all the time (leases): ask again until both answer with the same revision
    const same = await until(
      "both members at the same revision",
      async () => {
        const s = (await etcdStatus()).status;
        const revs = new Set(s.members.map((m) => m.revision));
        return revs.size === 1 && !revs.has(undefined) ? s : undefined;
      },
      60,
    );
    console.log(
      `[e2e] ${SUITE}: revision ${same.members[0]!.revision} on ${same.members.map((m) => m.name).join(", ")}`,
    );
    const text = await khw(lab.workdir, ["etcd", "status"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^NAME\s+ENDPOINT\s+ID\s+LEADER/);
  });

  scenario(
    SUITE,
    "snapshot save: 0600, the printed SHA-256 is the file's; then the namespace is deleted",
    5,
    async () => {
      expect((await lab.kubectl("create", "namespace", "khw-backup")).code).toBe(0);
      const cm = await lab.kubectl(
        "-n",
        "khw-backup",
        "create",
        "configmap",
        "kept",
        `--from-literal=value=${VALUE}`,
      );
      expect(cm.code, cm.stderr).toBe(0);
      const r = await khw(lab.workdir, ["etcd", "snapshot", "save"]);
      console.log(`[e2e] ${SUITE}: snapshot save (${r.seconds.toFixed(1)} s):\n${r.stdout}${r.stderr}`);
      expect(r.code, r.stderr).toBe(0);
      const file = /^✓ (\S+):/m.exec(r.stdout)?.[1];
      expect(file, r.stdout).toMatch(/^backups\/etcd-\d{8}T\d{6}Z\.db$/);
      snapshotFile = file!;
      const abs = `${lab.workdir}/${file}`;
      expect(statSync(abs).mode & 0o777).toBe(0o600);
      const sha = createHash("sha256").update(readFileSync(abs)).digest("hex");
      expect(r.stdout).toContain(`sha256    ${sha}`);
      expect(readFileSync(`${lab.workdir}/backups/.gitignore`, "utf8")).toMatch(/^\*$/m);
      // nothing left on the member that took it
      for (const host of lab.hosts.masters) {
        const left = await onHost(lab.workdir, host, "ls /var/lib/khw/ | grep etcd-snapshot || true");
        expect(left.stdout.trim(), host).toBe("");
      }
      expect(
        (await lab.kubectl("delete", "namespace", "khw-backup", "--wait=true", "--timeout=120s")).code,
      ).toBe(0);
      await until(
        "namespace khw-backup gone",
        async () => ((await lab.kubectl("get", "namespace", "khw-backup")).code !== 0 ? true : undefined),
        120,
      );
    },
  );

  scenario(SUITE, "restore --dry-run changes nothing on the hosts", 3, async () => {
    expect(snapshotFile).not.toBe("");
    const before = await lab.startTimes();
    const r = await khw(lab.workdir, ["etcd", "snapshot", "restore", snapshotFile, "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("dry run: nothing is changed");
    expect(r.stdout).toMatch(/5\. restore: .*\n.*master-1: etcdutl snapshot restore --name=master-1/);
    expect(await lab.startTimes()).toEqual(before);
    for (const host of lab.hosts.masters) {
      const r2 = await onHost(
        lab.workdir,
        host,
        "ls -d /var/lib/khw/etcd-restore /var/lib/etcd.* 2>/dev/null || true",
      );
      expect(r2.stdout.trim(), host).toBe("");
    }
  });

  scenario(
    SUITE,
    "restore: interrupted (SIGINT) in its restore phase, run again, the ConfigMap is back; etcd healthy, smoke passes",
    15,
    async () => {
      expect(snapshotFile).not.toBe("");
      // 1. cut in the middle: after the control plane and etcd were stopped
      const p = spawnKhw(lab.workdir, ["etcd", "snapshot", "restore", snapshotFile, "--yes"]);
      let seen = "";
      const cut = new Promise<boolean>((resolve) => {
        p.child.stdout!.on("data", (d: Buffer | string) => {
          seen += d.toString();
          if (/\(\d+\/\d+\) restore:/.test(seen)) resolve(true);
        });
        p.done.then(() => resolve(false));
      });
      if (await cut) p.child.kill("SIGINT");
      const first = await p.done;
      console.log(
        `[e2e] ${SUITE}: first restore run (interrupted: ${first.signal ?? first.code}):\n${first.stdout}${first.stderr}`,
      );
      expect(first.stderr).not.toMatch(STACK_FRAME);
      // the run must really have been cut (a plan that grew a phase once made this pass without a cut)
      expect(first.code, "the first restore run was not interrupted").toBe(130);
      expect(first.stderr).toMatch(
        /interrupted: run `khw etcd snapshot restore .* --yes` again to resume it/,
      );

      // 2. the same command again resumes the same restore and converges
      const t0 = performance.now();
      const r = await khw(lab.workdir, ["etcd", "snapshot", "restore", snapshotFile, "--yes"]);
      console.log(
        `[e2e] ${SUITE}: restore run (${((performance.now() - t0) / 1000).toFixed(1)} s):\n${r.stdout}${r.stderr}`,
      );
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/resuming restore \d{8}t\d{6}z/);
      const kept = [...r.stdout.matchAll(/\[restore\] (\S+): the previous data dir is kept in (\S+) /g)].map(
        (m) => [m[1]!, m[2]!] as const,
      );
      expect(kept.map(([h]) => h)).toEqual(lab.hosts.masters);

      // 3. the ConfigMap deleted after the snapshot is back, with its data
      const value = await until(
        "ConfigMap khw-backup/kept readable",
        async () => {
          const g = await lab.kubectl(
            "-n",
            "khw-backup",
            "get",
            "configmap",
            "kept",
            "-o",
            "jsonpath={.data.value}",
          );
          return g.code === 0 ? g.stdout : undefined;
        },
        120,
      );
      expect(value).toBe(VALUE);

      // 4. etcd: both members healthy, one leader, a new cluster (new token → new member IDs)
      const { code, status } = await etcdStatus();
      expect(code).toBe(0);
      expect(status.members.map((m) => [m.name, m.healthy])).toEqual(lab.hosts.masters.map((h) => [h, true]));
      expect(status.members.filter((m) => m.isLeader)).toHaveLength(1);

      // 5. the old data dirs were kept where it said; the snapshot copies are gone
      for (const [host, dir] of kept) {
        const r2 = await onHost(
          lab.workdir,
          host,
          `test -d ${dir}/member && stat -c %a /var/lib/etcd && ls /var/lib/khw/etcd-restore/`,
        );
        expect(r2.stdout.trim().split("\n")[0], host).toBe("700");
        expect(r2.stdout.trim().split("\n").slice(1), host).toEqual([]);
      }
      await lab.smokePasses();
    },
  );
});
