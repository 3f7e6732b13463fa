import type { LabHost } from "./topology";

/** A node of a user's spec as the lab reads it (a @khw/spec `NodeSpec` fits). */
export interface LabSpecNode {
  name: string;
  role: "controlplane" | "worker" | "loadbalancer";
  address?: string;
  kubelet?: { credentials: "certificate" | "tls-bootstrap" };
  [key: string]: unknown;
}

export interface LabSpecInput {
  nodes: readonly LabSpecNode[];
  [key: string]: unknown;
}

export interface LabClusterFacts {
  hosts: readonly LabHost[];
  /** Paths as written into cluster.yaml (relative to the directory holding it). */
  identityFile: string;
  knownHostsFile: string;
  mirrorUrl: string;
}

/**
 * The user's spec re-pointed at the lab: node addresses on the lab bridge, SSH as root with the lab
 * key, strict host-key checking against the lab's known_hosts, binaries from the lab mirror.
 * Everything else (versions, network, PKI, addons …) is kept as the user wrote it.
 */
export function labClusterSpec(spec: LabSpecInput, facts: LabClusterFacts): Record<string, unknown> {
  const byName = new Map(facts.hosts.map((h) => [h.name, h]));
  const binaries = (spec.binaries ?? {}) as Record<string, unknown>;
  const { bundleDir: _bundleDir, ...binariesRest } = binaries;
  return {
    apiVersion: spec.apiVersion ?? "khw/v1alpha1",
    kind: spec.kind ?? "Cluster",
    ...spec,
    nodes: spec.nodes.map((node) => {
      const host = byName.get(node.name);
      const out: Record<string, unknown> = {
        ...node,
        address: host?.address ?? node.address,
        ssh: {
          host: host?.address ?? node.address,
          port: 22,
          user: "root",
          identityFile: facts.identityFile,
        },
      };
      return out;
    }),
    binaries: { ...binariesRest, source: "mirror", mirror: facts.mirrorUrl },
    ssh: { hostKeyChecking: "strict", knownHostsFile: facts.knownHostsFile },
  };
}

/** The default spec's nodes, used until the caller passes a spec. */
export function defaultLabSpec(): LabSpecInput {
  return {
    apiVersion: "khw/v1alpha1",
    kind: "Cluster",
    name: "kubernetes-the-hard-way",
    nodes: [
      { name: "master-1", role: "controlplane", address: "192.168.56.11" },
      { name: "master-2", role: "controlplane", address: "192.168.56.12" },
      { name: "worker-1", role: "worker", address: "192.168.56.21", kubelet: { credentials: "certificate" } },
      {
        name: "worker-2",
        role: "worker",
        address: "192.168.56.22",
        kubelet: { credentials: "tls-bootstrap" },
      },
      { name: "loadbalancer", role: "loadbalancer", address: "192.168.56.30" },
    ],
  };
}

const PLAIN = /^[A-Za-z0-9_./:@-]+$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|[-+]?[0-9][0-9_.:eE+-]*)$/i;

function scalar(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const s = String(value);
  return PLAIN.test(s) && !RESERVED.test(s) ? s : JSON.stringify(s);
}

/** A small YAML emitter for plain data (maps, lists, scalars) — stable order as given. */
export function toYaml(value: unknown, indent = 0): string {
  const pad = " ".repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return `${pad}[]\n`;
    return value
      .map((item) => {
        if (item !== null && typeof item === "object") {
          const inner = toYaml(item, indent + 2);
          return `${pad}- ${inner.slice(indent + 2)}`;
        }
        return `${pad}- ${scalar(item)}\n`;
      })
      .join("");
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return `${pad}{}\n`;
    return entries
      .map(([k, v]) => {
        if (v !== null && typeof v === "object") {
          const empty = Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0;
          if (empty) return `${pad}${k}: ${Array.isArray(v) ? "[]" : "{}"}\n`;
          return `${pad}${k}:\n${toYaml(v, Array.isArray(v) ? indent : indent + 2)}`;
        }
        return `${pad}${k}: ${scalar(v)}\n`;
      })
      .join("");
  }
  return `${pad}${scalar(value)}\n`;
}

/** cluster.yaml text for the lab (rendered with @khw/spec's renderer once that package exports it). */
export function renderLabClusterYaml(spec: LabSpecInput, facts: LabClusterFacts): string {
  return `# Written by \`khw lab up\`: the lab's hosts (systemd-nspawn on bridge ${facts.hosts[0]?.address.replace(/\.\d+$/, ".0/24") ?? ""}).\n${toYaml(labClusterSpec(spec, facts))}`;
}
