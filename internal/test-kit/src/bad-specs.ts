// The bad-spec corpus: documents that must not validate (or validate only with a warning), each with the
// issue it must produce — field path, code, exact message and fix — and the exit code `khw validate`
// gives it (3: invalid spec, 0: valid with warnings; see apps/cli/src/errors.ts). Built table by table
// (field × bad value) from the default spec; part of the test kit. packages/spec/test/corpus.test.ts checks every case through
// parseClusterYaml; apps/cli/test/validate.test.ts runs them through `khw validate`.

import { type ClusterSpecInput, defaultClusterSpecInput } from "@khw/spec";
import { stringify } from "yaml";

export interface BadSpec {
  /** Unique, says what is wrong. */
  name: string;
  /** The cluster.yaml text. */
  yaml: string;
  /** `khw validate`'s exit code. */
  exit: 0 | 3;
  severity: "error" | "warning";
  path: string;
  code: string;
  message: string;
  hint: string;
}

type Spec = ClusterSpecInput & Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: the corpus writes arbitrary (wrong) shapes on purpose
type Any = any;

function mutated(mutate: (s: Any) => void): string {
  const spec = structuredClone(defaultClusterSpecInput()) as Spec;
  mutate(spec);
  return stringify(spec);
}

/** Sets a dotted path (`nodes.2.ssh.port`) in a spec. */
function set(s: Any, path: string, value: unknown): void {
  const segs = path.split(".");
  let o = s;
  for (const seg of segs.slice(0, -1)) o = o[seg] ??= {};
  o[segs.at(-1)!] = value;
}

/** `nodes.2.ssh.port` → `nodes[2].ssh.port` */
const display = (path: string) => path.replace(/\.(\d+)(?=\.|$)/g, "[$1]");

const cases: BadSpec[] = [];
const error = (name: string, yaml: string, path: string, code: string, message: string, hint: string) =>
  cases.push({ name, yaml, exit: 3, severity: "error", path, code, message, hint });
const warning = (name: string, yaml: string, path: string, code: string, message: string, hint: string) =>
  cases.push({ name, yaml, exit: 0, severity: "warning", path, code, message, hint });

const NODES = ["master-1", "master-2", "worker-1", "worker-2", "loadbalancer"];

// --- node names colliding with khw's own files -------------------------------------------------------
const RESERVED: [string, string][] = [
  ["admin", "the admin machine's folder of khw gen's output and the admin certificate"],
  ["ca", "the cluster CA's certificate and key (pki/ca.crt, pki/ca.key)"],
  ["kube-apiserver", "kube-apiserver's serving certificate"],
  ["kube-controller-manager", "kube-controller-manager's certificate and kubeconfig"],
  ["kube-scheduler", "kube-scheduler's certificate and kubeconfig"],
  ["kube-proxy", "kube-proxy's certificate and kubeconfig"],
  ["apiserver-kubelet-client", "the apiserver's client certificate towards kubelets"],
  ["etcd-server", "etcd's serving and peer certificate"],
  ["service-account", "the service-account key pair"],
  ["kubelet", "the kubelet kubeconfig of certificate workers"],
  ["kubelet-bootstrap", "the bootstrap kubeconfig of tls-bootstrap workers"],
  ["admin-machine", "the admin's own kubeconfig"],
];
for (const [name, what] of RESERVED) {
  for (const i of [0, 2, 3, 4]) {
    error(
      `${NODES[i]} named '${name}'`,
      mutated((s) => set(s, `nodes.${i}.name`, name)),
      `nodes[${i}].name`,
      "reserved-name",
      `node name '${name}' is reserved: khw files ${what} under it`,
      `rename the node, e.g. '${name}-1'`,
    );
  }
}

