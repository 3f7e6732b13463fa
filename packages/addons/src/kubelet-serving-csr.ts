import type { Cluster } from "@khw/spec/core";
import { children, DerError, oid, parseDer, pemBlocks, type Tlv, text } from "./_der";
import { NODES_GROUP } from "./bootstrap-token";
import { AddonsError } from "./errors";
import type { CertificateSigningRequest } from "./objects";

/** What a PKCS#10 certificate request asks for. */
export interface CertificateRequestInfo {
  subject: { CN: string[]; O: string[]; other: string[] };
  /** `rsa`, `ecdsa`, `ed25519`, or the algorithm's OID. */
  keyAlgorithm: string;
  dnsNames: string[];
  ipAddresses: string[];
  emailAddresses: string[];
  uris: string[];
}

const OID = {
  CN: "2.5.4.3",
  O: "2.5.4.10",
  extensionRequest: "1.2.840.113549.1.9.14",
  subjectAltName: "2.5.29.17",
  rsa: "1.2.840.113549.1.1.1",
  ecdsa: "1.2.840.10045.2.1",
  ed25519: "1.3.101.112",
} as const;

function ip(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join(".");
  const groups: string[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(":");
}

/**
 * Reads a PEM `CERTIFICATE REQUEST` (RSA, ECDSA or Ed25519 keys): subject CN/O, key algorithm and
 * the subjectAltName of its extension request. Throws AddonsError INVALID_INPUT when it is not one.
 */
export function parseCertificateRequest(pem: string): CertificateRequestInfo {
  const der = pemBlocks(pem, "CERTIFICATE REQUEST")[0] ?? pemBlocks(pem, "NEW CERTIFICATE REQUEST")[0];
  if (!der) {
    throw new AddonsError("INVALID_INPUT", "request", "holds no PEM CERTIFICATE REQUEST block");
  }
  try {
    const [info] = children(parseDer(der));
    const [, subject, spki, ...rest] = children(info!);
    const out: CertificateRequestInfo = {
      subject: { CN: [], O: [], other: [] },
      keyAlgorithm: "",
      dnsNames: [],
      ipAddresses: [],
      emailAddresses: [],
      uris: [],
    };
    for (const rdn of children(subject!)) {
      for (const atv of children(rdn)) {
        const [type, value] = children(atv);
        const id = oid(type!);
        const v = text(value!);
        if (id === OID.CN) out.subject.CN.push(v);
        else if (id === OID.O) out.subject.O.push(v);
        else out.subject.other.push(`${id}=${v}`);
      }
    }
    const algId = oid(children(children(spki!)[0]!)[0]!);
    out.keyAlgorithm =
      algId === OID.rsa ? "rsa" : algId === OID.ecdsa ? "ecdsa" : algId === OID.ed25519 ? "ed25519" : algId;
    const attributes: Tlv | undefined = rest.find((t) => t.tag === 0xa0);
    for (const attr of attributes ? children(attributes) : []) {
      const [type, values] = children(attr);
      if (oid(type!) !== OID.extensionRequest) continue;
      for (const extensions of children(values!)) {
        for (const ext of children(extensions)) {
          const parts = children(ext);
          if (oid(parts[0]!) !== OID.subjectAltName) continue;
          const octets = parts[parts.length - 1]!;
          for (const name of children(parseDer(octets.value))) {
            const raw = String.fromCharCode(...name.value);
            if (name.tag === 0x82) out.dnsNames.push(raw);
            else if (name.tag === 0x87) out.ipAddresses.push(ip(name.value));
            else if (name.tag === 0x81) out.emailAddresses.push(raw);
            else if (name.tag === 0x86) out.uris.push(raw);
            else out.uris.push(`[other name form 0x${name.tag.toString(16)}]`);
          }
        }
      }
    }
    return out;
  } catch (e) {
    if (e instanceof DerError || e instanceof TypeError) {
      throw new AddonsError(
        "INVALID_INPUT",
        "request",
        `is not a readable certificate request (${e.message})`,
      );
    }
    throw e;
  }
}

export const KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving";
/** The usages the kubelet-serving signer allows; `server auth` is required. */
export const KUBELET_SERVING_USAGES = ["digital signature", "key encipherment", "server auth"] as const;

export interface ServingCsrNode {
  name: string;
  address: string;
}

export interface ServingCsrReview {
  /** approve: every check passed; reject: at least one failed; skip: not a pending kubelet-serving CSR. */
  verdict: "approve" | "reject" | "skip";
  /** The node it claims to be for (from the requestor). */
  node?: string;
  /** Why it is rejected or skipped (empty when approved). */
  reasons: string[];
}

function b64ToText(b64: string): string {
  const bin = atob(b64);
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/**
 * Decides whether a kubelet's serving CSR (signer kubernetes.io/kubelet-serving, which no
 * controller approves) may be approved: the requestor is `system:node:<name>` of a known node in
 * group system:nodes; the request's subject is exactly CN=system:node:<name>, O=system:nodes; the
 * usages are within digital signature, key encipherment, server auth and include server auth; the
 * SANs are only that node's name and address (at least one; no e-mail or URI). Pure: give it the
 * CSR object as `kubectl get csr -o json` prints it.
 */
export function reviewKubeletServingCsr(
  csr: CertificateSigningRequest,
  nodes: readonly ServingCsrNode[],
): ServingCsrReview {
  const spec = csr.spec;
  if (spec?.signerName !== KUBELET_SERVING_SIGNER) {
    return {
      verdict: "skip",
      reasons: [`signer is ${spec?.signerName ?? "(none)"}, not ${KUBELET_SERVING_SIGNER}`],
    };
  }
  const decided = csr.status?.conditions?.find((c) => c.type === "Approved" || c.type === "Denied");
  if (decided) return { verdict: "skip", reasons: [`already ${decided.type.toLowerCase()}`] };

  const reasons: string[] = [];
  const user = spec.username ?? "";
  const m = /^system:node:(.+)$/.exec(user);
  const node = m ? nodes.find((n) => n.name === m[1]) : undefined;
  if (!m) reasons.push(`requested by '${user}', not by a node (system:node:<name>)`);
  else if (!node) reasons.push(`requested by ${user}, but ${m[1]} is not a node of this cluster`);
  if (!spec.groups?.includes(NODES_GROUP)) reasons.push(`requestor is not in group ${NODES_GROUP}`);

  const usages = spec.usages ?? [];
  const extra = usages.filter((u) => !(KUBELET_SERVING_USAGES as readonly string[]).includes(u));
  if (extra.length) reasons.push(`usages not allowed for a serving certificate: ${extra.join(", ")}`);
  if (!usages.includes("server auth")) reasons.push("usages lack server auth");

  let req: CertificateRequestInfo | undefined;
  try {
    req = parseCertificateRequest(b64ToText(spec.request));
  } catch (e) {
    reasons.push(e instanceof AddonsError ? e.message : `request: ${String(e)}`);
  }
  if (req) {
    if (req.subject.CN.length !== 1 || req.subject.CN[0] !== user) {
      reasons.push(`subject CN is ${req.subject.CN.join(",") || "(none)"}, not the requestor ${user}`);
    }
    if (req.subject.O.length !== 1 || req.subject.O[0] !== NODES_GROUP) {
      reasons.push(`subject O is ${req.subject.O.join(",") || "(none)"}, not ${NODES_GROUP}`);
    }
    if (req.dnsNames.length + req.ipAddresses.length === 0)
      reasons.push("requests no DNS name or IP address");
    if (node) {
      const badDns = req.dnsNames.filter((d) => d !== node.name);
      const badIps = req.ipAddresses.filter((a) => a !== node.address);
      if (badDns.length) reasons.push(`DNS names not of ${node.name}: ${badDns.join(", ")}`);
      if (badIps.length)
        reasons.push(`IP addresses not of ${node.name} (${node.address}): ${badIps.join(", ")}`);
    }
    if (req.emailAddresses.length || req.uris.length) {
      reasons.push(`e-mail or URI names are not allowed: ${[...req.emailAddresses, ...req.uris].join(", ")}`);
    }
  }
  return { verdict: reasons.length ? "reject" : "approve", ...(m ? { node: m[1]! } : {}), reasons };
}

/** reviewKubeletServingCsr against the cluster's workers (name and address from the spec). */
export function reviewKubeletServingCsrFromCluster(
  csr: CertificateSigningRequest,
  cluster: Cluster,
): ServingCsrReview {
  return reviewKubeletServingCsr(
    csr,
    cluster.workers.map((w) => ({ name: w.name, address: w.address })),
  );
}
