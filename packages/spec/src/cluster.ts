import { DNS_LABEL } from "./_dns";
import {
  canonicalCidr,
  contains,
  type Ipv4Net,
  ipToBigInt,
  isIpv4,
  nthAddress,
  nthSubnet,
  overlaps,
  parseCidr,
  SPECIAL_RANGES,
  subnetCount,
} from "./_ip";
import { quoteValue } from "./_show";
import { SpecError, type SpecIssue } from "./errors";
import type { ClusterSpec, KubeletCredentials, NodeSpec, Role } from "./schema";
import {
  isSupportedContainerd,
  isSupportedKubernetes,
  RESERVED_NODE_NAMES,
  SUPPORTED_VERSIONS,
} from "./supported";

/** VirtualBox's NAT network: every Vagrant VM has 10.0.2.15 on it. */
export const VIRTUALBOX_NAT_CIDR = "10.0.2.0/24";
export const API_PORT = 6443;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;

export interface ClusterNode {
  name: string;
  role: Role;
  address: string;
  /** SSH target with the node address filled in as the default host. */
  ssh: {
    host: string;
    port: number;
    user: string;
    identityFile?: string;
    jump?: { host: string; port: number; user: string; identityFile?: string };
  };
  /** Workers only. */
  kubeletCredentials?: KubeletCredentials;
  /** Workers only: KubeletConfiguration fields the spec sets over khw's. */
  kubeletExtraConfig?: Record<string, unknown>;
  /** Workers only: containerd's runc BinaryName when the spec sets one (the lab's wrapper). */
  containerdRuncBinary?: string;
  /** Workers only: KubeProxyConfiguration fields the spec sets over khw's. */
  kubeProxyExtraConfig?: Record<string, unknown>;
  /** Workers only: this node's slice of the pod CIDR (used by the bridge-routes pod network). */
  podCIDR?: string;
}

export interface EtcdMember {
  name: string;
  address: string;
  peerURL: string;
  clientURL: string;
}

/** A validated spec with every derived fact computed once, for every generator to read. */
export interface Cluster {
  spec: ClusterSpec;
  name: string;
  nodes: ClusterNode[];
  controlPlanes: ClusterNode[];
  workers: ClusterNode[];
  loadBalancer: ClusterNode | undefined;
  network: {
    podCIDR: string;
    serviceCIDR: string;
    clusterDomain: string;
    nodePortRange: string;
    nodeCIDRMaskSize: number;
    /** First address of the service CIDR: the `kubernetes` Service. */
    apiServiceIP: string;
    /** The cluster DNS Service (kube-dns). */
    dnsServiceIP: string;
  };
  /** Where clients reach the API: the load balancer, or the only control plane. */
  api: { host: string; port: number; url: string; viaLoadBalancer: boolean };
  /** The service-account issuer URL (the API endpoint). */
  serviceAccountIssuer: string;
  etcd: {
    members: EtcdMember[];
    /** `--initial-cluster`: `master-1=https://IP:2380,...` */
    initialCluster: string;
    initialClusterToken: string;
    /** Client URLs of every member, for `--etcd-servers`. */
    clientURLs: string[];
  };
}

interface Checked {
  pod?: Ipv4Net;
  service?: Ipv4Net;
}

