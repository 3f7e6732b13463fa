import { extname, relative, resolve } from "node:path";
import { renderKubeconfig } from "@khw/kubeconfig";
import { catalogueFromCluster, readPkiState } from "@khw/pki";
import type { Command } from "commander";
import { registerCluster } from "../day2/cluster-commands";
import { renderMermaid, renderSvg, topologyFromCluster } from "../day2/diagram";
import { expirationReport } from "../day2/expiration";
import { adminKubeconfig, installKubeconfig, targetKubeconfigPath } from "../day2/kubeconfig";
import { loadDay2Spec, SPEC_OPTION, wholeNumber } from "../day2/options";
import { formatTable } from "../day2/table";
import { CliError, EXIT, UsageError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";
import { colors, type Io } from "../io";
import { OUTPUT_OPTION, outputFormat, printStructured } from "../output";
import { currentSeams, readPkiDir, workdirPaths } from "../workdir";

/** Registers the day-2 commands: diagram, kubeconfig, certs, status, smoke, reset. */
export function registerDay2(program: Command, io: Io): void {
  program
    .command("diagram")
    .description(
      "Draw the topology from the spec: hosts by role and who talks to whom on which port (SVG or Mermaid)",
    )
    .option(...SPEC_OPTION)
    .option("-o, --output <file>", "write to FILE (atomically) instead of stdout; .mmd/.md means Mermaid")
    .option("--format <format>", "svg or mermaid (default: from the -o extension, else svg)")
    .action(async (opts: { file?: string; output?: string; format?: string }) => {
      const format =
        opts.format ??
        (opts.output && [".mmd", ".md", ".mermaid"].includes(extname(opts.output)) ? "mermaid" : "svg");
      if (format !== "svg" && format !== "mermaid") {
        throw new UsageError(`--format must be svg or mermaid, got '${format}'`);
      }
      const loaded = await loadDay2Spec(io, opts.file);
      const topology = topologyFromCluster(loaded.cluster);
      const text = format === "svg" ? renderSvg(topology) : renderMermaid(topology);
      if (!opts.output) {
        io.stdout(text);
        return;
      }
      const out = resolve(io.cwd, opts.output);
      writeFileAtomic(out, text);
      io.stderr(
        `${colors(io).green("✓")} ${relative(io.cwd, out) || out}: ${format === "svg" ? "SVG" : "Mermaid"} diagram of ${topology.hosts.length - 1} hosts and ${topology.edges.length} connections\n`,
      );
    });

  program
    .command("kubeconfig")
    .description(
      "Merge the admin context (API through the load balancer) into ~/.kube/config, $KUBECONFIG or a given file",
    )
    .option(...SPEC_OPTION)
    .option(
      "--kubeconfig <file>",
      "the kubeconfig to write (default: first of $KUBECONFIG, else ~/.kube/config)",
    )
    .option("--context <name>", "name of the context (default: the cluster's name)")
    .option("--no-set-current", "keep the current-context as it is")
    .option("--print", "print the admin kubeconfig to stdout instead of writing anything", false)
    .action(
      async (opts: {
        file?: string;
        kubeconfig?: string;
        context?: string;
        setCurrent: boolean;
        print: boolean;
      }) => {
        const c = colors(io);
        const loaded = await loadDay2Spec(io, opts.file);
        const config = adminKubeconfig(loaded.baseDir, loaded.cluster, opts.context);
        if (opts.print) {
          io.stdout(renderKubeconfig(config));
          return;
        }
        const path = targetKubeconfigPath(io.cwd, io.env, opts.kubeconfig);
        const r = installKubeconfig(path, config, {
          setCurrentContext: opts.setCurrent,
          now: currentSeams().now(),
        });
        const shown = relative(io.cwd, path).startsWith("..") ? path : relative(io.cwd, path) || path;
        if (!r.changed) {
          io.stdout(
            `${c.green("✓")} ${shown} already has context ${config.currentContext}; nothing changed\n`,
          );
          return;
        }
        if (r.backup) io.stdout(`previous file kept as ${r.backup}\n`);
        const parts = [
          r.added.length ? `added ${r.added.join(", ")}` : "",
          r.replaced.length ? `replaced ${r.replaced.join(", ")}` : "",
        ].filter(Boolean);
        io.stdout(`${c.green("✓")} ${shown}: ${parts.join("; ") || "rewritten"}\n`);
        io.stdout(
          r.currentContext.after === config.currentContext
            ? `current context: ${config.currentContext} (kubectl get nodes)\n`
            : `current context stays ${r.currentContext.after}; use: kubectl --context ${config.currentContext} get nodes\n`,
        );
      },
    );

  const certs = program.command("certs").description("Inspect and renew the cluster's certificates");
  certs
    .command("check-expiration")
    .description(
      "List every certificate in pki/ with its expiry, days left and signer; exit 1 if one is expired, expiring, missing or not signed by its CA",
    )
    .option(...SPEC_OPTION)
    .option(
      "--warn-days <days>",
      "certificates expiring within this many days fail the check",
      wholeNumber("--warn-days"),
      30,
    )
    .option("--json", "print the report as JSON", false)
    .option(...OUTPUT_OPTION)
    .action(async (opts: { file?: string; warnDays: number; json: boolean; output?: string }) => {
      const c = colors(io);
      const format = outputFormat(opts);
      const loaded = await loadDay2Spec(io, opts.file);
      const paths = workdirPaths(loaded.baseDir);
      const files = readPkiDir(paths);
      if (Object.keys(files).length === 0) {
        throw new CliError(
          "PKI_MISSING",
          `there are no certificates in ${paths.pki}`,
          "run `khw gen` (or `khw up`) in the directory of cluster.yaml first",
        );
      }
      const report = expirationReport(
        catalogueFromCluster(loaded.cluster),
        readPkiState(files),
        currentSeams().now(),
        opts.warnDays,
      );
      if (format) {
        await printStructured(io, format, report);
      } else {
        const paint = (s: string) => (s === "valid" ? c.green(s) : s === "expiring" ? c.yellow(s) : c.red(s));
        const rows = report.certificates.map((r) => [
          r.id,
          r.notAfter ? r.notAfter.replace(/\.\d+Z$/, "Z") : "-",
          r.daysLeft === undefined ? "-" : String(r.daysLeft),
          r.signer ?? "self-signed (CA)",
          r.status,
        ]);
        const table = formatTable(["CERTIFICATE", "EXPIRES (UTC)", "DAYS LEFT", "SIGNER", "STATUS"], rows);
        const lines = table.split("\n");
        io.stdout(
          `${lines
            .map((l, i) => {
              const row = report.certificates[i - 1];
              return row && row.status !== "valid"
                ? l.replace(new RegExp(`${row.status}$`), paint(row.status))
                : l;
            })
            .join("\n")}`,
        );
        for (const r of report.certificates.filter((x) => x.problem)) {
          io.stderr(
            `${r.status === "expiring" ? c.yellow("warning:") : c.red("error:")} ${r.id}: ${r.problem}\n`,
          );
        }
        if (!report.ok) {
          io.stderr(
            `  ${c.dim("fix:")} khw certs renew --all (or NAME) re-issues with the same CA, pushes and restarts what uses them\n`,
          );
        }
      }
      if (!report.ok) throw new CliError("CERTS_NOT_OK", "", undefined, EXIT.failure);
    });

  registerCluster(program, certs, io);
}
