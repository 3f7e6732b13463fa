import {
  ADMIN_HOST,
  type Cluster,
  type ClusterNode,
  certPath,
  type KeyAlgorithm,
  keyPath,
  NODE_DIRS,
  type PkiDir,
  type Role,
} from "@khw/spec/core";
import { Address6 } from "ip-address";
import { PkiError } from "./errors";

/** Key usages this package sets (X.509 keyUsage bits). */
export type KeyUsage = "digitalSignature" | "keyEncipherment" | "keyCertSign" | "cRLSign";
/** Extended key usages this package sets. */
export type ExtKeyUsage = "serverAuth" | "clientAuth";

export interface Subject {
  CN: string;
  /** Organizations, in order (Kubernetes reads them as groups). */
  O?: string[];
}

export interface SubjectAltNames {
  dns: string[];
  ips: string[];
}

/** Who receives a file: every node of a role (`etcd` = the etcd members), or one host by name. */
export type HostSelector = { role: Role | "etcd" } | { host: string };

/** Where one certificate goes: the hosts, the certificate path and (if the key goes too) the key path. */
export interface Destination {
  hosts: HostSelector[];
  certPath?: string;
  keyPath?: string;
}

/** One certificate of the PKI: everything needed to issue it, check it and place it. Plain data. */
export interface CertificateSpec {
  /** Unique; also the file name stem (`<id>.crt`, `<id>.key`). */
  id: string;
  description: string;
  /** The id of the CA that signs it, or null for a self-signed CA. */
  signer: string | null;
  /** A certificate authority (CA:TRUE) — may sign others. */
  isCA: boolean;
  subject: Subject;
  keyUsage: KeyUsage[];
  extKeyUsage: ExtKeyUsage[];
  sans: SubjectAltNames;
  validityDays: number;
  keyAlgorithm: KeyAlgorithm;
  destinations: Destination[];
}

export type Catalogue = CertificateSpec[];

/** Where the control planes and workers keep their PKI (the node layout of @khw/spec). */
export const K8S_PKI_DIR = NODE_DIRS.pki;
/** Where etcd reads its certificates (the node layout of @khw/spec). */
export const ETCD_PKI_DIR = NODE_DIRS.etcdPki;
/** On the admin machine: relative to the working directory (the CLI's state). */
export const ADMIN_PKI_DIR = "pki";
export const CA_ID = "ca";

const LEAF_KEY_USAGE: KeyUsage[] = ["digitalSignature", "keyEncipherment"];

/** The apiserver's SANs: the in-cluster names, the API service IP, every control plane, the LB, loopback, extras. */
export function apiserverSans(cluster: Cluster): SubjectAltNames {
  const domain = cluster.network.clusterDomain;
  const labels = domain.split(".");
  const dns = ["kubernetes", "kubernetes.default", "kubernetes.default.svc"];
  // kubernetes.default.svc.cluster and kubernetes.default.svc.cluster.local for cluster.local
  dns.push(`kubernetes.default.svc.${labels[0]}`, `kubernetes.default.svc.${domain}`);
  const ips = [cluster.network.apiServiceIP, ...cluster.controlPlanes.map((n) => n.address)];
  if (cluster.loadBalancer) ips.push(cluster.loadBalancer.address);
  ips.push("127.0.0.1");
  for (const extra of cluster.spec.pki.extraApiserverSANs) (isIpAddress(extra) ? ips : dns).push(extra);
  return { dns: unique(dns), ips: unique(ips) };
}

/** etcd's SANs: every member's IP and host name, loopback and `localhost`. */
export function etcdServerSans(cluster: Cluster): SubjectAltNames {
  const members = cluster.etcd.members;
  return {
    dns: unique([...members.map((m) => m.name), "localhost"]),
    ips: unique([...members.map((m) => m.address), "127.0.0.1"]),
  };
}

/** A kubelet's SANs: the node's name and its IP. */
export function kubeletSans(node: Pick<ClusterNode, "name" | "address">): SubjectAltNames {
  return { dns: [node.name], ips: [node.address] };
}

const NO_SANS: SubjectAltNames = { dns: [], ips: [] };

/** A destination's files: on nodes at the layout's `certPath`/`keyPath`; on the admin machine under `pki/`. */
function files(
  dir: PkiDir | "admin",
  id: string,
  withKey: boolean,
): Pick<Destination, "certPath" | "keyPath"> {
  const cert = dir === "admin" ? `${ADMIN_PKI_DIR}/${id}.crt` : certPath(id, dir);
  const key = dir === "admin" ? `${ADMIN_PKI_DIR}/${id}.key` : keyPath(id, dir);
  return withKey ? { certPath: cert, keyPath: key } : { certPath: cert };
}

const MASTERS: HostSelector = { role: "controlplane" };
const WORKERS: HostSelector = { role: "worker" };
const ETCD: HostSelector = { role: "etcd" };
const ADMIN: HostSelector = { host: ADMIN_HOST };

/**
 * The Kubernetes-the-hard-way PKI of a cluster: the CA, the component client certificates, the
 * apiserver and etcd serving certificates, the service-account key pair and one kubelet
 * certificate per worker that uses `certificate` credentials. CA first, then leaves.
 */