// --- node addresses that are no host's address -------------------------------------------------------
const NOT_UNICAST: [string, string][] = [
  ["0.0.0.0", "the unspecified address (any address)"],
  ["0.1.2.3", "in the 'this network' range 0.0.0.0/8 (0.0.0.0 means any address)"],
  ["0.255.255.255", "in the 'this network' range 0.0.0.0/8 (0.0.0.0 means any address)"],
  ["224.0.0.1", "in the multicast range 224.0.0.0/4"],
  ["224.0.0.251", "in the multicast range 224.0.0.0/4"],
  ["239.255.255.250", "in the multicast range 224.0.0.0/4"],
  ["230.1.2.3", "in the multicast range 224.0.0.0/4"],
  ["240.0.0.1", "in the reserved range 240.0.0.0/4 (with the broadcast address 255.255.255.255)"],
  ["250.10.20.30", "in the reserved range 240.0.0.0/4 (with the broadcast address 255.255.255.255)"],
  ["255.255.255.254", "in the reserved range 240.0.0.0/4 (with the broadcast address 255.255.255.255)"],
  ["255.255.255.255", "the broadcast address"],
];
for (const [address, what] of NOT_UNICAST) {
  for (const i of [0, 1, 2, 3, 4]) {
    error(
      `${NODES[i]} at ${address}`,
      mutated((s) => set(s, `nodes.${i}.address`, address)),
      `nodes[${i}].address`,
      "address-not-unicast",
      `${address} is ${what}, not a host's address`,
      "use the node's own address on the cluster network, e.g. 192.168.56.11",
    );
  }
}
for (const i of [0, 2, 4]) {
  warning(
    `${NODES[i]} on loopback (works on one machine only: a warning)`,
    mutated((s) => set(s, `nodes.${i}.address`, "127.0.0.11")),
    `nodes[${i}].address`,
    "loopback-address",
    "127.0.0.11 is a loopback address: other nodes cannot reach it and kube-apiserver refuses to advertise it",
    "use the node's address on the cluster network (loopback only suits single-machine tests of etcd)",
  );
}

const MALFORMED_IPS = [
  "",
  "1.2.3",
  "1.2.3.4.5",
  "256.1.1.1",
  "192.168.56.300",
  "01.2.3.4",
  "192.168.056.11",
  "a.b.c.d",
  "1.2.3.4/24",
  " 1.2.3.4",
  "1.2.3.4 ",
  "::1",
  "fe80::1",
  "localhost",
  "1..2.3",
  "-1.2.3.4",
  "0x7f.0.0.1",
  "192.168.56.11:22",
];
for (const bad of MALFORMED_IPS) {
  for (const i of [0, 2, 4]) {
    error(
      `${NODES[i]} address '${bad}'`,
      mutated((s) => set(s, `nodes.${i}.address`, bad)),
      `nodes[${i}].address`,
      "invalid-ip",
      `'${bad}' is not an IPv4 address`,
      "write it as a.b.c.d, e.g. 192.168.56.11",
    );
  }
}

// --- values of the wrong type, per field --------------------------------------------------------------
const WRONG: [unknown, string][] = [
  [42, "number 42"],
  [true, "boolean true"],
  [[], "a list"],
  [{}, "a mapping"],
  [null, "null"],
];
const STRING_FIELDS = [
  "name",
  "nodes.0.name",
  "nodes.2.address",
  "nodes.1.ssh.host",
  "nodes.3.ssh.user",
  "nodes.4.ssh.identityFile",
  "network.podCIDR",
  "network.serviceCIDR",
  "network.dnsServiceIP",
  "network.clusterDomain",
  "network.nodePortRange",
  "versions.kubernetes",
  "versions.etcd",
  "versions.containerd",
  "versions.runc",
  "versions.cniPlugins",
  "versions.coredns",
  "versions.weave",
  "ssh.knownHostsFile",
  "binaries.mirror",
];
const typed = (field: string, expected: string, values: [unknown, string][]) => {
  for (const [value, shown] of values) {
    error(
      `${field} = ${shown}`,
      mutated((s) => set(s, field, value)),
      display(field),
      "invalid-type",
      `must be ${expected}, not ${shown}`,
      `write ${expected} here${value === null ? " (an empty value is null)" : ""}`,
    );
  }
};
for (const field of STRING_FIELDS) typed(field, "a string", WRONG);
const NOT_NUMBERS: [unknown, string][] = [
  ["22", "the string '22'"],
  [true, "boolean true"],
  [[], "a list"],
  [{}, "a mapping"],
  [null, "null"],
];
for (const field of [
  "nodes.0.ssh.port",
  "nodes.3.ssh.port",
  "network.nodeCIDRMaskSize",
  "pki.caValidityDays",
  "pki.validityDays",
]) {
  typed(field, "a number", NOT_NUMBERS);
}
typed("addons.dns", "true or false", [
  ["yes", "the string 'yes'"],
  [1, "number 1"],
  [[], "a list"],
  [null, "null"],
]);
const NOT_MAPPINGS: [unknown, string][] = [
  [42, "number 42"],
  ["x", "the string 'x'"],
  [[], "a list"],
  [null, "null"],
];
for (const field of [
  "network",
  "versions",
  "pki",
  "binaries",
  "addons",
  "ssh",
  "nodes.2.ssh",
  "nodes.3.kubelet",
]) {
  typed(field, "a mapping", NOT_MAPPINGS);
}
typed("nodes", "a list", [
  [7, "number 7"],
  ["master-1", "the string 'master-1'"],
  [{}, "a mapping"],
  [null, "null"],
]);
typed("pki.extraApiserverSANs", "a list", [
  ["api.example.com", "the string 'api.example.com'"],
  [1, "number 1"],
  [{}, "a mapping"],
]);

