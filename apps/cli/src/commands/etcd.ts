import { resolve } from "node:path";
import { etcdRestorePlan } from "@khw/systemd-units";
import type { Command } from "commander";
import {
  BACKUPS_DIR,
  carryOutRestore,
  compactTimestamp,
  describePlan,
  type EtcdStatusReport,
  etcdStatus,
  readRestoreRecord,
  readSnapshotFile,
  saveSnapshot,
  shownPath,
  writeRestoreRecord,
} from "../day2/etcd";
import { loadDay2Spec, SPEC_OPTION } from "../day2/options";
import { openHosts } from "../day2/remote";
import { confirmFor } from "../day2/reset";
import { formatTable } from "../day2/table";
import { CliError, EXIT, UsageError } from "../errors";
import { colors, type Io } from "../io";
import { OUTPUT_OPTION, outputFormat, printStructured } from "../output";
import { currentSeams, workdirPaths } from "../workdir";

/** 20480 → "20 kB" (etcd's own units: powers of 1000). */
function size(bytes: number | undefined): string {
  if (bytes === undefined) return "-";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

function printStatus(io: Io, report: EtcdStatusReport): void {
  const c = colors(io);
  const rows = report.members.map((m) => [
    m.name,
    m.endpoint,
    m.id ?? "-",
    m.id === undefined ? "-" : m.isLeader ? "yes" : "no",
    size(m.dbSize),
    m.revision === undefined ? "-" : String(m.revision),
    m.raftTerm === undefined ? "-" : String(m.raftTerm),
    m.healthy ? "healthy" : "NOT ANSWERING",
  ]);
  io.stdout(
    formatTable(["NAME", "ENDPOINT", "ID", "LEADER", "DB SIZE", "REVISION", "RAFT TERM", "HEALTH"], rows),
  );
  for (const p of report.problems) io.stderr(`${c.red("error:")} ${p}\n`);
  if (!report.ok)
    io.stderr(
      `  ${c.dim("fix:")} on the member's host: systemctl status etcd; journalctl -u etcd (then \`khw up --only etcd\`)\n`,
    );
}

/** Registers `khw etcd status`, `khw etcd snapshot save` and `khw etcd snapshot restore`. */
export function registerEtcd(program: Command, io: Io): void {
  const etcd = program
    .command("etcd")
    .description(
      "etcd's members, leader, size and revision; snapshots saved to and restored from this machine",
    );

  etcd
    .command("status")
    .description(
      "Every member: name, endpoint, ID, leader or not, DB size, revision, raft term, health (etcdctl on a control plane, over SSH); exit 1 unless all answer",
    )
    .option(...SPEC_OPTION)
    .option("--json", "print the report as JSON", false)
    .option(...OUTPUT_OPTION)
    .action(async (opts: { file?: string; json: boolean; output?: string }) => {
      const format = outputFormat(opts);
      const loaded = await loadDay2Spec(io, opts.file);
      const hosts = openHosts(io, loaded);
      let report: EtcdStatusReport;
      try {
        report = await etcdStatus(loaded.cluster, hosts);
      } finally {
        await hosts.close();
      }
      if (format) await printStructured(io, format, report);
      else printStatus(io, report);
      if (!report.ok) throw new CliError("ETCD_NOT_OK", "", undefined, EXIT.failure);
    });

  const snapshot = etcd
    .command("snapshot")
    .description("Save etcd's key space to a file here, or restore it");

  snapshot
    .command("save")
    .description(
      `Take a snapshot on a healthy member and copy it here (default ${BACKUPS_DIR}/etcd-<UTC time>.db beside cluster.yaml, mode 0600, git-ignored); print its SHA-256, revision and keys`,
    )
    .argument("[file]", "where to write the snapshot (must not exist)")
    .option(...SPEC_OPTION)
    .option("--json", "print the result as JSON", false)
    .action(async (file: string | undefined, opts: { file?: string; json: boolean }) => {
      const c = colors(io);
      const loaded = await loadDay2Spec(io, opts.file);
      const hosts = openHosts(io, loaded);
      const say = (l: string) => {
        if (!opts.json) io.stderr(`[snapshot] ${l}\n`);
      };
      let saved: Awaited<ReturnType<typeof saveSnapshot>>;
      try {
        saved = await saveSnapshot(loaded.cluster, hosts, loaded.baseDir, file, say);
      } finally {
        await hosts.close();
      }
      const shown = shownPath(io.cwd, saved.file);
      if (opts.json) {
        io.stdout(
          `${JSON.stringify({ file: saved.file, sha256: saved.sha256, size: saved.size, member: saved.member, revision: saved.status.revision, totalKey: saved.status.totalKey, totalSize: saved.status.totalSize, hash: saved.status.hash, version: saved.status.version }, null, 2)}\n`,
        );
        return;
      }
      io.stdout(`${c.green("✓")} ${shown}: ${size(saved.size)} from ${saved.member}, mode 0600\n`);
      io.stdout(`sha256    ${saved.sha256}\n`);
      io.stdout(
        `revision  ${saved.status.revision}\nkeys      ${saved.status.totalKey}\nsize      ${saved.status.totalSize} bytes (etcd ${saved.status.version}, hash ${saved.status.hash})\n`,
      );
      io.stdout(`restore it with: khw etcd snapshot restore ${shown}\n`);
    });

  snapshot
    .command("restore")
    .description(
      "Restore every member from FILE: stop the control plane and etcd, restore each member into a fresh data dir with a new cluster token (the old one kept), start etcd, then the control plane, wait for /readyz. Run again after an interruption: it resumes",
    )
    .argument("<file>", "a snapshot written by `khw etcd snapshot save`")
    .option(...SPEC_OPTION)
    .option("-y, --yes", "do not ask (for scripts)", false)
    .option("--dry-run", "print the plan (every step and argument, per host); change nothing", false)
    .option("--json", "with --dry-run: print the plan as JSON", false)
    .action(async (file: string, opts: { file?: string; yes: boolean; dryRun: boolean; json: boolean }) => {
      const c = colors(io);
      const loaded = await loadDay2Spec(io, opts.file);
      const cluster = loaded.cluster;
      const abs = resolve(io.cwd, file);
      const shown = shownPath(io.cwd, abs);
      const snap = readSnapshotFile(abs, shown);
      const paths = workdirPaths(loaded.baseDir);
      const recordPath = `${paths.khw}/etcd-restore.json`;
      const previous = readRestoreRecord(recordPath);
      const resuming =
        previous && !previous.completed && previous.sha256 === snap.sha256 ? previous : undefined;
      const restoreId = resuming?.restoreId ?? compactTimestamp(currentSeams().now());
      const plan = etcdRestorePlan(cluster, { restoreId, snapshotSha256: snap.sha256 });
      const say = (l: string) => io.stdout(`[restore] ${l}\n`);
      if (opts.dryRun) {
        if (opts.json) {
          io.stdout(`${JSON.stringify({ file: abs, ...plan }, null, 2)}\n`);
          return;
        }
        say(`${shown}: sha256 ${snap.sha256} (integrity hash ok)`);
        say(
          `dry run: nothing is changed; the real run would ${resuming ? "resume" : "be"} restore ${plan.restoreId}:`,
        );
        for (const l of describePlan(plan)) io.stdout(`${l}\n`);
        return;
      }
      if (opts.json) throw new UsageError("--json goes with --dry-run only");
      if (!opts.yes) {
        const confirm = confirmFor(io);
        if (!confirm)
          throw new UsageError(
            "khw etcd snapshot restore replaces etcd's data on every member and needs a confirmation, but there is no terminal to ask on",
            "pass --yes to restore without asking (or --dry-run to see the plan)",
          );
        const q = `Restore cluster '${cluster.name}' from ${shown}: stop the control plane and etcd on ${cluster.controlPlanes.map((n) => n.name).join(", ")}, and replace etcd's data with the snapshot (everything written since is lost; the current data dirs are kept as ${Object.values(plan.keptDataDirs)[0]})?`;
        if (!(await confirm(q))) {
          io.stderr("restore: nothing done\n");
          throw new CliError("ABORTED", "", undefined, EXIT.failure);
        }
      }
      const startedAt = resuming?.startedAt ?? currentSeams().now().toISOString();
      writeRestoreRecord(recordPath, {
        restoreId,
        sha256: snap.sha256,
        file: abs,
        startedAt,
        completed: false,
      });
      say(
        `${resuming ? "resuming" : "starting"} restore ${plan.restoreId} from ${shown} (sha256 ${snap.sha256.slice(0, 16)}…, new cluster token ${plan.initialClusterToken})`,
      );
      const hosts = openHosts(io, loaded);
      // Ctrl-C: say how to go on (the record above makes the next run resume), then die as interrupted.
      const onSigint = () => {
        io.stderr(
          `\nrestore ${plan.restoreId} interrupted: run \`khw etcd snapshot restore ${file} --yes\` again to resume it (the hosts may be left with the control plane stopped until then)\n`,
        );
        process.exit(130);
      };
      process.once("SIGINT", onSigint);
      let result: Awaited<ReturnType<typeof carryOutRestore>>;
      try {
        result = await carryOutRestore(cluster, plan, hosts, snap.bytes, {
          phase: (p, i, n) => say(`(${i + 1}/${n}) ${p.name}: ${p.description}`),
          step: (host, line) => say(`  ${host}: ${line}`),
        });
      } finally {
        process.removeListener("SIGINT", onSigint);
        await hosts.close();
      }
      writeRestoreRecord(recordPath, {
        restoreId,
        sha256: snap.sha256,
        file: abs,
        startedAt,
        completed: true,
      });
      for (const [host, dir] of Object.entries(plan.keptDataDirs))
        say(`${host}: the previous data dir is kept in ${dir} (remove it when you no longer need it)`);
      io.stdout(
        `${c.green("✓")} restored etcd on ${cluster.etcd.members.length} member(s) from ${shown}${result.snapshot ? ` (revision ${result.snapshot.revision}, ${result.snapshot.totalKey} keys)` : ""}; every kube-apiserver answers /readyz\n`,
      );
    });
}
