import {
  ADMIN_HOST,
  API_PORT,
  type Cluster,
  type ClusterNode,
  certPath,
  type GeneratedFile,
  keyPath,
  NODE_DIRS,
} from "@khw/spec/core";
import { KubeconfigError } from "./errors";
import {
  assertBootstrapToken,
  BOOTSTRAP_USER,
  bootstrapTokenKubeconfig,
  certPathKubeconfig,
  DEFAULT_CONTEXT_NAME,
  embeddedCertKubeconfig,
  type Kubeconfig,
} from "./model";
import { renderKubeconfig } from "./render";

/** Where certificates live on the nodes (the node layout of @khw/spec; written by @khw/pki). */
export const PKI_DIR = NODE_DIRS.pki;
export const CA_PATH = certPath("ca");

/** Every kubeconfig path, as data (directories from the node layout of @khw/spec). */
export const KUBECONFIG_PATHS = {
  kubeControllerManager: `${NODE_DIRS.kubernetes}/kube-controller-manager.kubeconfig`,
  kubeScheduler: `${NODE_DIRS.kubernetes}/kube-scheduler.kubeconfig`,
  admin: `${NODE_DIRS.kubernetes}/admin.kubeconfig`,
  kubeProxy: `${NODE_DIRS.kubeProxy}/kubeconfig`,
  /** certificate workers: written by khw; tls-bootstrap workers: written by the kubelet itself. */
  kubelet: `${NODE_DIRS.kubelet}/kubeconfig`,
  kubeletBootstrap: `${NODE_DIRS.kubelet}/bootstrap-kubeconfig`,
  /** The admin's own copy, filed under ADMIN_HOST (the CLI writes it into the working directory). */
  adminMachine: "/admin.kubeconfig",
} as const;

/** Which hosts get a kubeconfig. */
export type KubeconfigAudience =
  | "controlplane"
  | "worker"
  | "worker-certificate"
  | "worker-tls-bootstrap"
  | "admin";

/** Where a kubeconfig points: the local apiserver (on masters) or the cluster's API endpoint (LB or sole master). */
export type KubeconfigServer = "local" | "api";

export type KubeconfigCredentials =
  | { kind: "path"; cert: string; key: string }
  | { kind: "embedded"; identity: "admin" }
  | { kind: "bootstrap-token" };

/** One entry of the catalogue. Templates use `{node}` for the node name and `{cluster}` for the cluster name. */
export interface KubeconfigDefinition {
  id: string;
  description: string;
  audience: KubeconfigAudience;
  path: string;
  user: string;
  /** Context name template; default `default`. */
  context?: string;
  server: KubeconfigServer;
  credentials: KubeconfigCredentials;
  /** The service that reads it (restart it when it changes); none for admin files. */
  service?: string;
}

/** Every kubeconfig of REFERENCE.md. Adding one is adding an entry here. */
export const KUBECONFIG_CATALOGUE: readonly KubeconfigDefinition[] = [
  {
    id: "kube-controller-manager",
    description: "kube-controller-manager → the local apiserver",
    audience: "controlplane",
    path: KUBECONFIG_PATHS.kubeControllerManager,
    user: "system:kube-controller-manager",
    server: "local",
    credentials: {
      kind: "path",
      cert: certPath("kube-controller-manager"),
      key: keyPath("kube-controller-manager"),
    },
    service: "kube-controller-manager",
  },
  {
    id: "kube-scheduler",
    description: "kube-scheduler → the local apiserver",
    audience: "controlplane",
    path: KUBECONFIG_PATHS.kubeScheduler,
    user: "system:kube-scheduler",
    server: "local",
    credentials: { kind: "path", cert: certPath("kube-scheduler"), key: keyPath("kube-scheduler") },
    service: "kube-scheduler",
  },
  {
    id: "admin",
    description: "admin (system:masters) on a control plane → the local apiserver",
    audience: "controlplane",
    path: KUBECONFIG_PATHS.admin,
    user: "admin",
    server: "local",
    credentials: { kind: "embedded", identity: "admin" },
  },
  {
    id: "kube-proxy",
    description: "kube-proxy → the API endpoint",
    audience: "worker",
    path: KUBECONFIG_PATHS.kubeProxy,
    user: "system:kube-proxy",
    server: "api",
    credentials: { kind: "path", cert: certPath("kube-proxy"), key: keyPath("kube-proxy") },
    service: "kube-proxy",
  },
  {
    id: "kubelet",
    description: "kubelet of a certificate worker (system:node:<name>) → the API endpoint",
    audience: "worker-certificate",
    path: KUBECONFIG_PATHS.kubelet,
    user: "system:node:{node}",
    server: "api",
    credentials: { kind: "path", cert: certPath("{node}"), key: keyPath("{node}") },
    service: "kubelet",
  },
  {
    id: "kubelet-bootstrap",
    description: "bootstrap kubeconfig of a tls-bootstrap worker (token) → the API endpoint",
    audience: "worker-tls-bootstrap",
    path: KUBECONFIG_PATHS.kubeletBootstrap,
    user: BOOTSTRAP_USER,
    server: "api",
    credentials: { kind: "bootstrap-token" },
    service: "kubelet",
  },
  {
    id: "admin-machine",
    description:
      "admin on the admin's own machine → the API endpoint; named after the cluster, to merge into ~/.kube/config",
    audience: "admin",
    path: KUBECONFIG_PATHS.adminMachine,
    user: "admin@{cluster}",
    context: "{cluster}",
    server: "api",
    credentials: { kind: "embedded", identity: "admin" },
  },
];

