import { parse } from "yaml";
import { KubeconfigError } from "./errors";
import type { Kubeconfig, KubeconfigCluster, KubeconfigContext, KubeconfigUser } from "./model";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function bad(field: string, message: string, hint = "fix or remove this entry"): never {
  throw new KubeconfigError("INVALID_KUBECONFIG", field, message, hint);
}

/**
 * Parses kubeconfig YAML into its plain object, checking only the structure merge relies on
 * (lists of named entries). Empty text is an empty kubeconfig. Unknown fields are kept.
 */
export function parseKubeconfigObject(text: string): Obj {
  let doc: unknown;
  try {
    doc = text.trim() === "" ? {} : parse(text);
  } catch (e) {
    bad("(document)", `is not valid YAML: ${(e as Error).message.split("\n")[0]}`, "repair the file's YAML");
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc))
    bad("(document)", "is not a mapping", "a kubeconfig is a YAML mapping with clusters, users, contexts");
  for (const list of ["clusters", "users", "contexts"] as const) {
    const v = doc[list];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) bad(list, "is not a list");
    v.forEach((e, i) => {
      if (!isObj(e) || typeof e["name"] !== "string" || e["name"] === "")
        bad(`${list}[${i}].name`, "is missing");
    });
  }
  return doc;
}

function decode(field: string, v: unknown): string {
  if (typeof v !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) {
    bad(field, "is not base64", "encode the PEM text with base64 (no line breaks)");
  }
  return Buffer.from(v, "base64").toString("utf8");
}

function str(field: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") bad(field, "is not a string");
  return v;
}

/** Parses a kubeconfig into the typed model (`*-data` fields decoded to PEM text). Unknown fields are dropped. */
export function parseKubeconfig(text: string): Kubeconfig {
  const doc = parseKubeconfigObject(text);
  const list = (k: string): Obj[] => (Array.isArray(doc[k]) ? (doc[k] as Obj[]) : []);
  const clusters: KubeconfigCluster[] = list("clusters").map((e, i) => {
    const c = isObj(e["cluster"]) ? e["cluster"] : bad(`clusters[${i}].cluster`, "is missing");
    const server = str(`clusters[${i}].cluster.server`, c["server"]);
    if (server === undefined) bad(`clusters[${i}].cluster.server`, "is missing");
    const out: KubeconfigCluster = { name: e["name"] as string, server };
    const ca = str(`clusters[${i}].cluster.certificate-authority`, c["certificate-authority"]);
    if (ca !== undefined) out.certificateAuthority = ca;
    if (c["certificate-authority-data"] !== undefined) {
      out.certificateAuthorityData = decode(
        `clusters[${i}].cluster.certificate-authority-data`,
        c["certificate-authority-data"],
      );
    }
    return out;
  });
  const users: KubeconfigUser[] = list("users").map((e, i) => {
    const u = isObj(e["user"]) ? e["user"] : {};
    const out: KubeconfigUser = { name: e["name"] as string };
    const p = `users[${i}].user`;
    const cc = str(`${p}.client-certificate`, u["client-certificate"]);
    if (cc !== undefined) out.clientCertificate = cc;
    if (u["client-certificate-data"] !== undefined) {
      out.clientCertificateData = decode(`${p}.client-certificate-data`, u["client-certificate-data"]);
    }
    const ck = str(`${p}.client-key`, u["client-key"]);
    if (ck !== undefined) out.clientKey = ck;
    if (u["client-key-data"] !== undefined)
      out.clientKeyData = decode(`${p}.client-key-data`, u["client-key-data"]);
    const token = str(`${p}.token`, u["token"]);
    if (token !== undefined) out.token = token;
    return out;
  });
  const contexts: KubeconfigContext[] = list("contexts").map((e, i) => {
    const c = isObj(e["context"]) ? e["context"] : bad(`contexts[${i}].context`, "is missing");
    const cluster =
      str(`contexts[${i}].context.cluster`, c["cluster"]) ??
      bad(`contexts[${i}].context.cluster`, "is missing");
    const user =
      str(`contexts[${i}].context.user`, c["user"]) ?? bad(`contexts[${i}].context.user`, "is missing");
    const out: KubeconfigContext = { name: e["name"] as string, cluster, user };
    const ns = str(`contexts[${i}].context.namespace`, c["namespace"]);
    if (ns !== undefined) out.namespace = ns;
    return out;
  });
  return { clusters, users, contexts, currentContext: str("current-context", doc["current-context"]) ?? "" };
}