// --- enumerations ---------------------------------------------------------------------------------------
const ENUMS: [string, string, [string, string][]][] = [
  [
    "nodes.4.role",
    "controlplane, worker, loadbalancer",
    [
      ["loadbalancr", "loadbalancer"],
      ["workr", "worker"],
      ["control-plane", "controlplane"],
    ],
  ],
  [
    "nodes.2.kubelet.credentials",
    "certificate, tls-bootstrap",
    [
      ["certificat", "certificate"],
      ["tls_bootstrap", "tls-bootstrap"],
    ],
  ],
  [
    "pki.keyAlgorithm",
    "rsa-2048, rsa-4096, ecdsa-p256",
    [
      ["rsa-1024", "rsa-2048"],
      ["ecdsa-p384", "ecdsa-p256"],
      ["rsa4096", "rsa-4096"],
    ],
  ],
  [
    "binaries.source",
    "official, mirror, bundle",
    [
      ["offical", "official"],
      ["mirrors", "mirror"],
    ],
  ],
  [
    "binaries.arch",
    "amd64, arm64",
    [
      ["amd", "amd64"],
      ["arm", "arm64"],
    ],
  ],
  [
    "addons.podNetwork",
    "weave, flannel, bridge-routes",
    [
      ["weaves", "weave"],
      ["bridge", "bridge-routes"],
    ],
  ],
  [
    "ssh.hostKeyChecking",
    "strict, accept-new, insecure",
    [
      ["acceptnew", "accept-new"],
      ["stric", "strict"],
      ["insecur", "insecure"],
    ],
  ],
];
for (const [field, allowed, values] of ENUMS) {
  for (const [bad, guess] of values) {
    error(
      `${field} = '${bad}'`,
      mutated((s) => set(s, field, bad)),
      display(field),
      "invalid-value",
      `must be one of ${allowed}, not the string '${bad}'`,
      `did you mean '${guess}'?`,
    );
  }
  error(
    `${field} = 42`,
    mutated((s) => set(s, field, 42)),
    display(field),
    "invalid-value",
    `must be one of ${allowed}, not number 42`,
    `write one of ${allowed}`,
  );
}

// --- versions -----------------------------------------------------------------------------------------------
for (const v of ["v1.29.9", "v1.20.0", "v1.99.0", "v1.38.0", "v1.0.0", "v1.29.0", "v1.40.1", "v1.100.0"]) {
  error(
    `Kubernetes ${v}`,
    mutated((s) => set(s, "versions.kubernetes", v)),
    "versions.kubernetes",
    "unsupported-version",
    `Kubernetes ${v} is not supported: khw's flags and config fields are checked for v1.30.0 through v1.37.x`,
    "use a version from v1.30.0 through v1.37.x, e.g. v1.34.4",
  );
}
for (const v of ["1.7.28", "1.6.0", "3.0.0", "0.1.0", "1.7.0"]) {
  error(
    `containerd ${v}`,
    mutated((s) => set(s, "versions.containerd", v)),
    "versions.containerd",
    "unsupported-version",
    `containerd ${v} is not supported: khw writes config version 3, which containerd reads from 2.0.0 on`,
    "use containerd 2.x, e.g. 2.1.4",
  );
}
const VERSION_FORMATS: [string, string, string[]][] = [
  ["kubernetes", "v1.34.4", ["1.34.4", "v1.34", "latest", "v2.0.0", "v1.34.4-rc.1", "V1.34.4", ""]],
  ["etcd", "v3.6.16", ["3.6.16", "v3.6", "v2.3.8", "latest"]],
  ["containerd", "2.1.4", ["v2.1.4", "2.1", "latest", "2.1.4.1"]],
  ["runc", "1.3.3", ["v1.3.3", "1.3", "main"]],
  ["cniPlugins", "1.8.0", ["v1.8.0", "1.8"]],
  ["coredns", "1.11.3", ["v1.11.3", "1.11"]],
  ["weave", "2.8.1", ["v2.8.1", "latest"]],
];
for (const [key, example, values] of VERSION_FORMATS) {
  for (const bad of values) {
    error(
      `versions.${key} = '${bad}'`,
      mutated((s) => set(s, `versions.${key}`, bad)),
      `versions.${key}`,
      "invalid-format",
      `the string '${bad}' must be a release version like ${example}`,
      `e.g. ${example}`,
    );
  }
}

