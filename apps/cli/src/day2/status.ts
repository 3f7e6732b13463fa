import { checkExpiry, inspectCertificate } from "@khw/pki";
import { fanOut } from "@khw/remote-exec";
import { type Cluster, type ClusterNode, NODE_DIRS } from "@khw/spec/core";
import { SERVICE_CATALOGUE } from "@khw/systemd-units";
import type { Artifacts } from "../artifacts";
import { findOrphans } from "./node-orphans";
import { describeError, type Hosts } from "./remote";

/** One component (systemd service) on one host. */
export interface ComponentStatus {
  name: string;
  /** `systemctl is-active`: active, inactive, failed, activating… or unknown. */
  state: string;
  /** What `--version` printed (first line), or `missing` when the binary is not there. */
  version: string;
  /** The version the spec pins, when khw installs this component. */
  expectedVersion?: string;
  versionOk: boolean;
  /** The earliest expiry among the certificates this component reads on this host. */
  certificate?: { path: string; notAfter: string; daysLeft: number; status: string };
}

export interface CertificateStatus {
  path: string;
  notAfter?: string;
  daysLeft?: number;
  status: string;
  subject?: string;
}

export interface HostStatus {
  host: string;
  role: ClusterNode["role"];
  address: string;
  reachable: boolean;
  error?: string;
  hint?: string;
  components: ComponentStatus[];
  certificates: CertificateStatus[];
}

export interface StatusReport {
  now: string;
  hosts: HostStatus[];
  /** Nodes registered in the cluster but absent from the spec (absent: the API could not be asked). */
  orphans?: string[];
  ok: boolean;
}

/** Read-only; data comes in as positional parameters: `svc binary ... -- certpath ...`. */
export const STATUS_SCRIPT = `while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  s=$1; b=$2; shift 2
  a=$(systemctl is-active "$s" 2>/dev/null)
  printf 'service\\t%s\\t%s\\n' "$s" "\${a:-unknown}"
  if [ -x "$b" ]; then
    if [ "$s" = haproxy ]; then v=$("$b" -v 2>&1 | head -n 1); else v=$("$b" --version 2>&1 | head -n 1); fi
  else v=missing; fi
  printf 'version\\t%s\\t%s\\n' "$s" "$v"
done
[ "$1" = "--" ] && shift
for p in "$@"; do
  printf 'cert\\t%s\\n' "$p"
  if [ -r "$p" ]; then sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$p"; else echo MISSING; fi
  printf 'end\\n'
done`;

/** Each component's executable (the service catalogue's `runs`). */
const BINARY_OF: Record<string, string> = Object.fromEntries(
  SERVICE_CATALOGUE.flatMap((s) => (s.runs ? [[s.service, s.runs]] : [])),
);

/** Certificates a tls-bootstrap kubelet obtains itself (only the certificate blocks are read). */
const BOOTSTRAP_KUBELET_CERTS = [
  `${NODE_DIRS.kubeletPki}/kubelet-client-current.pem`,
  // serverTLSBootstrap: the serving certificate the approved CSR gave (kubelet.crt, a self-signed one, is
  // written only without it)
  `${NODE_DIRS.kubeletPki}/kubelet-server-current.pem`,
];

/** The components khw runs on a node (its own units, plus HAProxy on the load balancer), in start order. */
export function componentsOf(node: ClusterNode): string[] {
  return SERVICE_CATALOGUE.filter((s) => s.audience === node.role && s.kind !== "systemd").map(
    (s) => s.service,
  );
}

function expectedVersion(cluster: Cluster, component: string): string | undefined {
  const v = cluster.spec.versions;
  if (component === "etcd") return v.etcd;
  if (component === "containerd") return v.containerd;
  if (component.startsWith("kube")) return v.kubernetes;
  return undefined;
}

/** The certificate files a component reads on a node (from the service → files mapping). */
function certPathsOf(artifacts: Artifacts, node: ClusterNode, component: string): string[] {
  const files = artifacts.services[node.name]?.[component] ?? [];
  const certs = files.filter((p) => p.endsWith(".crt"));
  if (component === "kubelet" && node.kubeletCredentials === "tls-bootstrap")
    certs.push(...BOOTSTRAP_KUBELET_CERTS);
  return certs;
}

