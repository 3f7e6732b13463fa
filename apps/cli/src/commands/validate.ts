import {
  type Cluster,
  escapeControl,
  formatIssues,
  type LoadedCluster,
  MAX_PRINTED_ISSUES,
  type SpecIssue,
} from "@khw/spec/quick";
import type { Command } from "commander";
import { CliError, EXIT, UsageError } from "../errors";
import { colors, type Io } from "../io";
import { loadYamlStringify } from "../output";
import { locateSpecFile, parseSpecText, readSpecText } from "../spec-read";

/** One paragraph that says what the spec describes. */
export function topologySummary(cluster: Cluster): string {
  const list = (nodes: Cluster["nodes"], extra?: (n: Cluster["nodes"][number]) => string) =>
    nodes.map((n) => `${n.name} ${n.address}${extra ? ` ${extra(n)}` : ""}`).join(", ");
  const cps = cluster.controlPlanes;
  const s = cluster.spec;
  const parts = [
    `Cluster '${cluster.name}': ${cps.length} control plane${cps.length === 1 ? "" : "s"} (${list(cps)}) with stacked etcd (${cps.length} member${cps.length === 1 ? "" : "s"})`,
    cluster.loadBalancer
      ? `behind the load balancer ${cluster.loadBalancer.name} at ${cluster.api.url}`
      : `reached directly at ${cluster.api.url}`,
  ];
  const workers = cluster.workers.length
    ? `${cluster.workers.length} worker${cluster.workers.length === 1 ? "" : "s"} (${list(cluster.workers, (n) => `[${n.kubeletCredentials}]`)})`
    : "no workers";
  return (
    `${parts.join(" ")}; ${workers}. ` +
    `Pods ${cluster.network.podCIDR} (/${cluster.network.nodeCIDRMaskSize} per node), services ${cluster.network.serviceCIDR} ` +
    `(API ${cluster.network.apiServiceIP}, DNS ${cluster.network.dnsServiceIP}), domain ${cluster.network.clusterDomain}, ` +
    `NodePorts ${cluster.network.nodePortRange}. Kubernetes ${s.versions.kubernetes}, etcd ${s.versions.etcd}, ` +
    `containerd ${s.versions.containerd}; pod network ${s.addons.podNetwork}, DNS ${s.addons.dns ? `CoreDNS ${s.versions.coredns}` : "off"}; ` +
    `${s.pki.keyAlgorithm} keys; binaries from ${s.binaries.source === "official" ? "the official releases" : s.binaries.source === "mirror" ? s.binaries.mirror : s.binaries.bundleDir}.`
  );
}

/** What `--json` / `-o json|yaml` print: the problems (at most MAX_PRINTED_ISSUES errors, then a count) or the summary. */
export interface ValidationResult {
  valid: boolean;
  file: string;
  errors: SpecIssue[];
  /** Errors left out of `errors` past the first MAX_PRINTED_ISSUES. */
  omittedErrors: number;
  warnings: SpecIssue[];
  /** The topology paragraph of a valid spec. */
  summary?: string;
}

function result(file: string, issues: readonly SpecIssue[], cluster?: Cluster): ValidationResult {
  const errors = issues.filter((i) => i.severity === "error");
  return {
    valid: errors.length === 0,
    file,
    errors: errors.slice(0, MAX_PRINTED_ISSUES),
    omittedErrors: Math.max(0, errors.length - MAX_PRINTED_ISSUES),
    warnings: issues.filter((i) => i.severity === "warning").slice(0, MAX_PRINTED_ISSUES),
    ...(cluster ? { summary: topologySummary(cluster) } : {}),
  };
}

/** Reads and checks the spec (parseSpecText: no zod for a valid one, the most of validate's start-up). */
async function loadForValidate(
  cwd: string,
  file: string | undefined,
): Promise<LoadedCluster & { displayName: string }> {
  const { path, displayName } = locateSpecFile(cwd, file, { allowDefault: false });
  const text = readSpecText(path, displayName);
  const loaded = await parseSpecText(text, displayName);
  return { ...loaded, displayName };
}