// --- pod and service CIDRs -------------------------------------------------------------------------------
const SPECIAL: [string, string][] = [
  ["127.0.0.0/8", "the loopback range 127.0.0.0/8"],
  ["127.0.0.0/16", "the loopback range 127.0.0.0/8"],
  ["224.0.0.0/4", "the multicast range 224.0.0.0/4"],
  ["239.0.0.0/8", "the multicast range 224.0.0.0/4"],
  ["0.0.0.0/8", "the 'this network' range 0.0.0.0/8 (0.0.0.0 means any address)"],
  ["169.254.0.0/16", "the link-local range 169.254.0.0/16"],
  ["240.0.0.0/4", "the reserved range 240.0.0.0/4 (with the broadcast address 255.255.255.255)"],
  ["255.255.0.0/16", "the reserved range 240.0.0.0/4 (with the broadcast address 255.255.255.255)"],
];
for (const [key, fix] of [
  ["podCIDR", "10.244.0.0/16"],
  ["serviceCIDR", "10.96.0.0/16"],
] as const) {
  for (const [cidr, what] of SPECIAL) {
    error(
      `${key} ${cidr}`,
      mutated((s) => set(s, `network.${key}`, cidr)),
      `network.${key}`,
      "cidr-special-range",
      `${cidr} overlaps ${what}, which is no host's unicast address`,
      `use a private range such as ${fix}`,
    );
  }
  for (const bad of [
    "10.244.0.0",
    "10.244.0.0/33",
    "10.244.0.0/",
    "/16",
    "10.244.0/16",
    "10.244.0.0/16/1",
    "10.244.0.0/-1",
    "10.244.0.0/016",
    "a.b.c.d/16",
    "10.244.0.0 /16",
    "",
  ]) {
    error(
      `${key} '${bad}'`,
      mutated((s) => set(s, `network.${key}`, bad)),
      `network.${key}`,
      "invalid-cidr",
      `'${bad}' is not an IPv4 CIDR`,
      "write it as a.b.c.d/n, e.g. 10.96.0.0/16",
    );
  }
  for (const [bad, net] of [
    ["172.30.1.0/16", "172.30.0.0/16"],
    ["172.30.0.1/24", "172.30.0.0/24"],
  ] as const) {
    error(
      `${key} with host bits ${bad}`,
      mutated((s) => set(s, `network.${key}`, bad)),
      `network.${key}`,
      "cidr-not-network",
      `'${bad}' has host bits set`,
      `use the network address ${net}`,
    );
  }
}
for (const [cidr, bits] of [
  ["172.0.0.0/8", 24],
  ["100.64.0.0/10", 22],
  ["172.32.0.0/11", 21],
  ["64.0.0.0/2", 30],
] as const) {
  error(
    `service CIDR ${cidr} larger than /12`,
    mutated((s) => set(s, "network.serviceCIDR", cidr)),
    "network.serviceCIDR",
    "service-cidr-too-large",
    `${cidr} holds 2^${bits} addresses; kube-apiserver refuses a service range larger than /12 (2^20 addresses) before v1.34, and kubeadm at every version`,
    "use a /12 or smaller range (a longer prefix), e.g. 10.96.0.0/12",
  );
}
for (const cidr of ["10.96.0.0/29", "10.96.0.0/30", "10.96.0.0/32"]) {
  error(
    `service CIDR ${cidr} too small`,
    mutated((s) => set(s, "network.serviceCIDR", cidr)),
    "network.serviceCIDR",
    "service-cidr-too-small",
    `${cidr} is too small for the API and DNS service IPs`,
    "use a /28 or larger (e.g. /16)",
  );
}
for (const [dns, fix] of [
  ["10.96.0", "10.96.0.10"],
  ["10.96.0.300", "10.96.0.10"],
  ["dns", "10.96.0.10"],
] as const) {
  error(
    `dnsServiceIP '${dns}'`,
    mutated((s) => set(s, "network.dnsServiceIP", dns)),
    "network.dnsServiceIP",
    "invalid-ip",
    `'${dns}' is not an IPv4 address`,
    `write it as a.b.c.d inside 10.96.0.0/16, e.g. ${fix}`,
  );
}
for (const dns of ["10.97.0.10", "192.168.56.10", "10.95.255.255"]) {
  error(
    `dnsServiceIP ${dns} outside the service CIDR`,
    mutated((s) => set(s, "network.dnsServiceIP", dns)),
    "network.dnsServiceIP",
    "dns-ip-outside-service-cidr",
    `DNS service IP ${dns} is outside the service CIDR 10.96.0.0/16`,
    "pick an address inside 10.96.0.0/16, e.g. 10.96.0.10",
  );
}
for (const dns of ["10.96.0.0", "10.96.0.1"]) {
  error(
    `dnsServiceIP ${dns} reserved`,
    mutated((s) => set(s, "network.dnsServiceIP", dns)),
    "network.dnsServiceIP",
    "dns-ip-reserved",
    `DNS service IP ${dns} is the service CIDR's network address or the API service IP`,
    "use another address, e.g. the 10th",
  );
}