export function catalogueFromCluster(cluster: Cluster): Catalogue {
  const { keyAlgorithm, caValidityDays, validityDays } = cluster.spec.pki;
  const leaf = (
    entry: Omit<CertificateSpec, "signer" | "isCA" | "keyUsage" | "validityDays" | "keyAlgorithm">,
  ): CertificateSpec => ({
    ...entry,
    signer: CA_ID,
    isCA: false,
    keyUsage: [...LEAF_KEY_USAGE],
    validityDays,
    keyAlgorithm,
  });
  const client = (id: string, description: string, subject: Subject, hosts: HostSelector[]) =>
    leaf({
      id,
      description,
      subject,
      extKeyUsage: ["clientAuth"],
      sans: NO_SANS,
      destinations: [{ hosts, ...files("pki", id, true) }],
    });

  const catalogue: Catalogue = [
    {
      id: CA_ID,
      description:
        "Cluster CA: signs every certificate below; the controller-manager signs kubelet CSRs with it",
      signer: null,
      isCA: true,
      subject: { CN: "KUBERNETES-CA", O: ["Kubernetes"] },
      keyUsage: ["digitalSignature", "keyCertSign", "cRLSign"],
      extKeyUsage: [],
      sans: NO_SANS,
      validityDays: caValidityDays,
      keyAlgorithm,
      destinations: [
        { hosts: [MASTERS], ...files("pki", CA_ID, true) },
        { hosts: [ETCD], ...files("etcdPki", CA_ID, false) },
        { hosts: [WORKERS], ...files("pki", CA_ID, false) },
        { hosts: [ADMIN], ...files("admin", CA_ID, true) },
      ],
    },
    leaf({
      id: "admin",
      description: "kubectl as cluster admin (group system:masters)",
      subject: { CN: "admin", O: ["system:masters"] },
      extKeyUsage: ["clientAuth"],
      sans: NO_SANS,
      destinations: [{ hosts: [ADMIN], ...files("admin", "admin", true) }],
    }),
    client(
      "kube-controller-manager",
      "kube-controller-manager's client certificate",
      { CN: "system:kube-controller-manager", O: ["system:kube-controller-manager"] },
      [MASTERS],
    ),
    client(
      "kube-scheduler",
      "kube-scheduler's client certificate",
      { CN: "system:kube-scheduler", O: ["system:kube-scheduler"] },
      [MASTERS],
    ),
    client(
      "kube-proxy",
      "kube-proxy's client certificate",
      { CN: "system:kube-proxy", O: ["system:node-proxier"] },
      [WORKERS],
    ),
    leaf({
      id: "kube-apiserver",
      description: "kube-apiserver's serving certificate",
      subject: { CN: "kube-apiserver", O: ["Kubernetes"] },
      extKeyUsage: ["serverAuth"],
      sans: apiserverSans(cluster),
      destinations: [{ hosts: [MASTERS], ...files("pki", "kube-apiserver", true) }],
    }),
    client(
      "apiserver-kubelet-client",
      "kube-apiserver's client certificate towards kubelets (logs, exec; bound by RBAC to its CN)",
      { CN: "kube-apiserver-kubelet-client" },
      [MASTERS],
    ),
    leaf({
      id: "etcd-server",
      description: "etcd's serving and peer certificate, also the apiserver's etcd client certificate",
      subject: { CN: "etcd-server", O: ["Kubernetes"] },
      extKeyUsage: ["serverAuth", "clientAuth"],
      sans: etcdServerSans(cluster),
      destinations: [
        { hosts: [ETCD], ...files("etcdPki", "etcd-server", true) },
        { hosts: [MASTERS], ...files("pki", "etcd-server", true) },
      ],
    }),
    leaf({
      id: "service-account",
      description:
        "Service-account token key pair: the apiserver signs tokens with the key, verifies with the certificate",
      subject: { CN: "service-accounts", O: ["Kubernetes"] },
      extKeyUsage: [],
      sans: NO_SANS,
      destinations: [{ hosts: [MASTERS], ...files("pki", "service-account", true) }],
    }),
  ];
  for (const node of cluster.workers) {
    if (node.kubeletCredentials !== "certificate") continue;
    catalogue.push(
      leaf({
        id: node.name,
        description: `kubelet of ${node.name}: client to the apiserver and serving certificate`,
        subject: { CN: `system:node:${node.name}`, O: ["system:nodes"] },
        extKeyUsage: ["serverAuth", "clientAuth"],
        sans: kubeletSans(node),
        destinations: [{ hosts: [{ host: node.name }], ...files("pki", node.name, true) }],
      }),
    );
  }
  return catalogue;
}

/** One broken catalogue invariant. */
export interface CatalogueIssue {
  /** e.g. `catalogue[3].signer` */
  path: string;
  code:
    | "duplicate-id"
    | "invalid-id"
    | "unknown-signer"
    | "signer-after-leaf"
    | "signer-not-ca"
    | "ca-without-keycertsign"
    | "leaf-without-usage"
    | "server-without-sans"
    | "invalid-san"
    | "invalid-validity";
  message: string;
}