interface ValidateOptions {
  file?: string;
  json: boolean;
  output?: string;
}

export function registerValidate(program: Command, io: Io): void {
  program
    .command("validate")
    .description(
      "Check a cluster spec: every problem with its line, field and fix, or a summary of the topology",
    )
    .argument("[file]", "the cluster spec (default: ./cluster.yaml); the same as -f FILE")
    .option("-f, --file <file>", "the cluster spec (default: ./cluster.yaml)")
    .option("--json", "print the result as JSON (the same as -o json)", false)
    .option("-o, --output <format>", "print the result as structured data: json or yaml")
    .addHelpText(
      "after",
      "\nExamples:\n  khw validate\n  khw validate cluster.yaml\n  khw validate -f lab.yaml -o json\n\nExit codes: 0 valid (warnings on stderr), 1 the file cannot be read, 2 usage, 3 the spec is invalid.",
    )
    .action(async (fileArg: string | undefined, opts: ValidateOptions) => {
      if (fileArg !== undefined && opts.file !== undefined && fileArg !== opts.file) {
        throw new UsageError(
          `two spec files given: '${escapeControl(fileArg)}' and -f '${escapeControl(opts.file)}'`,
          "give the spec once, as FILE or as -f FILE",
        );
      }
      const file = fileArg ?? opts.file;
      if (opts.output !== undefined && !["json", "yaml"].includes(opts.output)) {
        throw new UsageError(
          `-o ${escapeControl(opts.output)} is not an output format`,
          "use -o json or -o yaml",
        );
      }
      if (opts.json && opts.output === "yaml") {
        throw new UsageError("--json and -o yaml contradict each other", "give one of them");
      }
      const format = opts.json ? "json" : opts.output;
      if (format === undefined) {
        const loaded = await loadForValidate(io.cwd, file);
        const c = colors(io);
        if (loaded.warnings.length)
          io.stderr(`${c.yellow(formatIssues(loaded.warnings, loaded.displayName))}\n`);
        // The summary quotes free-form fields (a mirror URL, a bundle directory): escaped like every problem.
        io.stdout(
          `${c.green("✓")} ${escapeControl(loaded.displayName)} is valid.\n${escapeControl(topologySummary(loaded.cluster))}\n`,
        );
        return;
      }
      const stringify = format === "yaml" ? await loadYamlStringify() : undefined;
      const render = (f: string, d: ValidationResult) =>
        f === "json" || !stringify
          ? `${JSON.stringify(d, null, 2)}\n`
          : // Double-quoted YAML escapes control characters, like JSON does.
            stringify(d, { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" });
      let doc: ValidationResult;
      try {
        const loaded = await loadForValidate(io.cwd, file);
        doc = result(loaded.displayName, loaded.warnings, loaded.cluster);
      } catch (e) {
        if (e instanceof CliError && e.message) {
          // The file cannot be read: the same document, one error, the command's exit code.
          const issue: SpecIssue = {
            path: "",
            code: e.code,
            message: e.message,
            severity: "error",
            ...(e.hint ? { hint: e.hint } : {}),
          };
          io.stdout(render(format, result(file ?? "cluster.yaml", [issue])));
          throw new CliError(e.code, "", undefined, e.exitCode);
        }
        // An invalid spec came through parseClusterYaml: @khw/spec is loaded by then.
        const { SpecError } = await import("@khw/spec");
        if (!(e instanceof SpecError)) throw e;
        doc = result(e.file ?? file ?? "cluster.yaml", e.issues);
      }
      io.stdout(render(format, doc));
      // Exit 3 for an invalid spec, as without -o; the data is the whole output.
      if (!doc.valid) throw new CliError("INVALID_SPEC", "", undefined, EXIT.invalidSpec);
    });
}
