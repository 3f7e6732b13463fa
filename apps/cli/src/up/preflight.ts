import type { Cluster, ClusterNode } from "@khw/spec/core";
import { netsOverlap, parseNet } from "./ipv4";

/**
 * One POSIX sh script that prints what preflight needs to know about a host as `key=value` lines.
 * Read-only; run as root (sudo) so that `ss -p` names the processes behind listening ports.
 */
export const FACTS_SCRIPT = `
echo "whoami=$(id -un)"
echo "kernel=$(uname -s)"
echo "machine=$(uname -m)"
if [ -r /etc/os-release ]; then . /etc/os-release; echo "os_id=$ID"; echo "os_version=$VERSION_ID"; fi
echo "time_ms=$(date +%s%3N)"
if [ -r /proc/swaps ]; then echo "swap_devices=$(tail -n +2 /proc/swaps | wc -l)"; fi
# A module counts as present when the kernel already provides what it does (built in, or loaded
# by the host of a container, where /sys/module is hidden), when it is loaded, or when it can be.
provides() { case $1 in
  overlay) grep -qw overlay /proc/filesystems 2>/dev/null ;;
  br_netfilter) [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] ;;
esac; }
for m in overlay br_netfilter; do
  if [ -d /sys/module/$m ] || provides $m; then echo "module_$m=loaded";
  elif modprobe -n -q $m 2>/dev/null; then echo "module_$m=available";
  else echo "module_$m=missing"; fi
done
for s in net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables net/bridge/bridge-nf-call-ip6tables; do
  if [ -r /proc/sys/$s ]; then echo "sysctl_$(echo $s | tr / .)=$(cat /proc/sys/$s)"; fi
done
if [ -d /run/systemd/system ]; then echo "systemd=yes"; else echo "systemd=no"; fi
ip -o -4 addr show 2>/dev/null | while read -r _ dev _ cidr _; do echo "addr=$dev $cidr"; done
ip -4 route show 2>/dev/null | while read -r line; do echo "route=$line"; done
ss -Htlnp 2>/dev/null | while read -r _ _ _ local _ rest; do echo "listen=$local $rest"; done
`;

export interface HostFacts {
  host: string;
  values: Record<string, string>;
  addrs: Array<{ dev: string; cidr: string }>;
  routes: string[];
  listens: Array<{ address: string; port: number; process: string }>;
  /** Admin-side clock at the middle of the round trip, to estimate the host's clock offset. */
  adminTimeMs: number;
}

export function parseFacts(host: string, stdout: string, adminTimeMs: number): HostFacts {
  const facts: HostFacts = { host, values: {}, addrs: [], routes: [], listens: [], adminTimeMs };
  for (const line of stdout.split("\n")) {
    const i = line.indexOf("=");
    if (i < 0) continue;
    const key = line.slice(0, i);
    const value = line.slice(i + 1).trim();
    if (key === "addr") {
      const [dev, cidr] = value.split(" ");
      if (dev && cidr) facts.addrs.push({ dev, cidr });
    } else if (key === "route") facts.routes.push(value);
    else if (key === "listen") {
      const [local, ...rest] = value.split(" ");
      const m = /^(.*):(\d+)$/.exec(local ?? "");
      if (!m) continue;
      const proc = /users:\(\("([^"]+)"/.exec(rest.join(" "))?.[1] ?? "";
      facts.listens.push({ address: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]), process: proc });
    } else facts.values[key] = value;
  }
  return facts;
}

export interface PreflightProblem {
  host: string;
  check: string;
  severity: "error" | "warning";
  message: string;
  fix: string;
}

const ARCH: Record<string, string> = { x86_64: "amd64", amd64: "amd64", aarch64: "arm64", arm64: "arm64" };

