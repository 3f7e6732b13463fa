import { z } from "zod";
import { DNS_LABEL } from "./_dns";
import {
  BINARY_SOURCES,
  HOST_KEY_CHECKING,
  KEY_ALGORITHMS,
  KUBELET_CREDENTIALS,
  POD_NETWORKS,
  ROLES,
} from "./enums";

export { DNS_LABEL } from "./_dns";

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const dnsLabel = z
  .string()
  .regex(DNS_LABEL, "must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters");
const port = z.number().int().min(1).max(65535);
const version = (pattern: RegExp, example: string) =>
  z
    .string()
    .regex(pattern, `must be a release version like ${example}`)
    .meta({ examples: [example] });

export const JumpHostSchema = z
  .strictObject({
    host: z.string().min(1).meta({ description: "Address or name of the bastion." }),
    port: port.default(22),
    user: z.string().min(1).default("root"),
    identityFile: z.string().min(1).optional().meta({ description: "Private key for the bastion." }),
  })
  .meta({ description: "A bastion to hop through (ProxyJump)." });

export const NodeSshSchema = z
  .strictObject({
    host: z
      .string()
      .min(1)
      .optional()
      .meta({ description: "Where to connect; defaults to the node's address." }),
    port: port.default(22),
    user: z.string().min(1).default("root"),
    identityFile: z
      .string()
      .min(1)
      .optional()
      .meta({ description: "Private key file, relative to cluster.yaml. Without it the SSH agent is used." }),
    jump: JumpHostSchema.optional(),
  })
  .meta({ description: "How the admin machine reaches the node over SSH." });

