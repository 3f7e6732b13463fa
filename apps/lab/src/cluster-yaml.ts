import {
  type ClusterSpec,
  type ClusterSpecInput,
  defaultClusterSpecInput,
  formatIssues,
  loadCluster,
  renderClusterYaml,
  SpecError,
} from "@khw/spec";
import { LabError } from "./errors";
import { LAB_SUBNET, type LabHost } from "./topology";

/** What labUp accepts as topology: a user's spec, as written or parsed (@khw/spec). */
export type LabSpecInput = ClusterSpecInput | ClusterSpec;

export interface LabClusterFacts {
  hosts: readonly LabHost[];
  /** Paths as written into cluster.yaml (relative to the directory holding it). */
  identityFile: string;
  knownHostsFile: string;
  mirrorUrl: string;
}

/** The default topology: @khw/spec's default spec (the Vagrant lab of the guide). */
export function defaultLabSpec(): ClusterSpecInput {
  return defaultClusterSpecInput();
}

/**
 * The user's spec re-pointed at the lab: node addresses on the lab bridge, SSH as root with the lab
 * key, strict host-key checking against the lab's known_hosts, binaries from the lab mirror.
 * Everything else (versions, network, PKI, addons …) stays as the user wrote it.
 */
export function labClusterSpec(spec: LabSpecInput, facts: LabClusterFacts): ClusterSpecInput {
  const byName = new Map(facts.hosts.map((h) => [h.name, h]));
  const { bundleDir: _bundleDir, mirror: _mirror, ...binaries } = spec.binaries ?? {};
  return {
    ...spec,
    nodes: spec.nodes.map((node) => {
      const address = byName.get(node.name)?.address ?? node.address;
      return {
        ...node,
        address,
        ssh: { host: address, port: 22, user: "root", identityFile: facts.identityFile },
        ...(node.role === "worker"
          ? {
              kubelet: {
                ...(node.kubelet ?? {}),
                extraConfig: { ...LAB_KUBELET_CONFIG, ...(node.kubelet?.extraConfig ?? {}) },
              },
            }
          : {}),
      };
    }),
    // Weave Net's images cannot be pulled here (no registry): the lab uses the guide's original pod
    // network, the bridge CNI plugin with static routes between the workers.
    addons: { ...((spec.addons ?? {}) as Record<string, unknown>), podNetwork: "bridge-routes" },
    binaries: { ...binaries, source: "mirror", mirror: facts.mirrorUrl },
    ssh: { hostKeyChecking: "strict", knownHostsFile: facts.knownHostsFile },
  };
}

/**
 * Lab-only KubeletConfiguration fields (written into the lab's cluster.yaml, visible there, never part
 * of khw's defaults): inside a systemd-nspawn host the cgroup v1 controllers are read-only, so the
 * kubelet may not create its QoS cgroups nor enforce node allocatable; and the host has no resolver,
 * so pods get the lab's resolv.conf (a nameserver on the bridge, never 127.0.0.1, which would make
 * CoreDNS forward to itself).
 */
export const LAB_KUBELET_CONFIG = {
  cgroupsPerQOS: false,
  enforceNodeAllocatable: [],
  resolvConf: "/etc/khw-lab/resolv.conf",
} as const;

/** cluster.yaml for the lab, validated by @khw/spec (a spec the lab cannot host is refused here). */
export function renderLabClusterYaml(spec: LabSpecInput, facts: LabClusterFacts): string {
  const labSpec = labClusterSpec(spec, facts);
  try {
    loadCluster(labSpec, { file: "cluster.yaml (lab)" });
  } catch (err) {
    if (err instanceof SpecError) {
      throw new LabError(
        "LAB_SPEC_INVALID",
        `the spec does not work in the lab:\n${formatIssues(err.issues)}`,
        {
          step: "spec",
          hint: "fix the spec (the lab keeps its networks and versions, and only changes addresses, SSH and binaries)",
          cause: err,
        },
      );
    }
    throw err;
  }
  return [
    "# Written by `khw lab up`: the lab's systemd-nspawn hosts on the bridge",
    `# ${LAB_SUBNET}, reached as root with the lab key; binaries from the lab mirror.`,
    "# `khw lab down` stops the hosts; `khw lab up --force` rewrites this file.",
    renderClusterYaml(labSpec, { comments: false }),
  ].join("\n");
}
