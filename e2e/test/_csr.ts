// Helpers for the serving-CSR e2e: certificate requests made by the real openssl CLI, submitted to the
// lab's apiserver with a node's own credentials (so the API records that node as the requestor).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { local } from "./_support";

/** A kubeconfig that authenticates as a node with its client certificate (as its kubelet does). */
export function nodeKubeconfig(
  dir: string,
  node: string,
  server: string,
  files: { ca: string; cert: string; key: string },
): string {
  const path = join(dir, `${node}-identity.kubeconfig`);
  writeFileSync(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      `  - name: lab\n    cluster:\n      server: ${server}\n      certificate-authority: ${files.ca}`,
      "users:",
      `  - name: ${node}\n    user:\n      client-certificate: ${files.cert}\n      client-key: ${files.key}`,
      "contexts:",
      `  - name: ${node}\n    context:\n      cluster: lab\n      user: ${node}`,
      `current-context: ${node}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return path;
}

/**
 * Submits a kubelet-serving CSR named `name` for `node` (subject CN=system:node:<node>,
 * O=system:nodes, an ECDSA P-256 key as the kubelet makes) with these SANs, through `kubeconfig`.
 */
export async function submitServingCsr(
  dir: string,
  kubeconfig: string,
  name: string,
  node: string,
  sans: string[],
): Promise<void> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  execFileSync(
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
      key,
      "-subj",
      `/O=system:nodes/CN=system:node:${node}`,
      "-addext",
      `subjectAltName=${sans.join(",")}`,
      "-out",
      csr,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const object = {
    apiVersion: "certificates.k8s.io/v1",
    kind: "CertificateSigningRequest",
    metadata: { name },
    spec: {
      request: Buffer.from(readFileSync(csr, "utf8")).toString("base64"),
      signerName: "kubernetes.io/kubelet-serving",
      usages: ["digital signature", "server auth"],
    },
  };
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(object));
  const r = await local("kubectl", ["--kubeconfig", kubeconfig, "create", "-f", file]);
  if (r.code !== 0) throw new Error(`kubectl create -f ${file} as ${node} failed: ${r.stderr}`);
}
