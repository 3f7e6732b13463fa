import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildLabImages, IMAGES_MANIFEST, LAB_RUNC_WRAPPER_PATH, labImages } from "@khw/images";
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
  /** Per host: how khw reaches it instead of root on the bridge (`khw lab up --as-vagrant`). */
  ssh?: Record<string, { host: string; port: number; user: string; identityFile: string }>;
  /**
   * binaries.images for the workers (labImageRefs()) when the mirror serves the lab's image tarballs
   * (`khw lab up` builds them into <mirror>/khw-images); without them no image is imported.
   */
  images?: Array<{ ref: string; path: string }>;
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
        ssh: facts.ssh?.[node.name] ?? {
          host: address,
          port: 22,
          user: "root",
          identityFile: facts.identityFile,
        },
        ...(node.role === "worker"
          ? {
              kubelet: {
                ...(node.kubelet ?? {}),
                extraConfig: { ...LAB_KUBELET_CONFIG, ...(node.kubelet?.extraConfig ?? {}) },
              },
              containerd: { runcBinary: LAB_RUNC_WRAPPER_PATH, ...(node.containerd ?? {}) },
              kubeProxy: {
                ...(node.kubeProxy ?? {}),
                extraConfig: { ...LAB_KUBE_PROXY_CONFIG, ...(node.kubeProxy?.extraConfig ?? {}) },
              },
            }
          : {}),
      };
    }),
    addons: labAddons(spec.addons),
    // No registry either: the lab's images (built by @khw/images into the mirror's khw-images/) are
    // imported into containerd on every worker.
    binaries: {
      ...binaries,
      source: "mirror",
      mirror: facts.mirrorUrl,
      ...(facts.images?.length ? { images: facts.images } : {}),
    },
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

/**
 * Lab-only KubeProxyConfiguration fields: nf_conntrack_max is writable only from the machine's initial
 * network namespace (kube-proxy crash-loops with "open /proc/sys/net/netfilter/nf_conntrack_max: permission
 * denied"); maxPerCore 0 leaves the limit as it is.
 */
export const LAB_KUBE_PROXY_CONFIG = { conntrack: { maxPerCore: 0 } } as const;

/**
 * The lab's addons: Weave Net cannot run here (the Go module proxy refuses its module, no registry serves its
 * images, and it is archived upstream), so `weave` becomes `flannel`; `flannel` and `bridge-routes` stay as
 * written. Flannel runs the lab's own flanneld image (@khw/images, `khw.lab/flannel:…`) and takes its CNI
 * plugin from the bundle's CNI archive (`flannelCniPlugin: null`: no registry for flannel-cni-plugin); the
 * smoke test runs the lab's nginx and busybox.
 */
export function labAddons(addons: LabSpecInput["addons"]): Record<string, unknown> {
  const a = (addons ?? {}) as Record<string, unknown> & { images?: Record<string, unknown> };
  const podNetwork = a.podNetwork === "bridge-routes" ? "bridge-routes" : "flannel";
  return { ...a, podNetwork, images: { ...(a.images ?? {}), ...LAB_ADDON_IMAGES } };
}

const labRef = (name: string) => labImages().find((i) => i.name === name)!.ref;

/**
 * Lab-only addons.images: no registry here, so the pod network's and the smoke test's images are the ones
 * @khw/images builds (flanneld from the Go module proxy; nginx and busybox from Debian packages).
 */
export const LAB_ADDON_IMAGES = {
  flannel: labRef("flannel"),
  flannelCniPlugin: null,
  nginx: labRef("nginx"),
  busybox: labRef("busybox"),
} as const;

/** Where the lab's image tarballs live under the mirror's directory (`khw lab up` builds them there). */
export const LAB_IMAGES_DIR = "khw-images";

/** binaries.images of the lab: @khw/images' tarballs under the mirror's khw-images/. */
export function labImageRefs(): Array<{ ref: string; path: string }> {
  return labImages().map((i) => ({ ref: i.ref, path: `${LAB_IMAGES_DIR}/${i.file}` }));
}

/** Whether a mirror directory holds the lab's image tarballs (their manifest, written last). */
export function hasLabImages(mirrorDir: string): boolean {
  return existsSync(join(mirrorDir, LAB_IMAGES_DIR, IMAGES_MANIFEST));
}

/**
 * Builds (or copies from @khw/images' cache) the lab's image tarballs into <mirrorDir>/khw-images, where
 * the lab's mirror serves them to the workers' image import (binaries.images). Needs go and gcc on a
 * cold cache.
 */
export async function prepareLabImages(options: {
  mirrorDir: string;
  onLog?: (line: string) => void;
}): Promise<{ dir: string; cached: boolean; images: number }> {
  const dir = join(options.mirrorDir, LAB_IMAGES_DIR);
  const r = await buildLabImages({ outDir: dir, ...(options.onLog ? { onLog: options.onLog } : {}) });
  return { dir, cached: r.cached, images: r.images.length };
}

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

/** One setting only the lab's cluster.yaml carries (never a default of khw, never a real host's). */
export interface LabOnlySetting {
  /** Where it is in cluster.yaml. */
  field: string;
  /** What the lab writes there. */
  value: string;
  /** Why the lab needs it. */
  why: string;
  /** Reads it from a parsed spec (the unit test checks it is the lab's value only in the lab's cluster.yaml). */
  read: (spec: ClusterSpec) => unknown;
  /** The lab's value as `read` returns it. */
  labValue: unknown;
}

const worker = (spec: ClusterSpec) => spec.nodes.find((n) => n.role === "worker");

/** Every lab-only setting, in one place: `khw lab up` prints them; README's "Lab-only settings" lists them. */
export const LAB_ONLY_SETTINGS: readonly LabOnlySetting[] = [
  {
    field: "nodes[workers].kubelet.extraConfig",
    value: JSON.stringify(LAB_KUBELET_CONFIG),
    why: "cgroup v1 controllers are read-only in systemd-nspawn hosts (no QoS cgroups, no node-allocatable); no resolver on the hosts",
    read: (spec) => worker(spec)?.kubelet?.extraConfig,
    labValue: LAB_KUBELET_CONFIG,
  },
  {
    field: "nodes[workers].containerd.runcBinary",
    value: LAB_RUNC_WRAPPER_PATH,
    why: "a runc wrapper (rootless, no cgroupsPath/resources, no keyring) for read-only cgroups: containers get no limits",
    read: (spec) => worker(spec)?.containerd?.runcBinary,
    labValue: LAB_RUNC_WRAPPER_PATH,
  },
  {
    field: "nodes[workers].kubeProxy.extraConfig",
    value: JSON.stringify(LAB_KUBE_PROXY_CONFIG),
    why: "nf_conntrack_max is writable only from the machine's initial network namespace",
    read: (spec) => worker(spec)?.kubeProxy?.extraConfig,
    labValue: LAB_KUBE_PROXY_CONFIG,
  },
  {
    field: "addons.podNetwork",
    value: "flannel (weave becomes flannel; bridge-routes stays)",
    why: "Weave Net cannot be built or pulled here and is archived upstream",
    read: (spec) => spec.addons.podNetwork,
    labValue: "flannel",
  },
  {
    field: "addons.images",
    value: JSON.stringify(LAB_ADDON_IMAGES),
    why: "no registry: flanneld, nginx and busybox are built by @khw/images; the flannel CNI plugin comes with the bundle's CNI archive",
    read: (spec) => spec.addons.images,
    labValue: LAB_ADDON_IMAGES,
  },
];