/** Where the kubeconfig of catalogue entry `id` lives on its nodes (the admin machine's copy: under ADMIN_HOST). */
export function kubeconfigPath(id: string): string {
  const def = KUBECONFIG_CATALOGUE.find((d) => d.id === id);
  if (!def) {
    throw new KubeconfigError(
      "MISSING_INPUT",
      "id",
      `'${id}' is not in the kubeconfig catalogue`,
      `use one of ${KUBECONFIG_CATALOGUE.map((d) => d.id).join(", ")}`,
    );
  }
  return def.path;
}

/** Secrets and PEMs the catalogue needs; the caller reads them from its PKI directory and state. */
export interface KubeconfigSecrets {
  caPem: string;
  adminCertPem: string;
  adminKeyPem: string;
  /** Needed when a worker uses tls-bootstrap: `<id>.<secret>`, generated once and kept by the caller. */
  bootstrapToken?: string;
}

const fill = (template: string, cluster: Cluster, node?: ClusterNode): string =>
  template.replaceAll("{cluster}", cluster.name).replaceAll("{node}", node?.name ?? "");

/** The hosts a catalogue entry goes to. */
export function kubeconfigTargets(cluster: Cluster, def: KubeconfigDefinition): (ClusterNode | undefined)[] {
  switch (def.audience) {
    case "controlplane":
      return cluster.controlPlanes;
    case "worker":
      return cluster.workers;
    case "worker-certificate":
      return cluster.workers.filter((w) => w.kubeletCredentials !== "tls-bootstrap");
    case "worker-tls-bootstrap":
      return cluster.workers.filter((w) => w.kubeletCredentials === "tls-bootstrap");
    case "admin":
      return [undefined];
  }
}

/** Builds one catalogue entry's kubeconfig for one node (undefined for the admin machine). */
export function kubeconfigFor(
  cluster: Cluster,
  def: KubeconfigDefinition,
  node: ClusterNode | undefined,
  secrets: Partial<KubeconfigSecrets>,
): Kubeconfig {
  const server = def.server === "local" ? `https://127.0.0.1:${API_PORT}` : cluster.api.url;
  const base = {
    clusterName: cluster.name,
    contextName: fill(def.context ?? DEFAULT_CONTEXT_NAME, cluster, node),
    server,
    user: fill(def.user, cluster, node),
  };
  const c = def.credentials;
  switch (c.kind) {
    case "path":
      return certPathKubeconfig({
        ...base,
        caPath: CA_PATH,
        certPath: fill(c.cert, cluster, node),
        keyPath: fill(c.key, cluster, node),
      });
    case "embedded":
      for (const f of ["caPem", "adminCertPem", "adminKeyPem"] as const) {
        if (!secrets[f]) {
          throw new KubeconfigError(
            "MISSING_INPUT",
            f,
            `is needed for the ${def.id} kubeconfig`,
            "pass the PEM text of the admin certificate, its key and the CA",
          );
        }
      }
      return embeddedCertKubeconfig({
        ...base,
        caPem: secrets.caPem!,
        certPem: secrets.adminCertPem!,
        keyPem: secrets.adminKeyPem!,
      });
    case "bootstrap-token":
      return bootstrapTokenKubeconfig({
        ...base,
        caPath: CA_PATH,
        token: assertBootstrapToken(secrets.bootstrapToken),
      });
  }
}

/** Whether a kubeconfig holds a secret (embedded key or token): mode 0600, `secret: true`. */
export function isSecretKubeconfig(def: KubeconfigDefinition): boolean {
  return def.credentials.kind !== "path";
}

/**
 * Every kubeconfig of the cluster as files: per control plane, per worker (by kubelet mode), and the
 * admin's own copy under ADMIN_HOST. Files that embed a key or a token are 0600 and `secret`; the
 * others (paths only) 0644. Order: catalogue order, then node order.
 */
export function kubeconfigFilesFromCluster(cluster: Cluster, secrets: KubeconfigSecrets): GeneratedFile[] {
  const files: GeneratedFile[] = [];
  for (const def of KUBECONFIG_CATALOGUE) {
    for (const node of kubeconfigTargets(cluster, def)) {
      const secret = isSecretKubeconfig(def);
      files.push({
        host: node?.name ?? ADMIN_HOST,
        path: def.path,
        mode: secret ? 0o600 : 0o644,
        contents: renderKubeconfig(kubeconfigFor(cluster, def, node, secrets)),
        ...(secret ? { secret: true } : {}),
      });
    }
  }
  return files;
}

/** service name → kubeconfig paths it reads (the CLI restarts a service when one of them changed). */
export function kubeconfigServiceFiles(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const def of KUBECONFIG_CATALOGUE) {
    if (def.service === undefined) continue;
    out[def.service] = [...(out[def.service] ?? []), def.path];
  }
  return out;
}