/** Parses the script's output into components and certificates. Pure. */
export function parseStatusOutput(
  cluster: Cluster,
  node: ClusterNode,
  artifacts: Artifacts,
  stdout: string,
  now: Date,
  warnDays: number,
): Pick<HostStatus, "components" | "certificates"> {
  const states = new Map<string, string>();
  const versions = new Map<string, string>();
  const certs = new Map<string, string>();
  const lines = stdout.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const [kind, a, ...rest] = lines[i]!.split("\t");
    if (kind === "service") states.set(a!, rest.join("\t").trim());
    else if (kind === "version") versions.set(a!, rest.join("\t").trim());
    else if (kind === "cert") {
      const body: string[] = [];
      while (++i < lines.length && lines[i] !== "end") body.push(lines[i]!);
      certs.set(a!, body.join("\n"));
    }
  }
  const certificates: CertificateStatus[] = [...certs.entries()].map(([path, text]) => {
    if (text.trim() === "MISSING" || text.trim() === "") return { path, status: "missing" };
    try {
      const first = text.slice(0, text.indexOf("-----END CERTIFICATE-----") + 25);
      const info = inspectCertificate(first, path);
      const e = checkExpiry(info, now, warnDays);
      return {
        path,
        notAfter: info.notAfter.toISOString(),
        daysLeft: e.daysLeft,
        status: e.status,
        subject: info.subject.CN ?? info.subject.text,
      };
    } catch {
      return { path, status: "unreadable" };
    }
  });
  const components: ComponentStatus[] = componentsOf(node).map((name) => {
    const version = versions.get(name) ?? "unknown";
    const expected = expectedVersion(cluster, name);
    const c: ComponentStatus = {
      name,
      state: states.get(name) ?? "unknown",
      version,
      versionOk: expected === undefined || versionMatches(version, expected),
      ...(expected ? { expectedVersion: expected } : {}),
    };
    const mine = certificates.filter((x) => certPathsOf(artifacts, node, name).includes(x.path));
    const worst = mine.sort((x, y) => rank(x) - rank(y))[0];
    if (worst) {
      c.certificate = {
        path: worst.path,
        notAfter: worst.notAfter ?? "",
        daysLeft: worst.daysLeft ?? Number.NaN,
        status: worst.status,
      };
    }
    return c;
  });
  return { components, certificates };
}

/** Whether `--version` output names exactly this release (`1.34.4` is not `1.34.40`). */
export function versionMatches(output: string, expected: string): boolean {
  const v = expected.replace(/^v/, "").replace(/\./g, "\\.");
  return new RegExp(`(^|[^0-9.])v?${v}($|[^0-9.])`).test(output);
}

/** Missing/unreadable first, then the earliest expiry. */
function rank(c: CertificateStatus): number {
  if (c.notAfter === undefined) return Number.NEGATIVE_INFINITY;
  return Date.parse(c.notAfter);
}

/** Asks every host at once (read-only): services, versions, certificates. Unreachable hosts are reported, not thrown. */
export async function clusterStatus(
  cluster: Cluster,
  artifacts: Artifacts,
  hosts: Hosts,
  now: Date,
  warnDays: number,
): Promise<StatusReport> {
  const results = await fanOut(cluster.nodes, async (node) => {
    const comps = componentsOf(node);
    const certPaths = [...new Set(comps.flatMap((c) => certPathsOf(artifacts, node, c)))];
    const args = [...comps.flatMap((c) => [c, BINARY_OF[c] ?? `${NODE_DIRS.bin}/${c}`]), "--", ...certPaths];
    const r = await hosts.executor.shell(hosts.target(node), STATUS_SCRIPT, { sudo: true, args });
    return parseStatusOutput(cluster, node, artifacts, r.stdout, now, warnDays);
  });
  const out: HostStatus[] = results.map((r, i) => {
    const node = cluster.nodes[i]!;
    const base = { host: node.name, role: node.role, address: node.address };
    if (r.ok) return { ...base, reachable: true, ...r.value };
    const d = describeError(r.error);
    return {
      ...base,
      reachable: false,
      error: d.message,
      ...(d.hint ? { hint: d.hint } : {}),
      components: [],
      certificates: [],
    };
  });
  const ok = out.every(
    (h) =>
      h.reachable &&
      h.components.every((c) => c.state === "active" && c.versionOk) &&
      h.certificates.every((c) => c.status === "valid"),
  );
  const cp = cluster.controlPlanes[0];
  const orphans =
    cp && out.find((h) => h.host === cp.name)?.reachable
      ? await findOrphans(cluster, hosts.executor, hosts.targets)
      : undefined;
  return {
    now: now.toISOString(),
    hosts: out,
    ...(orphans ? { orphans } : {}),
    ok: ok && !orphans?.length,
  };
}
