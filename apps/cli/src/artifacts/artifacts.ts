import { haproxyFilesFromCluster } from "@khw/haproxy-config";
import { KUBECONFIG_PATHS, kubeconfigFilesFromCluster } from "@khw/kubeconfig";
import { type CertificateSpec, catalogueFromCluster, pkiFilesFromCluster } from "@khw/pki";
import { ADMIN_HOST, type Cluster, type GeneratedFile, PHASE_NAMES, type PhaseName } from "@khw/spec/core";
import {
  FILE_CATALOGUE,
  type FileDefinition,
  serviceDefinition,
  serviceFiles,
  UNIT_DIR,
  unitFilePhase,
  unitFilesFromCluster,
} from "@khw/systemd-units";
import type { WorkdirSecrets } from "../workdir/workdir";
import { clusterManifests, MANIFEST_DIR, type Manifest } from "./manifests";

/** The bring-up phases that can place files (PHASE_NAMES of @khw/spec, the one list, but preflight). */
export type FilePhase = Exclude<PhaseName, "preflight">;

/** A generated file plus where it belongs in the bring-up. */
export interface ArtifactFile extends GeneratedFile {
  /** The phase of `khw up` that places it. */
  phase: FilePhase;
  /** Services (on that host) to restart when it changes. */
  services: string[];
}

/** Everything generated for a cluster: one tree of files per host, `admin` included. */
export interface Artifacts {
  cluster: Cluster;
  /** Ordered by host (spec order, admin last), then phase, then path. */
  files: ArtifactFile[];
  /** Cluster objects (`kubectl apply`), also filed as admin files under /manifests/. */
  manifests: Manifest[];
  /** host → service → the absolute paths it depends on (unit, configs, certs, kubeconfigs). */
  services: Record<string, Record<string, string[]>>;
}

export interface RenderOptions {
  /** Lab only: allow cgroup v1 hosts (kubelet failCgroupV1: false). */
  allowCgroupV1?: boolean;
  /**
   * The catalogues to render (default: khw's own, catalogueFromCluster and FILE_CATALOGUE). The recipe
   * tests pass one with an entry added, to show that the entry flows everywhere with no other edit.
   */
  catalogues?: { certificates?: readonly CertificateSpec[]; files?: readonly FileDefinition[] };
}

/** The catalogues a generated file comes from. */
type FileSource = "certificate" | "kubeconfig" | "unit" | "haproxy" | "manifest";

/** A catalogue's phase as a file-placing phase (preflight places none). */
function placingPhase(phase: PhaseName | undefined, file: GeneratedFile): FilePhase {
  if (phase === undefined || phase === "preflight") {
    throw new Error(`${file.host}:${file.path} has no file-placing phase in its catalogue (a bug in khw)`);
  }
  return phase;
}

/**
 * Renders every artifact of a cluster from the spec and the working directory's secrets: the PKI
 * placed on the hosts, kubeconfigs, encryption config, systemd units and component configs, the
 * HAProxy config, the admin's own kubeconfig and the cluster objects. Pure: same input, same bytes.
 */
