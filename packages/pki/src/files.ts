import { ADMIN_HOST, type Cluster, type GeneratedFile, type Role } from "@khw/spec/core";
import { ADMIN_PKI_DIR, type CertificateSpec, type HostSelector } from "./catalogue";
import { PkiError } from "./errors";
import type { ExistingPki, PkiMaterial } from "./reconcile";

/** A host that can receive files: its name and role (the admin machine is `ADMIN_HOST`). */
export interface PkiHost {
  name: string;
  role: Role;
}

export const CERT_MODE = 0o644;
export const KEY_MODE = 0o600;

function resolve(selector: HostSelector, hosts: readonly PkiHost[]): string[] {
  if ("host" in selector) return [selector.host];
  const role = selector.role === "etcd" ? "controlplane" : selector.role;
  return hosts.filter((h) => h.role === role).map((h) => h.name);
}

/**
 * Places the material on the hosts its catalogue entries name: certificates 0644, keys 0600 and
 * `secret: true`. Ordered by catalogue entry, then destination, then host order. A destination
 * without keyPath never receives the key (that is how the CA key stays off workers and the LB).
 */
export function pkiFiles(
  catalogue: readonly CertificateSpec[],
  material: PkiMaterial,
  hosts: readonly PkiHost[],
): GeneratedFile[] {
  const out: GeneratedFile[] = [];
  const seen = new Set<string>();
  const push = (file: GeneratedFile) => {
    const k = `${file.host}\u0000${file.path}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push(file);
  };
  for (const spec of catalogue) {
    const m = material[spec.id];
    if (!m) {
      throw new PkiError(
        "UNKNOWN_CERTIFICATE",
        spec.id,
        "has no issued material",
        "issue the PKI (applyPkiPlan / issuePki) before placing files",
      );
    }
    for (const dest of spec.destinations) {
      for (const host of dest.hosts.flatMap((s) => resolve(s, hosts))) {
        if (dest.certPath) push({ host, path: dest.certPath, mode: CERT_MODE, contents: m.cert });
        if (dest.keyPath) push({ host, path: dest.keyPath, mode: KEY_MODE, contents: m.key, secret: true });
      }
    }
  }
  return out;
}

/** {@link pkiFiles} for a resolved cluster's nodes (plus the admin machine). */
export function pkiFilesFromCluster(
  cluster: Cluster,
  catalogue: readonly CertificateSpec[],
  material: PkiMaterial,
): GeneratedFile[] {
  return pkiFiles(catalogue, material, cluster.nodes);
}

/**
 * The CLI's own state: every certificate and key under `pki/` on the admin machine
 * (`pki/<id>.crt`, `pki/<id>.key`), which {@link readPkiState} turns back into `existing`.
 */
export function pkiStateFiles(material: PkiMaterial): GeneratedFile[] {
  return Object.keys(material).flatMap((id) => [
    { host: ADMIN_HOST, path: `${ADMIN_PKI_DIR}/${id}.crt`, mode: CERT_MODE, contents: material[id]!.cert },
    {
      host: ADMIN_HOST,
      path: `${ADMIN_PKI_DIR}/${id}.key`,
      mode: KEY_MODE,
      contents: material[id]!.key,
      secret: true,
    },
  ]);
}

/**
 * Turns the contents of a `pki/` directory (file name → text, e.g. `{ "ca.crt": "...", "ca.key": "..." }`)
 * into the `existing` input of reconcilePki. Other files are ignored.
 */
export function readPkiState(files: Record<string, string>): ExistingPki {
  const existing: ExistingPki = {};
  for (const [name, contents] of Object.entries(files)) {
    const base = name.split("/").pop()!;
    const m = /^(.+)\.(crt|key)$/.exec(base);
    if (!m) continue;
    const entry = existing[m[1]!] ?? {};
    existing[m[1]!] = entry;
    if (m[2] === "crt") entry.cert = contents;
    else entry.key = contents;
  }
  return existing;
}
