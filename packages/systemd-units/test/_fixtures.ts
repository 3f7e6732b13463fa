import {
  type Cluster,
  type ClusterSpecInput,
  ClusterSpecSchema,
  defaultClusterSpec,
  resolveCluster,
} from "@khw/spec";

/** The default spec: the Vagrant lab (2 masters, a certificate and a tls-bootstrap worker, an LB). */
export function defaultCluster(): Cluster {
  return resolveCluster(defaultClusterSpec()).cluster;
}

/** An unusual spec: 3 masters on loopback addresses, 1 worker, custom CIDRs, domain and name, an older Kubernetes. */
export const UNUSUAL_SPEC: ClusterSpecInput = {
  name: "odd-lab",
  nodes: [
    { name: "cp-a", role: "controlplane", address: "127.0.0.11" },
    { name: "cp-b", role: "controlplane", address: "127.0.0.12" },
    { name: "cp-c", role: "controlplane", address: "127.0.0.13" },
    { name: "node-x", role: "worker", address: "127.0.0.21", kubelet: { credentials: "tls-bootstrap" } },
    { name: "lb", role: "loadbalancer", address: "127.0.0.30" },
  ],
  network: {
    podCIDR: "172.20.0.0/16",
    serviceCIDR: "10.32.0.0/20",
    dnsServiceIP: "10.32.0.53",
    clusterDomain: "odd.internal",
    nodePortRange: "31000-31999",
    nodeCIDRMaskSize: 26,
  },
  versions: { kubernetes: "v1.30.14" },
};

export function unusualCluster(): Cluster {
  return resolveCluster(ClusterSpecSchema.parse(UNUSUAL_SPEC)).cluster;
}

/** A single-master cluster without a load balancer and with a certificate worker. */
export function singleMasterCluster(): Cluster {
  return resolveCluster(
    ClusterSpecSchema.parse({
      name: "solo",
      nodes: [
        { name: "solo-cp", role: "controlplane", address: "127.0.0.11" },
        { name: "solo-w", role: "worker", address: "127.0.0.21" },
      ],
    }),
  ).cluster;
}

export const SPECS = { default: defaultCluster, unusual: unusualCluster } as const;

/** A fixed aescbc key for golden files (32 bytes). */
export const KEY = Buffer.from("khw-golden-encryption-key-32-byt").toString("base64");

/** Arguments that break naive unit writers. */
export const TRICKY = [
  "--plain=a",
  "--space=a b",
  "--two  spaces",
  "--tab=a\tb",
  "--newline=a\nb",
  '--dquote=a"b',
  "--squote=it's",
  "--backslash=C:\\dir\\",
  "--dollar=$HOME",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${HOME} is the point
  "--braces=${HOME}",
  "--dollar-end=$",
  "--percent=100%",
  "--specifier=%n",
  "--semicolon=a;b",
  ";",
  "",
  "--unicode=grüße→✓",
  "--controllers=*,bootstrapsigner,tokencleaner",
  "--esc=\\x41",
];
