import { KubeconfigError } from "./errors";

/** A cluster entry: where the API is and how to trust it (exactly one of the two CA forms). */
export interface KubeconfigCluster {
  name: string;
  server: string;
  /** Path of the CA bundle on the host that uses the kubeconfig. */
  certificateAuthority?: string;
  /** The CA bundle itself, PEM text (rendered base64-encoded as `certificate-authority-data`). */
  certificateAuthorityData?: string;
}

/** A user entry: a client certificate (by path or embedded) or a bearer token. */
export interface KubeconfigUser {
  name: string;
  clientCertificate?: string;
  clientKey?: string;
  /** PEM text, rendered base64-encoded as `client-certificate-data`. */
  clientCertificateData?: string;
  /** PEM text, rendered base64-encoded as `client-key-data`. */
  clientKeyData?: string;
  token?: string;
}

export interface KubeconfigContext {
  name: string;
  cluster: string;
  user: string;
  namespace?: string;
}

/** A kubeconfig (`apiVersion: v1`, `kind: Config`). */
export interface Kubeconfig {
  clusters: KubeconfigCluster[];
  users: KubeconfigUser[];
  contexts: KubeconfigContext[];
  currentContext: string;
}

/** The cluster name of REFERENCE.md; generators use the spec's `name`, whose default this is. */
export const DEFAULT_CLUSTER_NAME = "kubernetes-the-hard-way";
/** The context name of every kubeconfig installed on a node. */
export const DEFAULT_CONTEXT_NAME = "default";
/** The user name in the bootstrap kubeconfig of a `tls-bootstrap` worker. */
export const BOOTSTRAP_USER = "kubelet-bootstrap";

/** A bootstrap token: `<6 [a-z0-9]>.<16 [a-z0-9]>` (kubeadm's format). */
export const BOOTSTRAP_TOKEN_PATTERN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

const PEM_CERT = /^-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?\r?\n-----END CERTIFICATE-----\s*$/;
const PEM_KEY =
  /^-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----\r?\n[\s\S]+?\r?\n-----END \1?PRIVATE KEY-----\s*$/;

/** Trims surrounding whitespace and ends the PEM with exactly one newline. */
function normalizePem(field: string, pem: string | undefined, kind: "certificate" | "key"): string {
  if (pem === undefined || pem.trim() === "") {
    throw new KubeconfigError(
      "MISSING_INPUT",
      field,
      `no PEM ${kind} was given`,
      `pass the ${kind} as PEM text (read it from the PKI directory)`,
    );
  }
  const text = `${pem.trim()}\n`;
  const ok =
    kind === "certificate"
      ? text
          .split(/(?<=-----END CERTIFICATE-----\n)/)
          .filter((b) => b.trim() !== "")
          .every((b) => PEM_CERT.test(b.trim()))
      : PEM_KEY.test(text.trim());
  if (!ok) {
    throw new KubeconfigError(
      "INVALID_PEM",
      field,
      `is not a PEM ${kind === "certificate" ? "certificate (bundle)" : "private key"}`,
      kind === "certificate"
        ? "pass text starting with -----BEGIN CERTIFICATE-----"
        : "pass text starting with -----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY)",
    );
  }
  return text;
}

/** Checks a bootstrap token (`abcdef.0123456789abcdef`). */
export function assertBootstrapToken(token: string | undefined, field = "bootstrapToken"): string {
  if (token === undefined || token === "") {
    throw new KubeconfigError(
      "MISSING_INPUT",
      field,
      "no bootstrap token was given, but a worker uses tls-bootstrap",
      "generate one token (<6 chars>.<16 chars> of [a-z0-9]) once and keep it across runs",
    );
  }
  if (!BOOTSTRAP_TOKEN_PATTERN.test(token)) {
    throw new KubeconfigError(
      "INVALID_BOOTSTRAP_TOKEN",
      field,
      `'${token.length > 30 ? `${token.slice(0, 30)}…` : token}' is not a bootstrap token`,
      "use the form abcdef.0123456789abcdef ([a-z0-9], 6 + 16 characters)",
    );
  }
  return token;
}

/** Common input of every single-identity kubeconfig. */
export interface KubeconfigBase {
  /** Cluster entry name; default `kubernetes-the-hard-way`. */
  clusterName?: string;
  /** Context name; default `default`. */
  contextName?: string;
  /** The API URL, e.g. `https://192.168.56.30:6443`. */
  server: string;
  /** The user entry name, e.g. `system:kube-proxy`. */
  user: string;
}

function single(
  base: KubeconfigBase,
  cluster: Omit<KubeconfigCluster, "name" | "server">,
  user: Omit<KubeconfigUser, "name">,
): Kubeconfig {
  if (!/^https:\/\/[^\s/]+(:\d+)?$/.test(base.server)) {
    throw new KubeconfigError(
      "MISSING_INPUT",
      "server",
      `'${base.server}' is not an https URL of an API server`,
      "use https://HOST:6443",
    );
  }
  const clusterName = base.clusterName ?? DEFAULT_CLUSTER_NAME;
  const contextName = base.contextName ?? DEFAULT_CONTEXT_NAME;
  return {
    clusters: [{ name: clusterName, server: base.server, ...cluster }],
    users: [{ name: base.user, ...user }],
    contexts: [{ name: contextName, cluster: clusterName, user: base.user }],
    currentContext: contextName,
  };
}

/** A kubeconfig that names the CA, certificate and key by their paths on the host (components on nodes). */
export function certPathKubeconfig(
  input: KubeconfigBase & { caPath: string; certPath: string; keyPath: string },
): Kubeconfig {
  for (const f of ["caPath", "certPath", "keyPath"] as const) {
    if (!input[f]?.startsWith("/")) {
      throw new KubeconfigError(
        "MISSING_INPUT",
        f,
        `'${input[f] ?? ""}' is not an absolute path`,
        "kubeconfigs on nodes must name files by absolute path",
      );
    }
  }
  return single(
    input,
    { certificateAuthority: input.caPath },
    { clientCertificate: input.certPath, clientKey: input.keyPath },
  );
}

/** A self-contained kubeconfig: CA, certificate and key embedded (admin). */
export function embeddedCertKubeconfig(
  input: KubeconfigBase & { caPem: string; certPem: string; keyPem: string },
): Kubeconfig {
  return single(
    input,
    { certificateAuthorityData: normalizePem("caPem", input.caPem, "certificate") },
    {
      clientCertificateData: normalizePem("certPem", input.certPem, "certificate"),
      clientKeyData: normalizePem("keyPem", input.keyPem, "key"),
    },
  );
}

/** The bootstrap kubeconfig of a TLS-bootstrapping kubelet: the CA by path and a bootstrap token. */
export function bootstrapTokenKubeconfig(
  input: Omit<KubeconfigBase, "user"> & { user?: string; caPath: string; token: string },
): Kubeconfig {
  const token = assertBootstrapToken(input.token, "token");
  if (!input.caPath?.startsWith("/")) {
    throw new KubeconfigError(
      "MISSING_INPUT",
      "caPath",
      `'${input.caPath ?? ""}' is not an absolute path`,
      "name the CA by absolute path",
    );
  }
  return single(
    { ...input, user: input.user ?? BOOTSTRAP_USER },
    { certificateAuthority: input.caPath },
    { token },
  );
}