for (const [service, dns] of [
  ["10.96.0.0/16", "10.96.255.255"],
  ["10.100.0.0/24", "10.100.0.255"],
] as const) {
  error(
    `dnsServiceIP ${dns}: the broadcast address of ${service}`,
    mutated((s) => {
      s.network.serviceCIDR = service;
      s.network.dnsServiceIP = dns;
    }),
    "network.dnsServiceIP",
    "dns-ip-reserved",
    `DNS service IP ${dns} is the service CIDR's broadcast address, which kube-apiserver never allocates`,
    `use another address, e.g. ${service.replace(/0\/\d+$/, "10")}`,
  );
}

// --- other network fields ------------------------------------------------------------------------------------
for (const bad of ["30000:32767", "30000", "30000-", "-32767", "a-b", "300000-320000", " 30000-32767"]) {
  error(
    `nodePortRange '${bad}'`,
    mutated((s) => set(s, "network.nodePortRange", bad)),
    "network.nodePortRange",
    "invalid-format",
    `the string '${bad}' must be a range like 30000-32767`,
    "e.g. 30000-32767",
  );
}
for (const bad of ["32767-30000", "0-100", "30000-70000", "5-5"]) {
  error(
    `nodePortRange ${bad}`,
    mutated((s) => set(s, "network.nodePortRange", bad)),
    "network.nodePortRange",
    "invalid-port-range",
    `'${bad}' is not a port range low-high within 1-65535`,
    "e.g. 30000-32767",
  );
}
for (const bad of ["6000-7000", "1-65535", "6443-6443".replace("6443-6443", "6443-6444")]) {
  error(
    `nodePortRange ${bad} covers 6443`,
    mutated((s) => set(s, "network.nodePortRange", bad)),
    "network.nodePortRange",
    "port-range-contains-api",
    `${bad} contains the API port 6443`,
    "use a range above it, e.g. 30000-32767",
  );
}
for (const bad of ["Cluster.Local", "-x.local", "a..b", "", "x_y.local", "local.", ".local"]) {
  error(
    `clusterDomain '${bad}'`,
    mutated((s) => set(s, "network.clusterDomain", bad)),
    "network.clusterDomain",
    "invalid-format",
    `the string '${bad}' must be a DNS name like cluster.local`,
    "e.g. cluster.local",
  );
}
for (const [mask, code, message, hint] of [
  [7, "too-small", "must be at least 8, not number 7", "use at least 8"],
  [0, "too-small", "must be at least 8, not number 0", "use at least 8"],
  [31, "too-big", "must be at most 30, not number 31", "use at most 30"],
  [33, "too-big", "must be at most 30, not number 33", "use at most 30"],
] as const) {
  error(
    `nodeCIDRMaskSize ${mask}`,
    mutated((s) => set(s, "network.nodeCIDRMaskSize", mask)),
    "network.nodeCIDRMaskSize",
    code,
    message,
    hint,
  );
}
for (const mask of [8, 12, 15]) {
  error(
    `nodeCIDRMaskSize ${mask} wider than the pod CIDR`,
    mutated((s) => set(s, "network.nodeCIDRMaskSize", mask)),
    "network.nodeCIDRMaskSize",
    "node-mask-too-wide",
    `/${mask} per node is larger than the pod CIDR 10.244.0.0/16`,
    "use a mask of at least 16",
  );
}