/** The ports each role's components listen on, and which process may hold them (a re-run finds them in use by us). */
export function portsFor(node: ClusterNode): Array<{ port: number; owners: string[] }> {
  switch (node.role) {
    case "controlplane":
      return [
        { port: 2379, owners: ["etcd"] },
        { port: 2380, owners: ["etcd"] },
        { port: 6443, owners: ["kube-apiserver"] },
        { port: 10257, owners: ["kube-controller"] },
        { port: 10259, owners: ["kube-scheduler"] },
      ];
    case "worker":
      return [
        { port: 10250, owners: ["kubelet"] },
        { port: 10249, owners: ["kube-proxy"] },
        { port: 10256, owners: ["kube-proxy"] },
      ];
    case "loadbalancer":
      return [{ port: 6443, owners: ["haproxy"] }];
  }
}

/** Routes that khw's own pod network installs (so a re-run does not trip over them). */
function isOwnRoute(route: string, cluster: Cluster): boolean {
  if (/\bdev (cni0|weave|vethwe|datapath|vxlan|flannel\.\d+)/.test(route)) return true;
  const via = /\bvia (\S+)/.exec(route)?.[1];
  return via !== undefined && cluster.nodes.some((n) => n.address === via);
}

/** Checks of one host's facts (clock skew is checked across hosts by `checkClockSkew`). */
export function checkHostFacts(cluster: Cluster, node: ClusterNode, facts: HostFacts): PreflightProblem[] {
  const out: PreflightProblem[] = [];
  const v = facts.values;
  const err = (check: string, message: string, fix: string) =>
    out.push({ host: node.name, check, severity: "error", message, fix });
  const warn = (check: string, message: string, fix: string) =>
    out.push({ host: node.name, check, severity: "warning", message, fix });

  if (v["whoami"] !== "root") {
    err("sudo", `commands run as '${v["whoami"] ?? "?"}', not root`, "give the SSH user passwordless sudo");
  }
  if (v["kernel"] !== "Linux")
    err("os", `the host runs ${v["kernel"] ?? "an unknown OS"}, not Linux`, "use Linux hosts");
  const arch = ARCH[v["machine"] ?? ""];
  if (arch !== cluster.spec.binaries.arch) {
    err(
      "arch",
      `the host is ${v["machine"] ?? "of unknown architecture"}, the spec installs ${cluster.spec.binaries.arch} binaries`,
      `set binaries.arch: ${arch ?? "amd64|arm64"} (all hosts must share one architecture)`,
    );
  }
  if (v["os_id"] && !["ubuntu", "debian"].includes(v["os_id"])) {
    warn(
      "os",
      `${v["os_id"]} ${v["os_version"] ?? ""} is untested (khw targets Ubuntu 22.04)`,
      "use Ubuntu 22.04 or Debian 12",
    );
  }
  if (v["systemd"] !== "yes" && node.role !== "loadbalancer") {
    err("systemd", "systemd is not running (no /run/systemd/system)", "use a host booted with systemd");
  }
  if (node.role === "worker" && Number(v["swap_devices"] ?? "0") > 0) {
    err(
      "swap",
      `swap is on (${v["swap_devices"]} device(s)); the kubelet refuses to start with swap`,
      "run `sudo swapoff -a` and remove the swap line from /etc/fstab",
    );
  }
  if (node.role === "worker") {
    for (const m of ["overlay", "br_netfilter"]) {
      if (v[`module_${m}`] === "missing") {
        err(
          "kernel-modules",
          `kernel module ${m} is neither loaded nor available`,
          `install the kernel's extra modules (e.g. linux-modules-extra-$(uname -r)) so \`modprobe ${m}\` works`,
        );
      }
    }
  }
  // The node's address must be on one of its interfaces (Vagrant: 10.0.2.15 is the NAT NIC, not the node).
  const onIf = facts.addrs.some((a) => a.cidr.split("/")[0] === node.address);
  if (!onIf) {
    const have = facts.addrs.filter((a) => a.dev !== "lo").map((a) => `${a.cidr} (${a.dev})`);
    err(
      "node-address",
      `${node.address} is not on any interface of ${node.name} (it has ${have.join(", ") || "none"})`,
      have.some((h) => h.startsWith("10.0.2.15"))
        ? "10.0.2.15 is VirtualBox's NAT address, shared by every VM: use the host-only address (192.168.56.x) and check the VM's private_network"
        : `set the node's address in cluster.yaml to one of its own addresses`,
    );
  }
  // Cluster CIDRs must not collide with the host's networks.
  for (const [name, cidr] of [
    ["pod CIDR", cluster.network.podCIDR],
    ["service CIDR", cluster.network.serviceCIDR],
  ] as const) {
    const net = parseNet(cidr)!;
    for (const a of facts.addrs) {
      const an = parseNet(a.cidr);
      if (a.dev === "lo" || !an || /^(cni0|weave|vethwe|flannel\.\d+)/.test(a.dev)) continue;
      if (netsOverlap(net, an)) {
        err(
          "cidr-overlap",
          `the ${name} ${cidr} overlaps ${a.cidr} on ${a.dev}`,
          `choose a ${name} outside the hosts' networks`,
        );
      }
    }
    for (const r of facts.routes) {
      const dest = r.split(" ")[0] ?? "";
      if (dest === "default" || isOwnRoute(r, cluster)) continue;
      const rn = parseNet(dest);
      if (
        rn &&
        rn.prefix > 0 &&
        netsOverlap(net, rn) &&
        !facts.addrs.some((a) => parseNet(a.cidr)?.first === rn.first)
      ) {
        err(
          "cidr-overlap",
          `the ${name} ${cidr} overlaps the route '${r}'`,
          `choose a ${name} that no host routes elsewhere`,
        );
      }
    }
  }
  // Ports: free, or held by the component itself (a re-run).
  for (const { port, owners } of portsFor(node)) {
    const holders = facts.listens.filter((l) => l.port === port);
    for (const h of holders) {
      if (owners.some((o) => h.process.startsWith(o))) continue;
      err(
        "ports",
        `port ${port} is already in use by ${h.process || "another process"} (${h.address}:${port})`,
        `stop that process or move it off port ${port}`,
      );
    }
  }
  return out;
}

