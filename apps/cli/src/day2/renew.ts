import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { applyPkiPlan, type Catalogue, type PkiMaterial, type PkiPlan } from "@khw/pki";
import { ADMIN_HOST, type Cluster } from "@khw/spec/core";
import { SERVICE_CATALOGUE } from "@khw/systemd-units";
import { ADMIN_KUBECONFIG_PATH, type ArtifactFile, renderArtifacts } from "../artifacts";
import { CliError, UsageError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";
import { addPending, clearPending, readState, writeState } from "../up/state";
import type { Seams, WorkdirState } from "../workdir";
import { describeError, type Hosts } from "./remote";

/** What `khw certs renew` does on one host: the files whose contents change, then the restarts they owe. */
export interface HostRenewal {
  host: string;
  uploads: Array<{ path: string; mode: number; services: string[]; secret: boolean }>;
  /** In start order (etcd before kube-apiserver). */
  restarts: string[];
}

export interface RenewPlan {
  renewed: string[];
  hosts: HostRenewal[];
  /** Local files rewritten besides pki/<id>.crt (the admin kubeconfig in the working directory). */
  local: string[];
}

/** The certificate ids `NAME...` / `--all` stand for: every leaf (the CA is never renewed here). */
export function selectCertificates(catalogue: Catalogue, names: string[], all: boolean): string[] {
  if (all && names.length > 0) throw new UsageError("give either --all or certificate names, not both");
  if (!all && names.length === 0) {
    throw new UsageError(
      "name the certificates to renew, or pass --all",
      `certificates: ${catalogue
        .filter((c) => c.signer !== null)
        .map((c) => c.id)
        .join(", ")}`,
    );
  }
  if (all) return catalogue.filter((c) => c.signer !== null).map((c) => c.id);
  for (const n of names) {
    const entry = catalogue.find((c) => c.id === n);
    if (!entry) {
      throw new UsageError(
        `there is no certificate '${n}' in this cluster`,
        `use one of ${catalogue
          .filter((c) => c.signer !== null)
          .map((c) => c.id)
          .join(", ")}`,
      );
    }
    if (entry.signer === null) {
      throw new UsageError(
        `'${n}' is the CA: khw certs renew re-issues certificates with the same CA and never replaces it`,
        "a new CA means a new cluster PKI: every certificate and kubeconfig changes (see `khw gen` after removing pki/)",
      );
    }
  }
  return catalogue.filter((c) => names.includes(c.id)).map((c) => c.id);
}

/** Re-issues `ids` with the same CA and the same keys (tokens signed by the service-account key stay valid). */
export async function reissue(
  workdir: WorkdirState,
  ids: string[],
  seams: Pick<Seams, "now" | "random" | "keys">,
): Promise<PkiMaterial> {
  const plan: PkiPlan = {
    decisions: workdir.catalogue.map((c) =>
      ids.includes(c.id)
        ? {
            id: c.id,
            action: "reissue",
            reasons: [{ code: "forced", message: "khw certs renew" }],
            newKey: false,
          }
        : { id: c.id, action: "keep", reasons: [], newKey: false },
    ),
    warnings: [],
  };
  const { material } = await applyPkiPlan({
    plan,
    catalogue: workdir.catalogue,
    existing: workdir.material,
    now: seams.now(),
    random: seams.random,
    keys: seams.keys,
  });
  return material;
}

const START_ORDER = [...SERVICE_CATALOGUE.map((s) => s.service as string), "haproxy"];

/** Compares the artifacts before and after: the files to push per host and the services they restart. */
export function renewalPlan(
  cluster: Cluster,
  workdir: WorkdirState,
  material: PkiMaterial,
  ids: string[],
): { plan: RenewPlan; after: ArtifactFile[] } {
  const before = renderArtifacts(cluster, workdir).files;
  const after = renderArtifacts(cluster, { ...workdir, material }).files;
  const old = new Map(before.map((f) => [`${f.host}\u0000${f.path}`, f.contents]));
  const changed = after.filter((f) => old.get(`${f.host}\u0000${f.path}`) !== f.contents);
  const hosts: HostRenewal[] = [];
  for (const node of cluster.nodes) {
    const files = changed.filter((f) => f.host === node.name);
    if (files.length === 0) continue;
    const services = new Set(files.flatMap((f) => f.services));
    hosts.push({
      host: node.name,
      uploads: files.map((f) => ({ path: f.path, mode: f.mode, services: f.services, secret: !!f.secret })),
      restarts: START_ORDER.filter((s) => services.has(s)),
    });
  }
  const local = changed.some((f) => f.host === ADMIN_HOST && f.path === ADMIN_KUBECONFIG_PATH)
    ? [ADMIN_KUBECONFIG_PATH]
    : [];
  return { plan: { renewed: ids, hosts, local }, after };
}

export type RenewProgress = (line: string) => void;

/**
 * Writes the new certificates into pki/, then host by host (one at a time, so a control plane
 * restarts while the others serve): uploads the changed files and restarts exactly the services
 * that read them, checking each is active again. Owed restarts are recorded in .khw/state.json
 * first, so `khw up` finishes them if this stops half-way.
 */
export async function carryOutRenewal(options: {
  cluster: Cluster;
  workdir: WorkdirState;
  material: PkiMaterial;
  plan: RenewPlan;
  after: ArtifactFile[];
  hosts: Hosts;
  progress: RenewProgress;
}): Promise<void> {
  const { cluster, workdir, material, plan, after, hosts, progress } = options;
  const paths = workdir.paths;
  for (const id of plan.renewed) writeFileAtomic(join(paths.pki, `${id}.crt`), material[id]!.cert, 0o644);
  progress(`re-issued ${plan.renewed.join(", ")} in ${paths.pki} (same CA, same keys)`);
  if (plan.local.length > 0 && existsSync(paths.adminKubeconfig)) {
    const f = after.find((x) => x.host === ADMIN_HOST && x.path === ADMIN_KUBECONFIG_PATH)!;
    if (readFileSync(paths.adminKubeconfig, "utf8") !== f.contents) {
      writeFileAtomic(paths.adminKubeconfig, f.contents, 0o600);
      progress(`rewrote ${paths.adminKubeconfig} (it embeds the admin certificate)`);
    }
  }
  const state = readState(paths.state);
  for (const h of plan.hosts) addPending(state, h.host, { restart: h.restarts });
  writeState(paths.state, state);

  for (const h of plan.hosts) {
    const node = cluster.nodes.find((n) => n.name === h.host)!;
    const target = hosts.target(node);
    const byPath = new Map(after.filter((f) => f.host === h.host).map((f) => [f.path, f]));
    try {
      let uploaded = 0;
      for (const u of h.uploads) {
        const f = byPath.get(u.path)!;
        const r = await hosts.executor.upload(target, {
          path: f.path,
          content: f.contents,
          mode: f.mode,
          sudo: true,
        });
        if (r.changed) uploaded++;
      }
      progress(
        `${h.host}: ${uploaded} of ${h.uploads.length} file(s) updated: ${h.uploads.map((u) => u.path).join(", ")}`,
      );
      for (const svc of h.restarts) {
        await hosts.executor.exec(target, ["systemctl", "restart", svc], { sudo: true });
        const active = await hosts.executor.exec(target, ["systemctl", "is-active", svc], {
          sudo: true,
          check: false,
        });
        if (active.code !== 0) {
          throw new CliError(
            "RESTART_FAILED",
            `[certs] ${h.host}: ${svc} is ${active.stdout.trim() || "not active"} after the restart`,
            `look at \`journalctl -u ${svc}\` on ${h.host}; the new certificate is in place, \`khw up\` retries the restart`,
          );
        }
        clearPending(state, h.host, { restart: [svc] });
        writeState(paths.state, state);
        progress(`${h.host}: restarted ${svc}`);
      }
      if (h.restarts.length === 0) progress(`${h.host}: no service reads these files; nothing restarted`);
    } catch (e) {
      if (e instanceof CliError) throw e;
      const d = describeError(e);
      throw new CliError(
        "RENEW_PUSH_FAILED",
        `[certs] ${h.host}: ${d.message}`,
        d.hint ??
          "pki/ already holds the new certificates; fix the host and run `khw up` (it pushes what differs and does the owed restarts)",
      );
    }
  }
}
