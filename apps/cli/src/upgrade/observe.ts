import { fanOut } from "@khw/remote-exec";
import type { Cluster } from "@khw/spec/core";
import { BINARY_PATHS } from "@khw/systemd-units";
import { describeError, type Hosts } from "../day2/remote";

/** The Kubernetes executables whose installed version the skew rules care about, by component. */
const BINARIES: Record<string, string> = {
  "kube-apiserver": BINARY_PATHS.kubeApiserver,
  "kube-controller-manager": BINARY_PATHS.kubeControllerManager,
  "kube-scheduler": BINARY_PATHS.kubeScheduler,
  kubelet: BINARY_PATHS.kubelet,
  "kube-proxy": BINARY_PATHS.kubeProxy,
};

/** Read-only: `name version` per executable present (`name missing` otherwise). Data as positional args. */
export const VERSIONS_SCRIPT = `while [ $# -gt 0 ]; do
  if [ -x "$2" ]; then v=$("$2" --version 2>&1 | head -n 1); else v=missing; fi
  printf '%s\\t%s\\n' "$1" "$v"; shift 2
done`;

export interface Observed {
  /** host → component → version (`v1.34.3`), only for executables found. */
  versions: Record<string, Record<string, string>>;
  /** Hosts that did not answer, with why. */
  unreachable: Array<{ host: string; message: string; hint?: string }>;
}

/** The installed version of every Kubernetes executable on every node (over SSH, read-only). */
export async function observeVersions(cluster: Cluster, hosts: Hosts): Promise<Observed> {
  const nodes = cluster.nodes.filter((n) => n.role !== "loadbalancer");
  const out: Observed = { versions: {}, unreachable: [] };
  const results = await fanOut(
    nodes,
    async (node) => {
      const args = Object.entries(BINARIES).flat();
      const r = await hosts.executor.shell(hosts.target(node), VERSIONS_SCRIPT, { sudo: true, args });
      const versions: Record<string, string> = {};
      for (const line of r.stdout.split("\n")) {
        const [name, text] = line.split("\t");
        const v = /v\d+\.\d+\.\d+/.exec(text ?? "")?.[0];
        if (name && v) versions[name] = v;
      }
      return versions;
    },
    { concurrency: 5, failFast: false },
  );
  for (const r of results) {
    if (r.ok) out.versions[r.host] = r.value;
    else out.unreachable.push({ host: r.host, ...describeError(r.error) });
  }
  return out;
}