/** Semantic checks beyond the schema. Every problem, not just the first. */
export function validateClusterSpec(spec: ClusterSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const err = (path: string, code: string, message: string, hint?: string) =>
    issues.push({ path, code, message, severity: "error", ...(hint ? { hint } : {}) });
  const warn = (path: string, code: string, message: string, hint?: string) =>
    issues.push({ path, code, message, severity: "warning", ...(hint ? { hint } : {}) });

  const nat = parseCidr(VIRTUALBOX_NAT_CIDR)!;
  const nets: Checked = {};
  for (const key of ["podCIDR", "serviceCIDR"] as const) {
    const text = spec.network[key];
    const net = parseCidr(text);
    const path = `network.${key}`;
    if (!net) {
      err(
        path,
        "invalid-cidr",
        `${quoteValue(text)} is not an IPv4 CIDR`,
        "write it as a.b.c.d/n, e.g. 10.96.0.0/16",
      );
      continue;
    }
    if (canonicalCidr(net) !== text) {
      err(
        path,
        "cidr-not-network",
        `'${text}' has host bits set`,
        `use the network address ${canonicalCidr(net)}`,
      );
      continue;
    }
    for (const special of SPECIAL_RANGES) {
      if (overlaps(net, parseCidr(special.cidr)!)) {
        err(
          path,
          "cidr-special-range",
          `${text} overlaps ${special.what}, which is no host's unicast address`,
          `use a private range such as ${key === "podCIDR" ? "10.244.0.0/16" : "10.96.0.0/16"}`,
        );
      }
    }
    if (overlaps(net, nat)) {
      err(
        path,
        "cidr-overlaps-nat",
        `${text} overlaps VirtualBox's NAT network ${VIRTUALBOX_NAT_CIDR}`,
        "choose a range that does not contain 10.0.2.0/24",
      );
    }
    nets[key === "podCIDR" ? "pod" : "service"] = net;
  }
  if (nets.pod && nets.service && overlaps(nets.pod, nets.service)) {
    err(
      "network.serviceCIDR",
      "cidr-overlap",
      `service CIDR ${spec.network.serviceCIDR} overlaps pod CIDR ${spec.network.podCIDR}`,
      "give pods and services disjoint ranges, e.g. 10.244.0.0/16 and 10.96.0.0/16",
    );
  }
  if (nets.service) {
    if (nets.service.prefix > 28) {
      err(
        "network.serviceCIDR",
        "service-cidr-too-small",
        `${spec.network.serviceCIDR} is too small for the API and DNS service IPs`,
        "use a /28 or larger (e.g. /16)",
      );
    }
    if (nets.service.prefix < 12) {
      err(
        "network.serviceCIDR",
        "service-cidr-too-large",
        `${spec.network.serviceCIDR} holds 2^${32 - nets.service.prefix} addresses; kube-apiserver refuses a service range larger than /12 (2^20 addresses) before v1.34, and kubeadm at every version`,
        "use a /12 or smaller range (a longer prefix), e.g. 10.96.0.0/12",
      );
    }
    const dns = spec.network.dnsServiceIP;
    if (dns !== undefined) {
      if (!isIpv4(dns))
        err(
          "network.dnsServiceIP",
          "invalid-ip",
          `${quoteValue(dns)} is not an IPv4 address`,
          `write it as a.b.c.d inside ${spec.network.serviceCIDR}, e.g. ${nthAddress(nets.service, 10) ?? "its 10th address"}`,
        );
      else if (!contains(nets.service, dns)) {
        err(
          "network.dnsServiceIP",
          "dns-ip-outside-service-cidr",
          `DNS service IP ${dns} is outside the service CIDR ${spec.network.serviceCIDR}`,
          `pick an address inside ${spec.network.serviceCIDR}, e.g. ${nthAddress(nets.service, 10) ?? "its 10th address"}`,
        );
      } else if (ipToBigInt(dns) === nets.service.end) {
        err(
          "network.dnsServiceIP",
          "dns-ip-reserved",
          `DNS service IP ${dns} is the service CIDR's broadcast address, which kube-apiserver never allocates`,
          `use another address, e.g. ${nthAddress(nets.service, 10) ?? "the 10th"}`,
        );
      } else if (dns === nthAddress(nets.service, 1) || dns === nthAddress(nets.service, 0)) {
        err(
          "network.dnsServiceIP",
          "dns-ip-reserved",
          `DNS service IP ${dns} is the service CIDR's network address or the API service IP`,
          "use another address, e.g. the 10th",
        );
      }
    }
  }
  const [lo, hi] = spec.network.nodePortRange.split("-").map(Number) as [number, number];
  if (!(lo >= 1 && hi <= 65535 && lo < hi)) {
    err(
      "network.nodePortRange",
      "invalid-port-range",
      `${quoteValue(spec.network.nodePortRange)} is not a port range low-high within 1-65535`,
      "e.g. 30000-32767",
    );
  } else if (lo <= API_PORT && API_PORT <= hi) {
    err(
      "network.nodePortRange",
      "port-range-contains-api",
      `${spec.network.nodePortRange} contains the API port 6443`,
      "use a range above it, e.g. 30000-32767",
    );
  }

  // Nodes.
  const seenName = new Map<string, number>();
  const seenAddr = new Map<string, number>();
  const seenSsh = new Map<string, number>();
  spec.nodes.forEach((node, i) => {
    const p = `nodes[${i}]`;
    const reserved = RESERVED_NODE_NAMES[node.name];
    if (reserved !== undefined) {
      err(
        `${p}.name`,
        "reserved-name",
        `node name '${node.name}' is reserved: khw files ${reserved} under it`,
        `rename the node, e.g. '${node.name}-1'`,
      );
    }
    const jump = node.ssh.jump ? `${node.ssh.jump.host}:${node.ssh.jump.port} → ` : "";
    const target = `${jump}${node.ssh.host ?? node.address}:${node.ssh.port}`;
    const prevSsh = seenSsh.get(target);
    const addrIsDup = node.ssh.host === undefined && seenAddr.has(node.address);
    if (prevSsh !== undefined && !addrIsDup) {
      err(
        `${p}.ssh`,
        "duplicate-ssh-target",
        `SSH target ${target} is also used by nodes[${prevSsh}]: both would be the same machine`,
        "give every node its own ssh.host or ssh.port",
      );
    } else if (prevSsh === undefined) seenSsh.set(target, i);
    const prevName = seenName.get(node.name);
    if (prevName !== undefined) {
      err(
        `${p}.name`,
        "duplicate-name",
        `node name '${node.name}' is also used by nodes[${prevName}]`,
        "give every node its own name",
      );
    } else seenName.set(node.name, i);
    if (!isIpv4(node.address)) {
      err(
        `${p}.address`,
        "invalid-ip",
        `${quoteValue(node.address)} is not an IPv4 address`,
        "write it as a.b.c.d, e.g. 192.168.56.11",
      );
    } else {
      const prevAddr = seenAddr.get(node.address);
      if (prevAddr !== undefined) {
        err(
          `${p}.address`,
          "duplicate-address",
          `address ${node.address} is also used by nodes[${prevAddr}]`,
          "give every node its own address",
        );
      } else seenAddr.set(node.address, i);
      if (contains(parseCidr("127.0.0.0/8")!, node.address)) {
        warn(
          `${p}.address`,
          "loopback-address",
          `${node.address} is a loopback address: other nodes cannot reach it and kube-apiserver refuses to advertise it`,
          "use the node's address on the cluster network (loopback only suits single-machine tests of etcd)",
        );
      }
      const special = SPECIAL_RANGES.find(
        (r) => r.node === "error" && contains(parseCidr(r.cidr)!, node.address),
      );
      if (special) {
        const what =
          node.address === "0.0.0.0"
            ? "the unspecified address (any address)"
            : node.address === "255.255.255.255"
              ? "the broadcast address"
              : `in ${special.what}`;
        err(
          `${p}.address`,
          "address-not-unicast",
          `${node.address} is ${what}, not a host's address`,
          "use the node's own address on the cluster network, e.g. 192.168.56.11",
        );
      }
      if (contains(nat, node.address)) {
        err(
          `${p}.address`,
          "address-is-nat",
          `${node.address} is on VirtualBox's NAT network ${VIRTUALBOX_NAT_CIDR}, which every VM shares`,
          "use the node's host-only address (e.g. 192.168.56.x)",
        );
      }
      for (const [key, net] of [
        ["podCIDR", nets.pod],
        ["serviceCIDR", nets.service],
      ] as const) {
        if (net && contains(net, node.address)) {
          err(
            `${p}.address`,
            "address-in-cluster-cidr",
            `${node.address} lies inside network.${key} ${net.cidr}`,
            `move network.${key} off the nodes' network`,
          );
        }
      }
    }
    for (const key of Object.keys(node.kubelet?.extraConfig ?? {})) {
      if (key === "apiVersion" || key === "kind") {
        err(
          `${p}.kubelet.extraConfig.${key}`,
          "reserved-key",
          `${key} is set by khw`,
          `remove ${key} from extraConfig`,
        );
      }
    }
    for (const key of Object.keys(node.kubeProxy?.extraConfig ?? {})) {
      if (key === "apiVersion" || key === "kind") {
        err(
          `${p}.kubeProxy.extraConfig.${key}`,
          "reserved-key",
          `${key} is set by khw`,
          `remove ${key} from extraConfig`,
        );
      }
    }
    if (node.kubelet && node.role !== "worker") {
      err(
        `${p}.kubelet`,
        "kubelet-not-worker",
        `'${node.name}' is a ${node.role}; only workers run a kubelet`,
        "remove kubelet from this node",
      );
    }
  });

  const cps = spec.nodes.filter((n) => n.role === "controlplane");
  const lbs = spec.nodes.filter((n) => n.role === "loadbalancer");
  const workers = spec.nodes.filter((n) => n.role === "worker");
  if (cps.length === 0) {
    err(
      "nodes",
      "no-controlplane",
      "no node has role controlplane",
      "add at least one node with role: controlplane",
    );
  }
  if (lbs.length > 1) {
    err(
      "nodes",
      "multiple-loadbalancers",
      `${lbs.length} nodes have role loadbalancer; khw supports one`,
      "keep one loadbalancer",
    );
  }
  if (cps.length > 1 && lbs.length === 0) {
    err(
      "nodes",
      "no-loadbalancer",
      `${cps.length} control planes but no load balancer: clients would depend on one of them`,
      "add a node with role: loadbalancer, or keep a single control plane",
    );
  }
  if (cps.length > 0 && cps.length % 2 === 0) {
    warn(
      "nodes",
      "even-etcd-members",
      `${cps.length} etcd members (one per control plane) tolerate ${Math.floor((cps.length - 1) / 2)} failed member(s), no more than ${cps.length - 1} would`,
      "use an odd number of control planes (1 or 3)",
    );
  }
  if (nets.pod) {
    const mask = spec.network.nodeCIDRMaskSize;
    if (mask < nets.pod.prefix) {
      err(
        "network.nodeCIDRMaskSize",
        "node-mask-too-wide",
        `/${mask} per node is larger than the pod CIDR ${spec.network.podCIDR}`,
        `use a mask of at least ${nets.pod.prefix}`,
      );
    } else if (subnetCount(nets.pod, mask) < workers.length) {
      err(
        "network.podCIDR",
        "pod-cidr-too-small",
        `${spec.network.podCIDR} holds ${subnetCount(nets.pod, mask)} node slices of /${mask}, fewer than the ${workers.length} workers`,
        "widen the pod CIDR or narrow nodeCIDRMaskSize",
      );
    }
  }
  if (workers.length === 0 && spec.addons.dns) {
    warn(
      "addons.dns",
      "dns-without-workers",
      "DNS is on but there are no workers to run CoreDNS",
      "add a worker or set addons.dns: false",
    );
  }
  spec.pki.extraApiserverSANs.forEach((san, i) => {
    if (
      !isIpv4(san) &&
      !/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(san)
    ) {
      err(
        `pki.extraApiserverSANs[${i}]`,
        "invalid-san",
        `${quoteValue(san)} is neither an IPv4 address nor a DNS name`,
        "write an IPv4 address (10.0.0.5) or a DNS name (api.example.com)",
      );
    }
  });
  const k8s = SUPPORTED_VERSIONS.kubernetes;
  if (!isSupportedKubernetes(spec.versions.kubernetes)) {
    err(
      "versions.kubernetes",
      "unsupported-version",
      `Kubernetes ${spec.versions.kubernetes} is not supported: khw's flags and config fields are checked for ${k8s.from} through ${k8s.through}.x`,
      `use a version from ${k8s.from} through ${k8s.through}.x, e.g. v1.34.4`,
    );
  }
  if (!isSupportedContainerd(spec.versions.containerd)) {
    err(
      "versions.containerd",
      "unsupported-version",
      `containerd ${spec.versions.containerd} is not supported: khw writes config version 3, which containerd reads from ${SUPPORTED_VERSIONS.containerd.from} on`,
      `use containerd ${SUPPORTED_VERSIONS.containerd.through}.x, e.g. 2.1.4`,
    );
  }
  if (spec.pki.validityDays > spec.pki.caValidityDays) {
    err(
      "pki.validityDays",
      "leaf-outlives-ca",
      `certificates valid for ${spec.pki.validityDays} days would outlive the CA (pki.caValidityDays: ${spec.pki.caValidityDays})`,
      `set pki.validityDays to at most ${spec.pki.caValidityDays}, or raise pki.caValidityDays`,
    );
  }
  const b = spec.binaries;
  if (b.source === "mirror" && !b.mirror) {
    err(
      "binaries.mirror",
      "mirror-missing",
      "binaries.source is mirror but no mirror URL is set",
      "set binaries.mirror: http://host:port",
    );
  }
  if (b.mirror !== undefined && !/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(b.mirror)) {
    err(
      "binaries.mirror",
      "invalid-url",
      `${quoteValue(b.mirror)} is not an http(s) URL`,
      "write the mirror's base URL, e.g. http://10.0.0.1:8080",
    );
  }
  if (b.mirror !== undefined && b.source !== "mirror") {
    err(
      "binaries.source",
      "mirror-unused",
      `a mirror is set but binaries.source is ${b.source}`,
      "set binaries.source: mirror or remove binaries.mirror",
    );
  }
  if (b.source === "bundle" && !b.bundleDir) {
    err(
      "binaries.bundleDir",
      "bundle-missing",
      "binaries.source is bundle but no bundleDir is set",
      "set binaries.bundleDir to a directory made by `khw bundle build`",
    );
  }
  if (b.bundleDir !== undefined && b.source !== "bundle") {
    err(
      "binaries.source",
      "bundle-unused",
      `a bundleDir is set but binaries.source is ${b.source}`,
      "set binaries.source: bundle or remove binaries.bundleDir",
    );
  }
  return issues;
}