// --- PKI -------------------------------------------------------------------------------------------------------
for (const [ca, leaf] of [
  [100, 365],
  [364, 365],
  [1, 2],
  [3649, 3650],
  [30, 31],
] as const) {
  error(
    `leaf validity ${leaf} days past the CA's ${ca}`,
    mutated((s) => {
      s.pki.caValidityDays = ca;
      s.pki.validityDays = leaf;
    }),
    "pki.validityDays",
    "leaf-outlives-ca",
    `certificates valid for ${leaf} days would outlive the CA (pki.caValidityDays: ${ca})`,
    `set pki.validityDays to at most ${ca}, or raise pki.caValidityDays`,
  );
}
for (const [field, value, code, message, hint] of [
  ["caValidityDays", 0, "too-small", "must be at least 1, not number 0", "use at least 1"],
  ["caValidityDays", -1, "too-small", "must be at least 1, not number -1", "use at least 1"],
  ["caValidityDays", 36501, "too-big", "must be at most 36500, not number 36501", "use at most 36500"],
  ["validityDays", 0, "too-small", "must be at least 1, not number 0", "use at least 1"],
  ["validityDays", 3651, "too-big", "must be at most 3650, not number 3651", "use at most 3650"],
  ["validityDays", -5, "too-small", "must be at least 1, not number -5", "use at least 1"],
] as const) {
  error(
    `pki.${field} ${value}`,
    mutated((s) => set(s, `pki.${field}`, value)),
    `pki.${field}`,
    code,
    message,
    hint,
  );
}
for (const field of ["caValidityDays", "validityDays"]) {
  error(
    `pki.${field} 1.5`,
    mutated((s) => set(s, `pki.${field}`, 1.5)),
    `pki.${field}`,
    "invalid-type",
    "must be an integer, not number 1.5",
    "write an integer here",
  );
}
for (const san of [
  "not a name",
  "-bad.example",
  "bad_.example",
  "a..b",
  "UPPER.example",
  "*",
  "http://x",
  "1.2.3.4/32",
]) {
  error(
    `extra SAN '${san}'`,
    mutated((s) => set(s, "pki.extraApiserverSANs", ["ok.example.com", san])),
    "pki.extraApiserverSANs[1]",
    "invalid-san",
    `'${san}' is neither an IPv4 address nor a DNS name`,
    "write an IPv4 address (10.0.0.5) or a DNS name (api.example.com)",
  );
}

// --- SSH ----------------------------------------------------------------------------------------------------------
for (const i of [0, 3]) {
  for (const [port, code, message, hint] of [
    [0, "too-small", "must be at least 1, not number 0", "use at least 1"],
    [-1, "too-small", "must be at least 1, not number -1", "use at least 1"],
    [65536, "too-big", "must be at most 65535, not number 65536", "use at most 65535"],
    [70000, "too-big", "must be at most 65535, not number 70000", "use at most 65535"],
    [22.5, "invalid-type", "must be an integer, not number 22.5", "write an integer here"],
  ] as const) {
    error(
      `${NODES[i]} ssh port ${port}`,
      mutated((s) => set(s, `nodes.${i}.ssh.port`, port)),
      `nodes[${i}].ssh.port`,
      code,
      message,
      hint,
    );
  }
}
const PORTS = [2711, 2712, 2721, 2722, 2730];
for (let i = 1; i < 5; i++) {
  for (let j = 0; j < i; j++) {
    error(
      `${NODES[i]} on ${NODES[j]}'s SSH port`,
      mutated((s) => set(s, `nodes.${i}.ssh.port`, PORTS[j])),
      `nodes[${i}].ssh`,
      "duplicate-ssh-target",
      `SSH target 127.0.0.1:${PORTS[j]} is also used by nodes[${j}]: both would be the same machine`,
      "give every node its own ssh.host or ssh.port",
    );
  }
}
error(
  "two nodes reached at their address on port 22 through the same address",
  mutated((s) => {
    s.nodes[1].ssh = { host: "192.168.56.11" };
    s.nodes[0].ssh = {};
  }),
  "nodes[1].ssh",
  "duplicate-ssh-target",
  "SSH target 192.168.56.11:22 is also used by nodes[0]: both would be the same machine",
  "give every node its own ssh.host or ssh.port",
);
error(
  "two nodes behind the same bastion at the same target",
  mutated((s) => {
    s.nodes[0].ssh = { host: "10.1.0.5", jump: { host: "bastion.example" } };
    s.nodes[2].ssh = { host: "10.1.0.5", jump: { host: "bastion.example" } };
  }),
  "nodes[2].ssh",
  "duplicate-ssh-target",
  "SSH target bastion.example:22 → 10.1.0.5:22 is also used by nodes[0]: both would be the same machine",
  "give every node its own ssh.host or ssh.port",
);

