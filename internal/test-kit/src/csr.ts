// Kubelet-serving certificate requests made by the real openssl CLI, as a kubelet makes them
// (CN=system:node:<node>, O=system:nodes, an ECDSA P-256 key, the node's SANs).
import { execFileSync } from "node:child_process";

/** The PEM of a kubelet-serving CSR for `node` with these SANs (`DNS:x`, `IP:y`); its key goes to `keyFile`. */
export function servingCsrPem(node: string, sans: readonly string[], keyFile = "/dev/null"): string {
  return execFileSync(
    "openssl",
    [
      "req",
      "-new",
      "-nodes",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-keyout",
      keyFile,
      "-subj",
      `/O=system:nodes/CN=system:node:${node}`,
      "-addext",
      `subjectAltName=${sans.join(",")}`,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  ).toString();
}

/** The CertificateSigningRequest object (certificates.k8s.io/v1, signer kubelet-serving) for a CSR PEM. */
export function servingCsrObject(
  name: string,
  pem: string,
  spec: { username?: string; groups?: string[] } = {},
): { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, unknown> } {
  return {
    apiVersion: "certificates.k8s.io/v1",
    kind: "CertificateSigningRequest",
    metadata: { name },
    spec: {
      request: Buffer.from(pem).toString("base64"),
      signerName: "kubernetes.io/kubelet-serving",
      usages: ["digital signature", "server auth"],
      ...spec,
    },
  };
}
