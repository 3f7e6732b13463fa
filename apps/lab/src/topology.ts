import { LabError } from "./errors";

export type LabRole = "controlplane" | "worker" | "loadbalancer";

/** The part of a cluster spec the lab needs (a `ClusterSpec` from @khw/spec fits). */
export interface LabTopologyInput {
  nodes: ReadonlyArray<{ name: string; role: LabRole; address?: string }>;
}

export interface LabHost {
  name: string;
  role: LabRole;
  /** The host's address on the lab bridge. */
  address: string;
}

export interface LabNetwork {
  /** Linux bridge name (at most 15 characters). */
  bridge: string;
  /** The bridge's own address: the machine's side, where the mirror listens. */
  gateway: string;
  prefixLength: number;
}

export const LAB_SUBNET_PREFIX = "198.18.0.";
export const LAB_GATEWAY = "198.18.0.1";
/**
 * The lab network is 198.18.0.0/27 (.1 the bridge, .2-.30 hosts): it holds the Vagrant layout's
 * octets and leaves the rest of 198.18.0.0/24 to other test suites' own /27s (no overlapping routes).
 */
export const LAB_PREFIX_LENGTH = 27;
export const LAB_SUBNET = "198.18.0.0/27";
const FIRST_HOST_OCTET = 2;
const LAST_HOST_OCTET = 30;
export const LAB_MIRROR_PORT = 8080;

/** The default topology: the Vagrant lab of "Kubernetes the Hard Way". */
export const DEFAULT_LAB_TOPOLOGY: LabTopologyInput = {
  nodes: [
    { name: "master-1", role: "controlplane", address: "192.168.56.11" },
    { name: "master-2", role: "controlplane", address: "192.168.56.12" },
    { name: "worker-1", role: "worker", address: "192.168.56.21" },
    { name: "worker-2", role: "worker", address: "192.168.56.22" },
    { name: "loadbalancer", role: "loadbalancer", address: "192.168.56.30" },
  ],
};

const ROLE_BASE: Record<LabRole, number> = { controlplane: 11, worker: 21, loadbalancer: 30 };
const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Lab addresses: 198.18.0.<last octet of the spec's address> when it is in 2..30 (the Vagrant layout:
 * masters .11/.12, workers .21/.22, LB .30); other nodes get the next free one from their role's base
 * (.11 control planes, .21 workers, .30 load balancer), then any free one.
 */
export function labHosts(topology: LabTopologyInput): LabHost[] {
  if (topology.nodes.length === 0) {
    throw new LabError("LAB_SPEC_INVALID", "the spec has no nodes.", {
      step: "spec",
      hint: "give at least one node under `nodes:`",
    });
  }
  const used = new Set<number>([0, 1]);
  const names = new Set<string>();
  const octets = new Map<string, number>();
  for (const node of topology.nodes) {
    if (!HOSTNAME.test(node.name)) {
      throw new LabError("LAB_SPEC_INVALID", `node name "${node.name}" is not a valid hostname.`, {
        step: "spec",
        host: node.name,
        hint: "use lowercase letters, digits and dashes (e.g. master-1)",
      });
    }
    if (names.has(node.name)) {
      throw new LabError("LAB_SPEC_INVALID", `node name "${node.name}" appears twice.`, {
        step: "spec",
        host: node.name,
        hint: "give every node its own name",
      });
    }
    names.add(node.name);
    const last = Number(node.address?.split(".")[3]);
    if (Number.isInteger(last) && last >= FIRST_HOST_OCTET && last <= LAST_HOST_OCTET && !used.has(last)) {
      used.add(last);
      octets.set(node.name, last);
    }
  }
  for (const node of topology.nodes) {
    if (octets.has(node.name)) continue;
    let candidate: number | undefined = ROLE_BASE[node.role];
    while (candidate <= LAST_HOST_OCTET && used.has(candidate)) candidate++;
    if (candidate > LAST_HOST_OCTET) {
      candidate = undefined;
      for (let o = FIRST_HOST_OCTET; o <= LAST_HOST_OCTET && candidate === undefined; o++) {
        if (!used.has(o)) candidate = o;
      }
    }
    if (candidate === undefined) {
      throw new LabError(
        "LAB_SPEC_INVALID",
        `the spec has more nodes than the lab network ${LAB_SUBNET} holds.`,
        {
          step: "spec",
          hint: `use at most ${LAST_HOST_OCTET - FIRST_HOST_OCTET + 1} nodes`,
        },
      );
    }
    used.add(candidate);
    octets.set(node.name, candidate);
  }
  return topology.nodes.map((node) => ({
    name: node.name,
    role: node.role,
    address: `${LAB_SUBNET_PREFIX}${octets.get(node.name)}`,
  }));
}

/** Names derived from the lab name, so leftovers can be found without any state file. */
export function labNames(labName: string) {
  return {
    bridge: `khw-${labName}`,
    cgroup: `khw-lab-${labName}`,
    mountTag: `khw-lab-${labName}`,
  };
}

const LAB_NAME = /^[a-z0-9][a-z0-9-]{0,10}$/;

export function assertLabName(labName: string): void {
  if (!LAB_NAME.test(labName)) {
    throw new LabError("LAB_SPEC_INVALID", `lab name "${labName}" is not usable.`, {
      step: "spec",
      hint: "use 1-11 lowercase letters, digits or dashes (it becomes the bridge name khw-<name>)",
    });
  }
}

/** /etc/hosts of every lab host: all nodes by name. */
export function renderEtcHosts(hosts: readonly LabHost[]): string {
  const lines = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "",
    "# khw lab nodes",
    ...hosts.map((h) => `${h.address}\t${h.name}`),
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * systemd-networkd: the host's static address on host0 (the nspawn veth); no gateway, no DNS. A default route
 * on the link itself (no gateway, so nothing is routed beyond the lab's bridge): real hosts have a default
 * route, and host-network pods rely on it — flanneld picks its interface from it, and a Service IP
 * (10.96.0.1, DNAT'ed by kube-proxy only after the route lookup) is unreachable without one.
 */
export function renderHost0Network(host: LabHost): string {
  return [
    "[Match]",
    "Name=host0",
    "",
    "[Network]",
    `Address=${host.address}/${LAB_PREFIX_LENGTH}`,
    "LinkLocalAddressing=no",
    "IPv6AcceptRA=no",
    "",
    "[Route]",
    "Destination=0.0.0.0/0",
    "Scope=link",
    "",
  ].join("\n");
}