// --- names with control characters: the message keeps them, every formatter escapes them -----------
for (const [label, bad] of [
  ["an OSC 52 clipboard write", "a\u001b]52;c;aGVsbG8=\u0007"],
  ["a cursor movement", "w\u001b[2Aorker"],
  ["a right-to-left override", "worker\u202e1"],
  ["a newline", "worker\nx"],
] as const) {
  error(
    `node name with ${label}`,
    mutated((s) => set(s, "nodes.2.name", bad)),
    "nodes[2].name",
    "invalid-format",
    `the string '${bad}' must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters`,
    "e.g. worker-1",
  );
}

// --- structure -----------------------------------------------------------------------------------------------
const UNKNOWN: [string, string, string][] = [
  ["netwrok", "", "network"],
  ["version", "", "versions"],
  ["adress", "nodes.1", "address"],
  ["rol", "nodes.0", "role"],
  ["hostt", "nodes.0.ssh", "host"],
  ["identity_file", "nodes.0.ssh", "identityFile"],
  ["podCIRD", "network", "podCIDR"],
  ["serviceCDIR", "network", "serviceCIDR"],
  ["kubernetess", "versions", "kubernetes"],
  ["keyAlgoritm", "pki", "keyAlgorithm"],
  ["sorce", "binaries", "source"],
  ["dnss", "addons", "dns"],
  ["hostKeyCheck", "ssh", "hostKeyChecking"],
  ["credential", "nodes.2.kubelet", "credentials"],
];
for (const [key, at, guess] of UNKNOWN) {
  error(
    `unknown key '${key}'${at ? ` in ${at}` : ""}`,
    mutated((s) => set(s, at ? `${at}.${key}` : key, "x")),
    display(at ? `${at}.${key}` : key),
    "unknown-key",
    `unknown key '${key}'`,
    `did you mean '${guess}'?`,
  );
}
for (const [field, example] of [
  ["nodes.1.name", "worker-1"],
  ["name", "kubernetes-the-hard-way"],
] as const) {
  for (const bad of ["Master_1", "a".repeat(64), "-master", "master-", "m.1"]) {
    const shown = bad.length > 40 ? `${bad.slice(0, 40)}…` : bad;
    error(
      `${field} '${bad}'`,
      mutated((s) => set(s, field, bad)),
      display(field),
      "invalid-format",
      `the string '${shown}' must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters`,
      `e.g. ${example}`,
    );
  }
}
for (const [field, what] of [
  ["nodes.2.role", "one of controlplane, worker, loadbalancer"],
  ["nodes.2.address", "a string"],
  ["nodes.3.name", "a string"],
] as const) {
  error(
    `missing ${field}`,
    mutated((s) => {
      const [, i, key] = field.split(".");
      delete s.nodes[Number(i)][key!];
    }),
    display(field),
    "required",
    `is required (${what})`,
    what.startsWith("one of") ? `write ${what}` : `add ${display(field)} (${what})`,
  );
}
error(
  "missing nodes",
  mutated((s) => delete s.nodes),
  "nodes",
  "required",
  "is required (a list)",
  "add nodes (a list)",
);
error(
  "wrong apiVersion",
  mutated((s) => set(s, "apiVersion", "v1")),
  "apiVersion",
  "invalid-value",
  "must be khw/v1alpha1, not the string 'v1'",
  "write khw/v1alpha1",
);
error(
  "wrong kind",
  mutated((s) => set(s, "kind", "Config")),
  "kind",
  "invalid-value",
  "must be Cluster, not the string 'Config'",
  "write Cluster",
);
error(
  "duplicate node name",
  mutated((s) => set(s, "nodes.1.name", "master-1")),
  "nodes[1].name",
  "duplicate-name",
  "node name 'master-1' is also used by nodes[0]",
  "give every node its own name",
);
for (const [i, j] of [
  [1, 0],
  [3, 2],
  [4, 0],
] as const) {
  error(
    `duplicate address nodes[${i}] = nodes[${j}]`,
    mutated((s) => set(s, `nodes.${i}.address`, s.nodes[j].address)),
    `nodes[${i}].address`,
    "duplicate-address",
    `address ${["192.168.56.11", "", "192.168.56.21"][j]} is also used by nodes[${j}]`,
    "give every node its own address",
  );
}
error(
  "no control plane",
  mutated((s) => {
    s.nodes = s.nodes.filter((n: Any) => n.role !== "controlplane");
  }),
  "nodes",
  "no-controlplane",
  "no node has role controlplane",
  "add at least one node with role: controlplane",
);
error(
  "two load balancers",
  mutated((s) => s.nodes.push({ ...s.nodes[4], name: "lb-2", address: "192.168.56.31", ssh: { port: 22 } })),
  "nodes",
  "multiple-loadbalancers",
  "2 nodes have role loadbalancer; khw supports one",
  "keep one loadbalancer",
);
error(
  "kubelet on a control plane",
  mutated((s) => set(s, "nodes.0.kubelet", { credentials: "certificate" })),
  "nodes[0].kubelet",
  "kubelet-not-worker",
  "'master-1' is a controlplane; only workers run a kubelet",
  "remove kubelet from this node",
);
error(
  "node on VirtualBox's NAT",
  mutated((s) => set(s, "nodes.2.address", "10.0.2.15")),
  "nodes[2].address",
  "address-is-nat",
  "10.0.2.15 is on VirtualBox's NAT network 10.0.2.0/24, which every VM shares",
  "use the node's host-only address (e.g. 192.168.56.x)",
);
error(
  "mirror source without a URL",
  mutated((s) => set(s, "binaries", { source: "mirror" })),
  "binaries.mirror",
  "mirror-missing",
  "binaries.source is mirror but no mirror URL is set",
  "set binaries.mirror: http://host:port",
);
for (const url of ["ftp://x", "x", "http://", "https://host name/"]) {
  error(
    `mirror URL '${url}'`,
    mutated((s) => set(s, "binaries", { source: "mirror", mirror: url })),
    "binaries.mirror",
    "invalid-url",
    `'${url}' is not an http(s) URL`,
    "write the mirror's base URL, e.g. http://10.0.0.1:8080",
  );
}

