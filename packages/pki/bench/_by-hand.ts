// The two by-hand baselines, generated from the same catalogue: the OpenSSL command sequence of
// the guide (genrsa + req + x509 per certificate) and cfssl (`cfssl gencert | cfssljson -bare`).
// Config files are written before the clock starts (people type them); only the commands are timed.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CertificateSpec, KeyUsage } from "@khw/pki";

const OPENSSL_KU: Record<KeyUsage, string> = {
  digitalSignature: "digitalSignature",
  keyEncipherment: "keyEncipherment",
  keyCertSign: "keyCertSign",
  cRLSign: "cRLSign",
};

const subj = (c: CertificateSpec) =>
  `/CN=${c.subject.CN}${(c.subject.O ?? []).map((o) => `/O=${o}`).join("")}`;

/** Writes `<id>.cnf` files and returns the bash script (3 openssl processes per certificate). */
export function opensslSequence(dir: string, catalogue: CertificateSpec[]): string {
  const lines = ["set -e"];
  for (const c of catalogue) {
    const ext = [
      "[v3_ext]",
      `basicConstraints = critical, CA:${c.isCA ? "TRUE" : "FALSE"}`,
      `keyUsage = critical, ${c.keyUsage.map((u) => OPENSSL_KU[u]).join(", ")}`,
      ...(c.extKeyUsage.length ? [`extendedKeyUsage = ${c.extKeyUsage.join(", ")}`] : []),
      "subjectKeyIdentifier = hash",
      ...(c.isCA ? [] : ["authorityKeyIdentifier = keyid"]),
      ...(c.sans.dns.length + c.sans.ips.length
        ? [
            `subjectAltName = ${[...c.sans.dns.map((d) => `DNS:${d}`), ...c.sans.ips.map((i) => `IP:${i}`)].join(", ")}`,
          ]
        : []),
    ];
    writeFileSync(join(dir, `${c.id}.cnf`), `${ext.join("\n")}\n`);
    lines.push(
      c.keyAlgorithm === "ecdsa-p256"
        ? `openssl ecparam -name prime256v1 -genkey -noout -out ${c.id}.key`
        : `openssl genrsa -out ${c.id}.key ${c.keyAlgorithm === "rsa-4096" ? 4096 : 2048} 2>/dev/null`,
      `openssl req -new -key ${c.id}.key -subj "${subj(c)}" -out ${c.id}.csr`,
      c.signer === null
        ? `openssl x509 -req -in ${c.id}.csr -signkey ${c.id}.key -out ${c.id}.crt -days ${c.validityDays} -sha256 -extensions v3_ext -extfile ${c.id}.cnf 2>/dev/null`
        : `openssl x509 -req -in ${c.id}.csr -CA ${c.signer}.crt -CAkey ${c.signer}.key -CAcreateserial -out ${c.id}.crt -days ${c.validityDays} -sha256 -extensions v3_ext -extfile ${c.id}.cnf 2>/dev/null`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Writes the cfssl CSR and signing config JSON and returns the bash script (2 processes per certificate). */
export function cfsslSequence(dir: string, catalogue: CertificateSpec[]): string {
  const profiles: Record<string, { usages: string[]; expiry: string }> = {};
  const lines = ["set -e"];
  for (const c of catalogue) {
    const key =
      c.keyAlgorithm === "ecdsa-p256"
        ? { algo: "ecdsa", size: 256 }
        : { algo: "rsa", size: c.keyAlgorithm === "rsa-4096" ? 4096 : 2048 };
    const csr = {
      CN: c.subject.CN,
      key,
      names: (c.subject.O ?? []).map((O) => ({ O })),
      hosts: [...c.sans.dns, ...c.sans.ips],
      ...(c.isCA ? { ca: { expiry: `${c.validityDays * 24}h` } } : {}),
    };
    writeFileSync(join(dir, `${c.id}-csr.json`), JSON.stringify(csr));
    if (c.signer === null) {
      lines.push(`cfssl gencert -initca ${c.id}-csr.json 2>/dev/null | cfssljson -bare ${c.id}`);
      continue;
    }
    const usages = [
      "signing",
      "key encipherment",
      ...c.extKeyUsage.map((u) => (u === "serverAuth" ? "server auth" : "client auth")),
    ];
    const profile = `p-${c.id}`;
    profiles[profile] = { usages, expiry: `${c.validityDays * 24}h` };
    lines.push(
      `cfssl gencert -ca=${c.signer}.pem -ca-key=${c.signer}-key.pem -config=ca-config.json -profile=${profile} ${c.id}-csr.json 2>/dev/null | cfssljson -bare ${c.id}`,
    );
  }
  writeFileSync(
    join(dir, "ca-config.json"),
    JSON.stringify({ signing: { default: { expiry: "8760h" }, profiles } }),
  );
  return `${lines.join("\n")}\n`;
}
