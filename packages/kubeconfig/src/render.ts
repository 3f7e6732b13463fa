import { stringify } from "yaml";
import type { Kubeconfig, KubeconfigCluster, KubeconfigContext, KubeconfigUser } from "./model";

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

/** Options of the YAML renderer shared by render and merge: no line folding, so long data stays on one line. */
export const YAML_OPTIONS = { lineWidth: 0, minContentWidth: 0, indent: 2 } as const;

function rawCluster(c: KubeconfigCluster): Record<string, unknown> {
  const cluster: Record<string, unknown> = {};
  if (c.certificateAuthority !== undefined) cluster["certificate-authority"] = c.certificateAuthority;
  if (c.certificateAuthorityData !== undefined)
    cluster["certificate-authority-data"] = b64(c.certificateAuthorityData);
  cluster["server"] = c.server;
  return { name: c.name, cluster };
}

function rawUser(u: KubeconfigUser): Record<string, unknown> {
  const user: Record<string, unknown> = {};
  if (u.clientCertificate !== undefined) user["client-certificate"] = u.clientCertificate;
  if (u.clientCertificateData !== undefined) user["client-certificate-data"] = b64(u.clientCertificateData);
  if (u.clientKey !== undefined) user["client-key"] = u.clientKey;
  if (u.clientKeyData !== undefined) user["client-key-data"] = b64(u.clientKeyData);
  if (u.token !== undefined) user["token"] = u.token;
  return { name: u.name, user };
}

function rawContext(c: KubeconfigContext): Record<string, unknown> {
  const context: Record<string, unknown> = { cluster: c.cluster };
  if (c.namespace !== undefined) context["namespace"] = c.namespace;
  context["user"] = c.user;
  return { name: c.name, context };
}

/**
 * The kubeconfig as the plain object kubectl reads (kebab-case keys, `*-data` base64-encoded), in a
 * fixed key order: apiVersion, kind, clusters, contexts, current-context, preferences, users.
 */
export function toKubeconfigObject(config: Kubeconfig): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: config.clusters.map(rawCluster),
    contexts: config.contexts.map(rawContext),
    "current-context": config.currentContext,
    preferences: {},
    users: config.users.map(rawUser),
  };
}

/** Deterministic YAML of a kubeconfig: same input, byte-identical output. */
export function renderKubeconfig(config: Kubeconfig): string {
  return stringify(toKubeconfigObject(config), YAML_OPTIONS);
}