const ID = /^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/;

/** Checks the invariants every catalogue must hold (the defaults and any hand-made list). */
export function catalogueIssues(catalogue: readonly CertificateSpec[]): CatalogueIssue[] {
  const issues: CatalogueIssue[] = [];
  const seen = new Map<string, number>();
  catalogue.forEach((c, i) => {
    const p = `catalogue[${i}]`;
    if (!ID.test(c.id)) {
      issues.push({
        path: `${p}.id`,
        code: "invalid-id",
        message: `'${c.id}' is not a file-name-safe id (lower-case letters, digits, '-', '.', '_')`,
      });
    }
    if (seen.has(c.id)) {
      issues.push({
        path: `${p}.id`,
        code: "duplicate-id",
        message: `id '${c.id}' is also used by catalogue[${seen.get(c.id)}]`,
      });
    } else seen.set(c.id, i);
    if (c.signer !== null) {
      const j = catalogue.findIndex((s) => s.id === c.signer);
      if (j < 0) {
        issues.push({
          path: `${p}.signer`,
          code: "unknown-signer",
          message: `'${c.id}' names signer '${c.signer}', which is not in the catalogue`,
        });
      } else if (j > i) {
        issues.push({
          path: `${p}.signer`,
          code: "signer-after-leaf",
          message: `signer '${c.signer}' comes after '${c.id}'; list every CA before the certificates it signs`,
        });
      } else if (!catalogue[j]!.isCA) {
        issues.push({
          path: `${p}.signer`,
          code: "signer-not-ca",
          message: `signer '${c.signer}' of '${c.id}' is not a CA`,
        });
      }
    }
    if (c.isCA && !c.keyUsage.includes("keyCertSign")) {
      issues.push({
        path: `${p}.keyUsage`,
        code: "ca-without-keycertsign",
        message: `CA '${c.id}' lacks keyCertSign`,
      });
    }
    if (!c.isCA && c.keyUsage.length === 0) {
      issues.push({
        path: `${p}.keyUsage`,
        code: "leaf-without-usage",
        message: `'${c.id}' has no key usage`,
      });
    }
    if (c.extKeyUsage.includes("serverAuth") && c.sans.dns.length + c.sans.ips.length === 0) {
      issues.push({
        path: `${p}.sans`,
        code: "server-without-sans",
        message: `'${c.id}' is a serving certificate without SANs; clients will reject it`,
      });
    }
    c.sans.ips.forEach((ip, k) => {
      if (!isIpAddress(ip)) {
        issues.push({
          path: `${p}.sans.ips[${k}]`,
          code: "invalid-san",
          message: `'${ip}' is not an IP address`,
        });
      }
    });
    c.sans.dns.forEach((name, k) => {
      if (!DNS_NAME.test(name)) {
        issues.push({
          path: `${p}.sans.dns[${k}]`,
          code: "invalid-san",
          message: `'${name}' is not a DNS name`,
        });
      }
    });
    if (!(Number.isInteger(c.validityDays) && c.validityDays > 0)) {
      issues.push({
        path: `${p}.validityDays`,
        code: "invalid-validity",
        message: `'${c.id}' has validityDays ${c.validityDays}; use a positive whole number`,
      });
    }
  });
  return issues;
}

/** Throws a PkiError (INVALID_CATALOGUE) listing every broken invariant. */
export function assertValidCatalogue(catalogue: readonly CertificateSpec[]): void {
  const issues = catalogueIssues(catalogue);
  if (issues.length > 0) {
    throw new PkiError(
      "INVALID_CATALOGUE",
      issues[0]!.path,
      issues.map((i) => `${i.path}: ${i.message}`).join("; "),
      "fix the catalogue entries named above",
    );
  }
}

/** The catalogue entry with `id`, or a typed error. */
export function catalogueEntry(catalogue: readonly CertificateSpec[], id: string): CertificateSpec {
  const entry = catalogue.find((c) => c.id === id);
  if (!entry) {
    throw new PkiError(
      "UNKNOWN_CERTIFICATE",
      id,
      "is not in the catalogue",
      `use one of ${catalogue.map((c) => c.id).join(", ")}`,
    );
  }
  return entry;
}

const DNS_NAME = /^(\*\.)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** IPv4 dotted quad, or an IPv6 address (hex groups, `::` allowed; no prefix, zone or embedded IPv4). */
export function isIpAddress(text: string): boolean {
  if (IPV4.test(text)) return true;
  return /^[0-9a-fA-F:]+$/.test(text) && text.includes(":") && Address6.isValid(text);
}

/**
 * The canonical text of an IP address: IPv4 unchanged, IPv6 in RFC 5952's form (lower case, the longest
 * run of zero groups shortened to `::`), so `FD00:0:0::1` and `fd00::1` compare equal.
 */
export function canonicalIp(text: string): string {
  if (!text.includes(":") || !isIpAddress(text)) return text;
  return new Address6(text).correctForm();
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
