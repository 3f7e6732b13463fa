/**
 * Causes a kubelet names in its own journal, as data: when `khw up` waits for nodes Ready and times out,
 * the journals of the workers that are not Ready are read and each cause seen is named with its fix,
 * instead of only "N node(s) Ready not reached".
 */
export interface JournalCause {
  id: string;
  match: RegExp;
  /** What is wrong, in the user's words ($1… from `match`). */
  cause: string;
  fix: string;
}

export const KUBELET_CAUSES: readonly JournalCause[] = [
  {
    id: "inotify-instances",
    match: /inotify_init: too many open files|fsnotify watcher: too many open files/,
    cause: "the kubelet cannot get an inotify instance (inotify_init: too many open files)",
    fix: "raise fs.inotify.max_user_instances on the machine that runs the host (`sysctl -w fs.inotify.max_user_instances=1024`, and in /etc/sysctl.d to keep it; containers and lab hosts share the machine's limit)",
  },
  {
    id: "inotify-watches",
    match: /no space left on device[^\n]*inotify|inotify[^\n]*no space left on device/i,
    cause: "the kubelet ran out of inotify watches",
    fix: "raise fs.inotify.max_user_watches (`sysctl -w fs.inotify.max_user_watches=524288`)",
  },
  {
    id: "cgroup-v1",
    match: /kubelet is configured to not run on a host using cgroup v1/,
    cause: "the kubelet refuses cgroup v1",
    fix: "boot the host with cgroup v2 (systemd.unified_cgroup_hierarchy=1), or set failCgroupV1: false in the worker's kubelet extraConfig",
  },
  {
    id: "cgroup-driver",
    match:
      /expected cgroupsPath to be of format "slice:prefix:name"|cgroup driver[^\n]*(?:differ|mismatch)|misconfiguration: kubelet cgroup driver: "(\w+)"/,
    cause: "the kubelet and containerd use different cgroup drivers",
    fix: "both must use systemd: kubelet cgroupDriver: systemd and containerd's runc SystemdCgroup = true (khw writes both; check for a config of your own overriding them)",
  },
  {
    id: "swap",
    match: /running with swap on is not supported|swap[^\n]*failSwapOn/i,
    cause: "swap is on and the kubelet refuses to run with it",
    fix: "turn swap off (`swapoff -a`, and remove it from /etc/fstab)",
  },
  {
    id: "image-pull",
    match:
      /failed to (?:pull|resolve) (?:image|reference) \\?"([^"\\]+)\\?"|ErrImagePull|ImagePullBackOff|pull access denied/i,
    cause: "an image cannot be pulled ($1)",
    fix: "give the worker access to the registry, or import the image (`ctr -n k8s.io images import`; air-gapped: binaries.images in the spec)",
  },
  {
    id: "containerd-down",
    match:
      /dial unix [^\n]*containerd\.sock: connect: (?:no such file|connection refused)|container runtime is down/,
    cause: "containerd does not answer on its socket",
    fix: "start containerd and read `journalctl -u containerd` on the worker",
  },
  {
    id: "cni",
    match: /cni plugin not initialized|NetworkPluginNotReady|no networks found in \/etc\/cni\/net\.d/,
    cause: "the pod network is not ready (no CNI configuration)",
    fix: "check the pod network (addons.podNetwork): its DaemonSet's pods on this worker, or /etc/cni/net.d",
  },
  {
    id: "credentials",
    match: /x509: certificate signed by unknown authority|certificate has expired|Unauthorized/,
    cause: "the kubelet's credentials are refused by the apiserver (CA or expiry)",
    fix: "re-issue and push them: `khw gen` then `khw up --only pki,kubeconfigs,workers`; check the clocks",
  },
  {
    id: "api-unreachable",
    match:
      /Unable to register node with API server[^\n]*(?:connection refused|i\/o timeout|no route to host)/,
    cause: "the kubelet cannot reach the API endpoint to register",
    fix: "check the API endpoint from the worker (the load balancer, the apiserver's address) and the firewall",
  },
];

export interface SeenCause {
  id: string;
  cause: string;
  fix: string;
}

/** Every catalogued cause the journal shows, most specific first (catalogue order), each once. */
export function causesInJournal(
  journal: string,
  causes: readonly JournalCause[] = KUBELET_CAUSES,
): SeenCause[] {
  const seen: SeenCause[] = [];
  for (const c of causes) {
    const m = c.match.exec(journal);
    if (!m) continue;
    seen.push({
      id: c.id,
      cause: c.cause.replace(/\$(\d)/g, (_, i: string) => m[Number(i)] ?? "?"),
      fix: c.fix,
    });
  }
  return seen;
}

/**
 * A script printing the last lines of a unit's journal and, last, `unit-state=<is-active>`: what a
 * timed-out wait reads on each suspect host (read-only).
 */
export function journalScript(unit: string, lines = 300): string {
  return `journalctl -u ${unit} --no-pager -o cat -n ${lines} 2>&1 | tail -n ${lines}; echo "unit-state=$(systemctl is-active ${unit} 2>/dev/null)"`;
}