// --- documents that are not a cluster spec: the content is never echoed ------------------------------------
const NOT_A_MAPPING: [string, string, string][] = [
  ["a bootstrap token file", "abcdef.0123456789abcdef\n", "a single text value"],
  ["an encryption key file", "q0mUZ6r0Y3fS6cBqkR7X1vE2m1a4b8c9d0e1f2g3h4I=\n", "a single text value"],
  [
    "a PEM private key",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n",
    "a PEM block (a key or certificate)",
  ],
  [
    "a PEM certificate",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n",
    "a PEM block (a key or certificate)",
  ],
  ["a number", "42\n", "a number"],
  ["a list", "- master-1\n- worker-1\n", "a list"],
  ["a boolean", "true\n", "true or false"],
  ["plain text", "hello world\n", "a single text value"],
  ["a JSON string", '"nodes"\n', "a single text value"],
  ["a JSON list", "[1, 2, 3]\n", "a list"],
];
for (const [label, text, what] of NOT_A_MAPPING) {
  error(
    `${label} instead of a spec`,
    text,
    "",
    "not-a-mapping",
    `the document is ${what}, not a mapping of cluster fields (content not shown)`,
    "pass the cluster spec (cluster.yaml); `khw init` writes one",
  );
}
for (const [field, secret] of [
  ["nodes.0.name", "abcdef.0123456789abcdef"],
  ["nodes.0.role", "q0mUZ6r0Y3fS6cBqkR7X1vE2m1a4b8c9d0e1f2g3h4I="],
] as const) {
  const message =
    field === "nodes.0.name"
      ? `a value of ${secret.length} characters (not shown: it looks like a key or token) must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters`
      : `must be one of controlplane, worker, loadbalancer, not a value of ${secret.length} characters (not shown: it looks like a key or token)`;
  error(
    `a secret-looking value in ${field} is not echoed`,
    mutated((s) => set(s, field, secret)),
    display(field),
    field === "nodes.0.name" ? "invalid-format" : "invalid-value",
    message,
    field === "nodes.0.name" ? "e.g. worker-1" : "write one of controlplane, worker, loadbalancer",
  );
}

export const BAD_SPECS: readonly BadSpec[] = cases;
