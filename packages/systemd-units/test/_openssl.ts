// Test certificates from the openssl CLI (until @khw/pki is usable here): one CA and leaves with
// the CN/O/usages/SANs of REFERENCE.md, written into a directory.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Leaf {
  name: string;
  cn: string;
  o?: string;
  usages: ("clientAuth" | "serverAuth")[];
  sans?: string[];
}

const run = (args: string[], cwd: string) =>
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });

/** Writes ca.crt/ca.key and <name>.crt/<name>.key for every leaf into dir; returns PEM texts by name. */
export function makePki(dir: string, leaves: Leaf[]): Record<string, { cert: string; key: string }> {
  mkdirSync(dir, { recursive: true });
  run(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-subj",
      "/CN=KUBERNETES-CA/O=Kubernetes",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  const out: Record<string, { cert: string; key: string }> = {};
  for (const leaf of leaves) {
    const subj = `/CN=${leaf.cn}${leaf.o ? `/O=${leaf.o}` : ""}`;
    run(
      [
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${leaf.name}.key`,
        "-out",
        `${leaf.name}.csr`,
        "-subj",
        subj,
      ],
      dir,
    );
    const ext = [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      `extendedKeyUsage=${leaf.usages.join(",")}`,
      ...(leaf.sans?.length ? [`subjectAltName=${leaf.sans.join(",")}`] : []),
    ].join("\n");
    writeFileSync(join(dir, `${leaf.name}.ext`), `${ext}\n`);
    run(
      [
        "x509",
        "-req",
        "-in",
        `${leaf.name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        `${leaf.name}.crt`,
        "-extfile",
        `${leaf.name}.ext`,
      ],
      dir,
    );
    out[leaf.name] = {
      cert: readFileSync(join(dir, `${leaf.name}.crt`), "utf8"),
      key: readFileSync(join(dir, `${leaf.name}.key`), "utf8"),
    };
  }
  out["ca"] = {
    cert: readFileSync(join(dir, "ca.crt"), "utf8"),
    key: readFileSync(join(dir, "ca.key"), "utf8"),
  };
  return out;
}