function toClusterNode(node: NodeSpec): ClusterNode {
  const { host, port, user, identityFile, jump } = node.ssh;
  return {
    name: node.name,
    role: node.role,
    address: node.address,
    ssh: {
      host: host ?? node.address,
      port,
      user,
      ...(identityFile !== undefined ? { identityFile } : {}),
      ...(jump !== undefined ? { jump } : {}),
    },
    ...(node.role === "worker" ? { kubeletCredentials: node.kubelet?.credentials ?? "certificate" } : {}),
    ...(node.role === "worker" && node.kubelet?.extraConfig
      ? { kubeletExtraConfig: node.kubelet.extraConfig }
      : {}),
    ...(node.role === "worker" && node.containerd?.runcBinary
      ? { containerdRuncBinary: node.containerd.runcBinary }
      : {}),
    ...(node.role === "worker" && node.kubeProxy?.extraConfig
      ? { kubeProxyExtraConfig: node.kubeProxy.extraConfig }
      : {}),
  };
}

/**
 * Validates a spec (defaults applied) and computes every derived fact.
 * Throws SpecError listing every error; warnings are returned.
 */
export function resolveCluster(spec: ClusterSpec): { cluster: Cluster; warnings: SpecIssue[] } {
  const issues = validateClusterSpec(spec);
  if (issues.some((i) => i.severity === "error")) throw new SpecError(issues);
  const nodes = spec.nodes.map(toClusterNode);
  const controlPlanes = nodes.filter((n) => n.role === "controlplane");
  const loadBalancer = nodes.find((n) => n.role === "loadbalancer");
  const pod = parseCidr(spec.network.podCIDR)!;
  const service = parseCidr(spec.network.serviceCIDR)!;
  const workers = nodes.filter((n) => n.role === "worker");
  workers.forEach((w, i) => {
    w.podCIDR = nthSubnet(pod, spec.network.nodeCIDRMaskSize, i)!;
  });
  const apiHost = loadBalancer?.address ?? controlPlanes[0]!.address;
  const apiURL = `https://${apiHost}:${API_PORT}`;
  const members = controlPlanes.map((n) => ({
    name: n.name,
    address: n.address,
    peerURL: `https://${n.address}:${ETCD_PEER_PORT}`,
    clientURL: `https://${n.address}:${ETCD_CLIENT_PORT}`,
  }));
  const cluster: Cluster = {
    spec,
    name: spec.name,
    nodes,
    controlPlanes,
    workers,
    loadBalancer,
    network: {
      podCIDR: spec.network.podCIDR,
      serviceCIDR: spec.network.serviceCIDR,
      clusterDomain: spec.network.clusterDomain,
      nodePortRange: spec.network.nodePortRange,
      nodeCIDRMaskSize: spec.network.nodeCIDRMaskSize,
      apiServiceIP: nthAddress(service, 1)!,
      dnsServiceIP: spec.network.dnsServiceIP ?? nthAddress(service, 10)!,
    },
    api: { host: apiHost, port: API_PORT, url: apiURL, viaLoadBalancer: loadBalancer !== undefined },
    serviceAccountIssuer: apiURL,
    etcd: {
      members,
      initialCluster: members.map((m) => `${m.name}=${m.peerURL}`).join(","),
      initialClusterToken: `etcd-${spec.name}`,
      clientURLs: members.map((m) => m.clientURL),
    },
  };
  return { cluster, warnings: issues };
}

/** Nodes that receive files meant for an audience. etcd runs stacked on the control planes. */
export function nodesFor(cluster: Cluster, audience: Role | "etcd" | "all"): ClusterNode[] {
  if (audience === "all") return cluster.nodes;
  const role = audience === "etcd" ? "controlplane" : audience;
  return cluster.nodes.filter((n) => n.role === role);
}

export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}
