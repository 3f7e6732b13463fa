import { createInterface } from "node:readline/promises";
import { fanOut } from "@khw/remote-exec";
import {
  binaryArtifacts,
  binaryPath,
  type Cluster,
  type ClusterNode,
  NODE_DIRS,
  NODE_FILES,
} from "@khw/spec/core";
import type { Artifacts } from "../artifacts";
import type { Io } from "../io";
import { describeError, type Hosts } from "./remote";
import { componentsOf } from "./status";

/** Directories khw's components fill at run time (data, state, caches): removed with the files. */
const DATA_DIRS: Record<ClusterNode["role"], string[]> = {
  controlplane: [NODE_DIRS.etcdData, NODE_DIRS.etcdPki, NODE_DIRS.kubernetes, NODE_FILES.auditLog],
  worker: [
    NODE_DIRS.kubelet,
    NODE_DIRS.kubeProxy,
    NODE_DIRS.kubernetes,
    NODE_DIRS.containerdState,
    NODE_DIRS.containerd,
    NODE_DIRS.cniConf,
    NODE_DIRS.cniBin,
    NODE_DIRS.containerdRun,
    // host-local IPAM's record of handed-out pod addresses
    NODE_DIRS.cniState,
  ],
  loadbalancer: [],
};

const COMMON_DIRS = [NODE_DIRS.khw, NODE_DIRS.khwCache];

/**
 * On workers, after the kubelet stopped and while containerd still runs: kill and delete every
 * container of the k8s.io namespace through khw's own ctr (never by matching process names: other
 * machines' containers may share the PID namespace).
 */
export const WORKER_CONTAINERS_SCRIPT = `ctr=${binaryPath("ctr")}
if [ -x "$ctr" ] && systemctl is-active --quiet containerd; then
  for t in $("$ctr" -n k8s.io tasks ls -q 2>/dev/null); do "$ctr" -n k8s.io tasks kill -a -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $("$ctr" -n k8s.io tasks ls -q 2>/dev/null); do "$ctr" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1; done
  for c in $("$ctr" -n k8s.io containers ls -q 2>/dev/null); do "$ctr" -n k8s.io containers delete "$c" >/dev/null 2>&1 && echo "deleted container $c"; done
fi
true`;

/**
 * On workers, after containerd stopped (its containers are gone: WORKER_CONTAINERS_SCRIPT ran while
 * it still answered): unmount what pods and containerd mounted (the kubelet's volumes, containers' root
 * filesystems and shm, network namespaces, a containerd store on its own filesystem) and delete the pod
 * network's links.
 */
export const WORKER_CLEANUP_SCRIPT = `awk '$2 ~ "^/var/lib/kubelet/" || $2 ~ "^/run/containerd/" || $2 ~ "^/var/lib/containerd(/|$)" || $2 ~ "^/run/netns/" {print $2}' /proc/mounts | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
for l in cni0 weave datapath vxlan-6784 flannel.1; do ip link delete "$l" 2>/dev/null && echo "deleted link $l"; done
for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^vethwe'); do ip link delete "$l" 2>/dev/null; done
true`;

/**
 * On workers, after the cleanup: the routes to the other workers' pod slices ($2…, bridge-routes), the
 * iptables chains kube-proxy, the kubelet and the CNI plugins made (deleted with $1 = 1, i.e.
 * --flush-iptables: exactly the KUBE-*, CNI-* and FLANNEL-* chains and the rules that jump to them, other
 * rules untouched), then what is still there: one `left <what>: <why>` line each.
 */
export const WORKER_LEFTOVERS_SCRIPT = `flush="$1"; shift
for cidr in "$@"; do ip -4 route del "$cidr" 2>/dev/null && echo "deleted route $cidr"; done
for cidr in "$@"; do ip -4 route show "$cidr" 2>/dev/null | grep -q . && echo "left route $cidr: ip route del failed"; done
re='(KUBE|CNI|FLANNEL)-'
for ipt in iptables ip6tables; do
  command -v "$ipt-save" >/dev/null 2>&1 || continue
  n=$("$ipt-save" 2>/dev/null | grep -cE "^:$re")
  [ "$n" -gt 0 ] || continue
  if [ "$flush" = 1 ]; then
    if "$ipt-save" | grep -vE "^:$re|^-A $re|-j $re" | "$ipt-restore"; then echo "deleted $n $ipt chains (KUBE-*, CNI-*, FLANNEL-*)"; else echo "left $n $ipt chains KUBE-*/CNI-*: $ipt-restore failed"; fi
  else
    echo "left $n $ipt chains KUBE-*/CNI-* (kube-proxy's, the kubelet's, the CNI plugins'): iptables may hold other software's rules too, so khw reset deletes them only with --flush-iptables (exactly these chains and the rules jumping to them)"
  fi
done
awk '$2 ~ "^/var/lib/kubelet/" || $2 ~ "^/run/containerd/" || $2 ~ "^/var/lib/containerd(/|$)" || $2 ~ "^/run/netns/" {print $2}' /proc/mounts | while read -r m; do echo "left mount $m: busy (umount -l failed)"; done
for l in cni0 weave datapath flannel.1; do ip link show "$l" >/dev/null 2>&1 && echo "left link $l: ip link delete failed"; done
true`;

