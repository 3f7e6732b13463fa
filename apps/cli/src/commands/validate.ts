import { type Cluster, formatIssues } from "@khw/spec";
import type { Command } from "commander";
import { colors, type Io } from "../io";
import { loadSpecFile } from "../spec-file";

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

export function registerValidate(program: Command, io: Io): void {
  program
    .command("validate")
    .description(
      "Check a cluster spec: every problem with its line, field and fix, or a summary of the topology",
    )
    .option("-f, --file <file>", "the cluster spec (default: ./cluster.yaml)")
    .option("--json", "print the result as JSON", false)
    .action((opts: { file?: string; json: boolean }) => {
      const loaded = loadSpecFile(io.cwd, opts.file, { allowDefault: false });
      if (opts.json) {
        io.stdout(
          `${JSON.stringify({ valid: true, file: loaded.displayName, warnings: loaded.warnings })}\n`,
        );
        return;
      }
      const c = colors(io);
      if (loaded.warnings.length)
        io.stderr(`${c.yellow(formatIssues(loaded.warnings, loaded.displayName))}\n`);
      io.stdout(`${c.green("✓")} ${loaded.displayName} is valid.\n${topologySummary(loaded.cluster)}\n`);
    });
}