export const NodeSchema = z
  .strictObject({
    name: dnsLabel.meta({ description: "Host name, also the Kubernetes node name.", examples: ["worker-1"] }),
    role: z.enum(ROLES),
    address: z.string().meta({ description: "The node's IPv4 address on the cluster network." }),
    ssh: NodeSshSchema.prefault({}),
    kubelet: z
      .strictObject({
        credentials: z.enum(KUBELET_CREDENTIALS).default("certificate").meta({
          description: "certificate: a pre-issued client cert; tls-bootstrap: a bootstrap token and a CSR.",
        }),
        extraConfig: z.record(z.string(), z.unknown()).optional().meta({
          description:
            "KubeletConfiguration fields set over khw's (top-level keys replace khw's), e.g. the lab's settings for hosts whose cgroups are read-only.",
        }),
      })
      .optional()
      .meta({ description: "Workers only." }),
    containerd: z
      .strictObject({
        runcBinary: z
          .string()
          .regex(/^\//, "must be an absolute path")
          .optional()
          .meta({
            examples: ["/usr/local/sbin/runc"],
            description:
              "containerd's runc BinaryName (default /usr/local/sbin/runc); the lab points it at a wrapper for hosts whose cgroups are read-only.",
          }),
      })
      .optional()
      .meta({ description: "Workers only." }),
    kubeProxy: z
      .strictObject({
        extraConfig: z.record(z.string(), z.unknown()).optional().meta({
          description:
            "KubeProxyConfiguration fields set over khw's (top-level keys replace khw's), e.g. the lab's conntrack.maxPerCore: 0.",
        }),
      })
      .optional()
      .meta({ description: "Workers only." }),
  })
  .meta({ description: "One host of the cluster." });

export const NetworkSchema = z.strictObject({
  podCIDR: z.string().default("10.244.0.0/16").meta({ description: "Pod network; each node gets a slice." }),
  serviceCIDR: z.string().default("10.96.0.0/16"),
  dnsServiceIP: z
    .string()
    .optional()
    .meta({ description: "Cluster DNS address; defaults to the 10th address of the service CIDR." }),
  clusterDomain: z
    .string()
    .regex(DNS_NAME, "must be a DNS name like cluster.local")
    .meta({ examples: ["cluster.local"] })
    .default("cluster.local"),
  nodePortRange: z
    .string()
    .regex(/^\d{1,5}-\d{1,5}$/, "must be a range like 30000-32767")
    .meta({ examples: ["30000-32767"] })
    .default("30000-32767"),
  nodeCIDRMaskSize: z.number().int().min(8).max(30).default(24),
});

export const VersionsSchema = z.strictObject({
  kubernetes: version(/^v1\.\d+\.\d+$/, "v1.34.4").default("v1.34.4"),
  etcd: version(/^v3\.\d+\.\d+$/, "v3.6.16").default("v3.6.16"),
  containerd: version(/^\d+\.\d+\.\d+$/, "2.1.4").default("2.1.4"),
  runc: version(/^\d+\.\d+\.\d+$/, "1.3.3").default("1.3.3"),
  cniPlugins: version(/^\d+\.\d+\.\d+$/, "1.8.0").default("1.8.0"),
  coredns: version(/^\d+\.\d+\.\d+$/, "1.11.3").default("1.11.3"),
  weave: version(/^\d+\.\d+\.\d+$/, "2.8.1").default("2.8.1"),
});

export const PkiSchema = z.strictObject({
  keyAlgorithm: z.enum(KEY_ALGORITHMS).default("rsa-2048"),
  caValidityDays: z.number().int().min(1).max(36500).default(3650),
  validityDays: z.number().int().min(1).max(3650).default(365),
  extraApiserverSANs: z
    .array(z.string())
    .default([])
    .meta({ description: "More DNS names or IPs for the apiserver certificate." }),
});

export const BinariesSchema = z.strictObject({
  source: z.enum(BINARY_SOURCES).default("official").meta({
    description:
      "official: dl.k8s.io and GitHub releases; mirror: the same paths under `mirror`; bundle: a local directory.",
  }),
  mirror: z
    .string()
    .optional()
    .meta({ description: "Base URL serving the official layout (<mirror>/dl.k8s.io/release/...)." }),
  bundleDir: z
    .string()
    .optional()
    .meta({ description: "Directory in the official layout, relative to cluster.yaml." }),
  arch: z.enum(["amd64", "arm64"]).default("amd64"),
  images: z
    .array(z.strictObject({ ref: z.string().min(1), path: z.string().min(1) }))
    .optional()
    .meta({
      description:
        "Image tarballs (docker-archive) under the mirror, imported into containerd (namespace k8s.io) on every worker when the reference is missing: air-gapped installs and the lab.",
    }),
});

const imageRef = z
  .string()
  .regex(
    /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+:[\w.-]+$/,
    "must be a fully qualified image reference with a tag",
  )
  .meta({ examples: ["ghcr.io/flannel-io/flannel:v0.28.10"] });

export const AddonImagesSchema = z
  .strictObject({
    flannel: imageRef.default("ghcr.io/flannel-io/flannel:v0.28.10").meta({
      description: "flanneld and its install-conf (podNetwork: flannel).",
    }),
    flannelCniPlugin: imageRef
      .nullable()
      .default("ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3")
      .meta({
        description:
          "Copies the flannel CNI plugin into /opt/cni/bin (podNetwork: flannel). null: the plugin comes with the CNI plugins archive (a bundle built by khw has it; the official 1.x archives do not).",
      }),
    nginx: imageRef
      .default("docker.io/library/nginx:1.27")
      .meta({ description: "The smoke test's web server." }),
    busybox: imageRef
      .default("docker.io/library/busybox:1.28")
      .meta({ description: "The smoke test's shell and nslookup." }),
  })
  .meta({ description: "Images of the pod network and the smoke test (the guide's by default)." });

export const AddonsSchema = z.strictObject({
  podNetwork: z.enum(POD_NETWORKS).default("weave").meta({
    description:
      "weave: Weave Net (archived upstream, not exercised in the lab); flannel: Flannel (vxlan, kube-subnet-mgr); bridge-routes: the bridge CNI plugin with static routes.",
  }),
  dns: z.boolean().default(true),
  images: AddonImagesSchema.prefault({}),
});

export const SshSettingsSchema = z.strictObject({
  hostKeyChecking: z.enum(HOST_KEY_CHECKING).default("accept-new").meta({
    description:
      "strict: only known keys; accept-new: record a host's key on first contact; insecure: no check.",
  }),
  knownHostsFile: z
    .string()
    .default("known_hosts")
    .meta({ description: "OpenSSH known_hosts, relative to cluster.yaml." }),
});

export const ClusterSpecSchema = z
  .strictObject({
    apiVersion: z.literal("khw/v1alpha1").default("khw/v1alpha1"),
    kind: z.literal("Cluster").default("Cluster"),
    name: dnsLabel.meta({ examples: ["kubernetes-the-hard-way"] }).default("kubernetes-the-hard-way"),
    nodes: z.array(NodeSchema).min(1, "must list at least one node"),
    network: NetworkSchema.prefault({}),
    versions: VersionsSchema.prefault({}),
    pki: PkiSchema.prefault({}),
    binaries: BinariesSchema.prefault({}),
    addons: AddonsSchema.prefault({}),
    ssh: SshSettingsSchema.prefault({}),
  })
  .meta({ title: "khw cluster", description: "A Kubernetes-the-hard-way cluster for khw." });

/** What a user writes (defaults optional). */
export type ClusterSpecInput = z.input<typeof ClusterSpecSchema>;
/** The spec with every default applied. */
export type ClusterSpec = z.output<typeof ClusterSpecSchema>;
export type NodeSpec = ClusterSpec["nodes"][number];
export type Role = (typeof ROLES)[number];
export type KubeletCredentials = (typeof KUBELET_CREDENTIALS)[number];
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];
