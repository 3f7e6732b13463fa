// Helpers for the serving-CSR e2e: certificate requests made by the real openssl CLI, submitted to the
// lab's apiserver with a node's own credentials (so the API records that node as the requestor).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { servingCsrObject, servingCsrPem } from "@khw/test-kit/csr";
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
  const object = servingCsrObject(name, servingCsrPem(node, sans, join(dir, `${name}.key`)));
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(object));
  const r = await local("kubectl", ["--kubeconfig", kubeconfig, "create", "-f", file]);
  if (r.code !== 0) throw new Error(`kubectl create -f ${file} as ${node} failed: ${r.stderr}`);
}