/** What `khw reset` does on one host. */
export interface HostReset {
  host: string;
  /** Stopped and disabled, in reverse start order. */
  services: string[];
  /** Removed with `rm -rf`: every file khw placed, the binaries it installed, its components' data. */
  paths: string[];
  workerCleanup: boolean;
  /** Workers: the other workers' pod slices this host routes to (bridge-routes), deleted by reset. */
  podRoutes: string[];
}

/** The reset of every host, as data (the files come from the same artifacts `khw up` pushes). */
export function resetPlan(cluster: Cluster, artifacts: Artifacts): HostReset[] {
  const bins = binaryArtifacts(cluster);
  return cluster.nodes.map((node) => hostResetPlan(cluster, artifacts, node, bins));
}

/**
 * The reset of one host (`khw reset` does it for every host, `khw node remove` for the one leaving):
 * its services, every file khw placed there, the binaries it installed, its components' data.
 */
export function hostResetPlan(
  cluster: Cluster,
  artifacts: Artifacts,
  node: ClusterNode,
  bins = binaryArtifacts(cluster),
): HostReset {
  const files = artifacts.files.filter((f) => f.host === node.name).map((f) => f.path);
  const binaries = bins.filter((b) => b.roles.includes(node.role)).flatMap((b) => Object.values(b.installAs));
  const paths = [...new Set([...files, ...binaries, ...DATA_DIRS[node.role], ...COMMON_DIRS])];
  for (const p of paths) {
    // never anything like "/", "/etc" or "/var/lib": at least two levels deep, absolute, no "..".
    if (!p.startsWith("/") || p.split("/").filter(Boolean).length < 2 || p.split("/").includes("..")) {
      throw new Error(`refusing to remove ${p} on ${node.name} (a bug in khw)`);
    }
  }
  return {
    host: node.name,
    services: [...componentsOf(node)].reverse(),
    paths,
    workerCleanup: node.role === "worker",
    podRoutes:
      node.role === "worker" && cluster.spec.addons.podNetwork === "bridge-routes"
        ? cluster.workers.filter((w) => w.name !== node.name && w.podCIDR).map((w) => w.podCIDR!)
        : [],
  };
}

export interface HostResetResult {
  host: string;
  ok: boolean;
  stopped: string[];
  /** Removed besides the files: routes, iptables chains (`deleted …`). */
  deleted: string[];
  /** What reset left on the host and why (`left …: why`). */
  left: string[];
  error?: string;
  hint?: string;
}

/** Carries out the plan on every host at once; a host that fails is reported, the others go on. */
export async function resetHosts(
  cluster: Cluster,
  plan: HostReset[],
  hosts: Hosts,
  options: { flushIptables?: boolean } = {},
): Promise<HostResetResult[]> {
  const results = await fanOut(
    plan.map((h) => ({ ...h, name: h.host })),
    async (h) => {
      const node = cluster.nodes.find((n) => n.name === h.host)!;
      const t = hosts.target(node);
      const ex = hosts.executor;
      const stopped: string[] = [];
      for (const svc of h.services) {
        // containerd's unit leaves its containers running when it stops (KillMode=process): kill and
        // delete them through containerd first, or a hostNetwork pod (flanneld) outlives the reset.
        if (svc === "containerd" && h.workerCleanup)
          await ex.shell(t, WORKER_CONTAINERS_SCRIPT, { sudo: true, check: false });
        const r = await ex.exec(t, ["systemctl", "disable", "--now", svc], { sudo: true, check: false });
        if (r.code === 0) stopped.push(svc);
      }
      if (h.workerCleanup) await ex.shell(t, WORKER_CLEANUP_SCRIPT, { sudo: true, check: false });
      await ex.exec(t, ["rm", "-rf", "--", ...h.paths], { sudo: true });
      await ex.exec(t, ["systemctl", "daemon-reload"], { sudo: true });
      await ex.exec(t, ["systemctl", "reset-failed"], { sudo: true, check: false });
      const lines: string[] = [];
      if (h.workerCleanup) {
        const r = await ex.shell(t, WORKER_LEFTOVERS_SCRIPT, {
          sudo: true,
          check: false,
          args: [options.flushIptables ? "1" : "0", ...h.podRoutes],
        });
        lines.push(...r.stdout.split("\n").filter((l) => /^(deleted|left) /.test(l)));
      }
      return { stopped, lines };
    },
  );
  return results.map((r) => {
    if (r.ok) {
      const { stopped, lines } = r.value;
      return {
        host: r.host,
        ok: true,
        stopped,
        deleted: lines.filter((l) => l.startsWith("deleted ")).map((l) => l.slice(8)),
        left: lines.filter((l) => l.startsWith("left ")).map((l) => l.slice(5)),
      };
    }
    const d = describeError(r.error);
    return {
      host: r.host,
      ok: false,
      stopped: [],
      deleted: [],
      left: [],
      error: d.message,
      ...(d.hint ? { hint: d.hint } : {}),
    };
  });
}

/** Asks a yes/no question on the terminal. */
export type Confirm = (question: string) => Promise<boolean>;

const ttyConfirm: Confirm = async (question) => {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
};

let confirmOverride: Confirm | undefined;

/** Tests only: answer the confirmation question (as if on a terminal). `undefined` restores the terminal. */
export function setConfirmForTests(confirm: Confirm | undefined): void {
  confirmOverride = confirm;
}

/** The confirmation to use: the test's, the terminal's, or none (no TTY). */
export function confirmFor(io: Io): Confirm | undefined {
  if (confirmOverride) return confirmOverride;
  return io.isTTY && process.stdin.isTTY ? ttyConfirm : undefined;
}
