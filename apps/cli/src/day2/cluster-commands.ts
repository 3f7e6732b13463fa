import { existsSync, rmSync } from "node:fs";
import { relative } from "node:path";
import type { Command } from "commander";
import { renderArtifacts } from "../artifacts";
import { CliError, EXIT, UsageError } from "../errors";
import { colors, type Io } from "../io";
import { OUTPUT_OPTION, outputFormat, printStructured } from "../output";
import { currentSeams, readWorkdir, workdirPaths } from "../workdir";
import { orphanMessage } from "./node-orphans";
import { loadDay2Spec, SPEC_OPTION, wholeNumber } from "./options";
import { openHosts } from "./remote";
import { carryOutRenewal, reissue, renewalPlan, selectCertificates } from "./renew";
import { confirmFor, resetHosts, resetPlan } from "./reset";
import { runSmoke, SMOKE_TESTS, type SmokeResult } from "./smoke";
import { clusterStatus } from "./status";
import { formatTable } from "./table";

/** The day-2 commands that talk to the hosts over SSH: certs renew, status, reset, smoke. */
export function registerCluster(program: Command, certs: Command, io: Io): void {
  certs
    .command("renew")
    .description(
      "Re-issue certificates with the same CA (and the same keys), push them and restart exactly the components that read them",
    )
    .argument("[names...]", "certificate ids (see `khw certs check-expiration`)")
    .option(...SPEC_OPTION)
    .option("--all", "every certificate except the CA", false)
    .option("--dry-run", "print the files and restarts per host; change nothing", false)
    .action(async (names: string[], opts: { file?: string; all: boolean; dryRun: boolean }) => {
      const c = colors(io);
      const loaded = await loadDay2Spec(io, opts.file);
      const workdir = readWorkdir(loaded.baseDir, loaded.cluster);
      const ids = selectCertificates(workdir.catalogue, names, opts.all);
      const seams = currentSeams();
      const material = await reissue(workdir, ids, seams);
      const { plan, after } = renewalPlan(loaded.cluster, workdir, material, ids);
      const say = (line: string) => io.stdout(`[certs] ${line}\n`);
      if (opts.dryRun) {
        say(`would re-issue ${ids.join(", ")} (same CA, same keys); nothing is changed`);
        for (const h of plan.hosts) {
          say(`${h.host}: upload ${h.uploads.map((u) => u.path).join(", ")}`);
          say(`${h.host}: ${h.restarts.length ? `restart ${h.restarts.join(", ")}` : "no restart"}`);
        }
        if (plan.local.length)
          say(
            `would rewrite ${relative(io.cwd, workdir.paths.adminKubeconfig) || "admin.kubeconfig"} if present`,
          );
        return;
      }
      const hosts = openHosts(io, loaded);
      try {
        await carryOutRenewal({
          cluster: loaded.cluster,
          workdir,
          material,
          plan,
          after,
          hosts,
          progress: say,
        });
      } finally {
        await hosts.close();
      }
      io.stdout(
        `${c.green("✓")} renewed ${ids.length} certificate(s)${plan.renewed.includes("admin") ? "; run `khw kubeconfig` to update ~/.kube/config" : ""}\n`,
      );
    });

  program
    .command("status")
    .description(
      "Per host and component: active or not, version, earliest certificate expiry (over SSH, read-only)",
    )
    .option(...SPEC_OPTION)
    .option(
      "--warn-days <days>",
      "certificates expiring within this many days count as a problem",
      wholeNumber("--warn-days"),
      30,
    )
    .option("--json", "print the report as JSON", false)
    .option(...OUTPUT_OPTION)
    .action(async (opts: { file?: string; warnDays: number; json: boolean; output?: string }) => {
      const c = colors(io);
      const format = outputFormat(opts);
      const loaded = await loadDay2Spec(io, opts.file);
      const workdir = readWorkdir(loaded.baseDir, loaded.cluster);
      const artifacts = renderArtifacts(loaded.cluster, workdir);
      const hosts = openHosts(io, loaded);
      let report: Awaited<ReturnType<typeof clusterStatus>>;
      try {
        report = await clusterStatus(loaded.cluster, artifacts, hosts, currentSeams().now(), opts.warnDays);
      } finally {
        await hosts.close();
      }
      if (format) await printStructured(io, format, report);
      else {
        const rows: string[][] = [];
        for (const h of report.hosts) {
          if (!h.reachable) {
            rows.push([h.host, "-", "unreachable", "-", "-"]);
            continue;
          }
          for (const comp of h.components) {
            const cert = comp.certificate;
            rows.push([
              h.host,
              comp.name,
              comp.state,
              `${comp.version.replace(/^.*?(v?\d+\.\d+\.\d+\S*).*$/, "$1")}${comp.versionOk ? "" : ` (spec: ${comp.expectedVersion})`}`,
              cert
                ? cert.notAfter
                  ? `${cert.notAfter.slice(0, 10)} (${cert.daysLeft}d${cert.status === "valid" ? "" : `, ${cert.status}`})`
                  : `${cert.status}: ${cert.path}`
                : "-",
            ]);
          }
        }
        io.stdout(formatTable(["HOST", "COMPONENT", "STATE", "VERSION", "CERT EXPIRES"], rows));
        for (const o of report.orphans ?? []) io.stderr(`${c.yellow("warning:")} ${orphanMessage(o)}\n`);
        for (const h of report.hosts.filter((x) => !x.reachable)) {
          io.stderr(
            `${c.red("error:")} ${h.host}: ${h.error}${h.hint ? `\n  ${c.dim("fix:")} ${h.hint}` : ""}\n`,
          );
        }
      }
      if (!report.ok) throw new CliError("STATUS_NOT_OK", "", undefined, EXIT.failure);
    });

  program
    .command("reset")
    .description(
      "Stop and remove what khw installed on the hosts (services, files, binaries, data); keeps the local PKI unless --purge",
    )
    .option(...SPEC_OPTION)
    .option("-y, --yes", "do not ask (for scripts)", false)
    .option(
      "--purge",
      "also delete the working directory's pki/ (the CA!), admin.kubeconfig and .khw/",
      false,
    )
    .option(
      "--flush-iptables",
      "also delete the workers' KUBE-*, CNI-* and FLANNEL-* iptables chains and the rules jumping to them (other rules stay)",
      false,
    )
    .action(async (opts: { file?: string; yes: boolean; purge: boolean; flushIptables: boolean }) => {
      const c = colors(io);
      const loaded = await loadDay2Spec(io, opts.file);
      const cluster = loaded.cluster;
      const workdir = readWorkdir(loaded.baseDir, cluster);
      const plan = resetPlan(cluster, renderArtifacts(cluster, workdir));
      if (!opts.yes) {
        const confirm = confirmFor(io);
        if (!confirm) {
          throw new UsageError(
            "khw reset removes Kubernetes from every host and needs a confirmation, but there is no terminal to ask on",
            "pass --yes to reset without asking",
          );
        }
        const what = `Reset cluster '${cluster.name}': stop and remove etcd (its data too), the control plane, the workers' kubelet/containerd and HAProxy's config on ${cluster.nodes.map((n) => n.name).join(", ")}${opts.purge ? ", AND delete the local pki/ (the CA)" : ""}?`;
        if (!(await confirm(what))) {
          io.stderr("reset: nothing done\n");
          throw new CliError("ABORTED", "", undefined, EXIT.failure);
        }
      }
      const hosts = openHosts(io, loaded);
      let results: Awaited<ReturnType<typeof resetHosts>>;
      try {
        results = await resetHosts(cluster, plan, hosts, { flushIptables: opts.flushIptables });
      } finally {
        await hosts.close();
      }
      for (const r of results) {
        if (r.ok) {
          io.stdout(
            `[reset] ${r.host}: stopped ${r.stopped.join(", ") || "nothing (not running)"}; files removed${r.deleted.length ? `; deleted ${r.deleted.join(", ")}` : ""}\n`,
          );
          for (const l of r.left) io.stdout(`[reset] ${r.host}: left ${l}\n`);
        } else
          io.stderr(
            `${c.red("error:")} [reset] ${r.host}: ${r.error}${r.hint ? `\n  ${c.dim("fix:")} ${r.hint}` : ""}\n`,
          );
      }
      const paths = workdirPaths(loaded.baseDir);
      // khw up's record of finished and owed work describes hosts that no longer have anything.
      rmSync(paths.state, { force: true });
      if (opts.purge) {
        for (const p of [paths.pki, paths.adminKubeconfig, paths.khw])
          rmSync(p, { recursive: true, force: true });
        io.stdout(
          `[reset] deleted ${relative(io.cwd, paths.pki) || paths.pki}, admin.kubeconfig and .khw/\n`,
        );
      } else if (existsSync(paths.pki)) {
        io.stdout(
          `[reset] kept ${relative(io.cwd, paths.pki) || paths.pki} (the CA and keys): \`khw up\` reuses them\n`,
        );
      }
      io.stdout("[reset] not touched: the haproxy package (the distribution's, installed by khw up)\n");
      const failed = results.filter((r) => !r.ok);
      if (failed.length > 0) {
        throw new CliError(
          "RESET_FAILED",
          `reset failed on ${failed.map((f) => f.host).join(", ")}`,
          "fix the SSH access and run `khw reset` again (it is safe to repeat)",
        );
      }
      io.stdout(`${c.green("✓")} reset ${results.length} host(s)\n`);
    });

  program
    .command("smoke")
    .description(
      "The smoke tests of Kubernetes the Hard Way: encryption at rest, deployment/logs/exec/port-forward, NodePort, DNS, HA, leader leases",
    )
    .option(...SPEC_OPTION)
    .option("--json", "print the results as JSON", false)
    .option("--keep", "leave the smoke-test objects (namespace khw-smoke) in the cluster", false)
    .option("--no-ha", "skip the HA test (it stops one kube-apiserver for a moment)")
    .option("--timeout <seconds>", "wait this long for the pods", wholeNumber("--timeout"), 180)
    .option("--nginx-image <image>", "image of the nginx Deployment")
    .option("--busybox-image <image>", "image of the busybox pod")
    .action(
      async (opts: {
        file?: string;
        json: boolean;
        keep: boolean;
        ha: boolean;
        timeout: number;
        nginxImage?: string;
        busyboxImage?: string;
      }) => {
        const loaded = await loadDay2Spec(io, opts.file);
        const hosts = openHosts(io, loaded);
        let results: SmokeResult[];
        try {
          results = await runSmoke(loaded.cluster, hosts, {
            timeoutSeconds: opts.timeout,
            ha: opts.ha,
            keep: opts.keep,
            ...(opts.nginxImage ? { nginxImage: opts.nginxImage } : {}),
            ...(opts.busyboxImage ? { busyboxImage: opts.busyboxImage } : {}),
          });
        } finally {
          await hosts.close();
        }
        printSmoke(io, results, opts.json);
        if (!results.every((r) => r.outcome === "pass"))
          throw new CliError("SMOKE_FAILED", "", undefined, EXIT.failure);
      },
    );
}

/** Pass/fail/could-not-run per test, then a summary line (`N passed, N failed`). */
export function printSmoke(io: Io, results: SmokeResult[], json: boolean): void {
  const c = colors(io);
  const count = (o: SmokeResult["outcome"]) => results.filter((r) => r.outcome === o).length;
  if (json) {
    io.stdout(
      `${JSON.stringify({ ok: count("pass") === results.length, passed: count("pass"), failed: count("fail"), couldNotRun: count("could-not-run"), tests: results }, null, 2)}\n`,
    );
    return;
  }
  const mark = { pass: c.green("PASS"), fail: c.red("FAIL"), "could-not-run": c.yellow("NOT RUN") };
  for (const r of results) {
    io.stdout(`${mark[r.outcome]}  ${r.id}: ${r.title}\n        ${r.detail}\n`);
    if (r.hint && r.outcome !== "pass") io.stdout(`        ${c.dim("fix:")} ${r.hint}\n`);
  }
  io.stdout(
    `smoke: ${count("pass")} passed, ${count("fail")} failed, ${count("could-not-run")} could not run (of ${SMOKE_TESTS.length})\n`,
  );
}