/** Time offsets of the hosts relative to the admin machine; errors above `errorMs`, warnings above `warnMs` across hosts. */
export function checkClockSkew(
  facts: readonly HostFacts[],
  options: { warnMs?: number; errorMs?: number } = {},
): PreflightProblem[] {
  const warnMs = options.warnMs ?? 2000;
  const errorMs = options.errorMs ?? 60_000;
  const offsets = facts
    .map((f) => ({ host: f.host, offset: Number(f.values["time_ms"]) - f.adminTimeMs }))
    .filter((o) => Number.isFinite(o.offset));
  const out: PreflightProblem[] = [];
  for (const o of offsets) {
    if (Math.abs(o.offset) > errorMs) {
      out.push({
        host: o.host,
        check: "clock",
        severity: "error",
        message: `the clock is ${(o.offset / 1000).toFixed(1)} s off the admin machine's (certificates would be "not yet valid" or expired)`,
        fix: "enable time sync on every host: `sudo timedatectl set-ntp true` (systemd-timesyncd or chrony)",
      });
    }
  }
  if (offsets.length > 1) {
    const min = offsets.reduce((a, b) => (b.offset < a.offset ? b : a));
    const max = offsets.reduce((a, b) => (b.offset > a.offset ? b : a));
    const skew = max.offset - min.offset;
    if (skew > warnMs && !out.length) {
      out.push({
        host: max.host,
        check: "clock",
        severity: "warning",
        message: `clocks differ by ${(skew / 1000).toFixed(1)} s across hosts (${max.host} ahead of ${min.host}); etcd warns above 1 s`,
        fix: "enable time sync on every host: `sudo timedatectl set-ntp true`",
      });
    }
  }
  return out;
}
