import { X509Certificate } from "node:crypto";
import { PkiError } from "./errors";
import { privateKeyObject, publicKeyPem } from "./keys";
import type { PkiMaterial } from "./reconcile";

export const SERVICE_ACCOUNT_ID = "service-account";

/** The service-account token key pair, in the forms the control plane's flags take. */
export interface ServiceAccountKeyPair {
  /** `--service-account-signing-key-file` (apiserver) and `--service-account-private-key-file` (controller-manager). */
  privateKey: string;
  /** `--service-account-key-file` (apiserver): the certificate, as REFERENCE prescribes. */
  certificate: string;
  /** The bare public key (SPKI PEM); `--service-account-key-file` accepts it too. */
  publicKey: string;
}

/** Picks the service-account pair out of the material (id `service-account` unless told otherwise). */
export function serviceAccountKeyPair(material: PkiMaterial, id = SERVICE_ACCOUNT_ID): ServiceAccountKeyPair {
  const m = material[id];
  if (!m) {
    throw new PkiError(
      "UNKNOWN_CERTIFICATE",
      id,
      "is not in the material",
      "issue the catalogue's service-account entry first",
    );
  }
  const key = privateKeyObject(m.key, `${id}.key`);
  const publicKey = publicKeyPem(key);
  const fromCert = new X509Certificate(m.cert).publicKey.export({ type: "spki", format: "pem" }) as string;
  if (fromCert !== publicKey) {
    throw new PkiError(
      "INVALID_KEY",
      `${id}.key`,
      `does not belong to ${id}.crt`,
      "re-issue the service-account pair (reconcilePki)",
    );
  }
  return { privateKey: m.key, certificate: m.cert, publicKey };
}