export function renderArtifacts(
  cluster: Cluster,
  secrets: WorkdirSecrets,
  options: RenderOptions = {},
): Artifacts {
  const { material } = secrets;
  const fileCatalogue = options.catalogues?.files ?? FILE_CATALOGUE;
  const services: Record<string, Record<string, string[]>> = {};
  for (const node of cluster.nodes) {
    services[node.name] = serviceFiles(cluster, node.name, fileCatalogue);
  }
  const servicesFor = (host: string, path: string): string[] =>
    Object.entries(services[host] ?? {})
      .filter(([, paths]) => paths.includes(path))
      .map(([s]) => s)
      .sort();

  const files: ArtifactFile[] = [];
  const manifests = clusterManifests(cluster, secrets);
  // The phase that places a file, by its catalogue: one entry per source, a compile error when one has none.
  const phaseOf = {
    certificate: () => "pki",
    kubeconfig: (f) => (f.host === ADMIN_HOST ? "admin" : "kubeconfigs"),
    unit: (f) => placingPhase(unitFilePhase(f.path, fileCatalogue), f),
    haproxy: (f) => placingPhase(serviceDefinition("haproxy")?.phase, f),
    manifest: (f) => manifests.find((m) => `${MANIFEST_DIR}/${m.file}` === f.path)!.phase,
  } satisfies Record<FileSource, (f: GeneratedFile) => FilePhase>;
  const add = (list: GeneratedFile[], source: FileSource) => {
    for (const f of list) {
      files.push({ ...f, phase: phaseOf[source](f), services: servicesFor(f.host, f.path) });
    }
  };

  // pki: the admin machine's copies are the working directory's pki/ itself, not output.
  const catalogue = options.catalogues?.certificates ?? catalogueFromCluster(cluster);
  add(
    pkiFilesFromCluster(cluster, catalogue, material).filter((f) => f.host !== ADMIN_HOST),
    "certificate",
  );
  add(
    kubeconfigFilesFromCluster(cluster, {
      caPem: material.ca!.cert,
      adminCertPem: material.admin!.cert,
      adminKeyPem: material.admin!.key,
      bootstrapToken: secrets.bootstrapToken,
    }),
    "kubeconfig",
  );
  const unitFiles = unitFilesFromCluster(
    cluster,
    {
      encryptionKey: secrets.encryptionKey,
      ...(options.allowCgroupV1 ? { allowCgroupV1: true } : {}),
    },
    fileCatalogue,
  );
  add(unitFiles, "unit");
  // The LB checks readiness (GET /readyz over TLS, the apiserver verified against the cluster CA as
  // `kubernetes`), so an apiserver that listens but cannot serve (cut off from etcd) gets no requests.
  const haproxy = haproxyFilesFromCluster(cluster, {
    healthCheck: "https-readyz",
    caCertificate: material.ca!.cert,
  });
  add(haproxy, "haproxy");
  add(
    manifests.map((m) => ({
      host: ADMIN_HOST,
      path: `${MANIFEST_DIR}/${m.file}`,
      mode: m.secret ? 0o600 : 0o644,
      contents: m.contents,
      ...(m.secret ? { secret: true } : {}),
    })),
    "manifest",
  );

  const hostOrder = [...cluster.nodes.map((n) => n.name), ADMIN_HOST];
  files.sort(
    (a, b) =>
      hostOrder.indexOf(a.host) - hostOrder.indexOf(b.host) ||
      PHASE_NAMES.indexOf(a.phase) - PHASE_NAMES.indexOf(b.phase) ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
  assertUniquePaths(files);
  return { cluster, files, manifests, services };
}

function assertUniquePaths(files: readonly GeneratedFile[]): void {
  const seen = new Map<string, string>();
  for (const f of files) {
    const key = `${f.host}:${f.path}`;
    const prev = seen.get(key);
    if (prev !== undefined && prev !== f.contents) {
      throw new Error(`two generators write different contents to ${f.host}:${f.path} (a bug in khw)`);
    }
    seen.set(key, f.contents);
  }
}

/** The files one host receives (for `admin`: what stays on the admin machine). */
export function filesForHost(artifacts: Artifacts, host: string): ArtifactFile[] {
  return artifacts.files.filter((f) => f.host === host);
}

/** The files a phase places on a host. */
export function filesForPhase(artifacts: Artifacts, phase: FilePhase, host?: string): ArtifactFile[] {
  return artifacts.files.filter((f) => f.phase === phase && (host === undefined || f.host === host));
}

/** Where the admin's own kubeconfig is filed (ADMIN_HOST). */
export const ADMIN_KUBECONFIG_PATH = KUBECONFIG_PATHS.adminMachine;
export { UNIT_DIR };
