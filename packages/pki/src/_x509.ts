// Reads X.509 certificates with node-forge's ASN.1 parser (forge's own certificate reader only
// accepts RSA keys; this one reads any key type and keeps the raw names and key identifiers).
import forge from "node-forge";
import { fromPem } from "./_der";
import { canonicalIp, type ExtKeyUsage, type KeyUsage, type SubjectAltNames } from "./catalogue";
import { PkiError } from "./errors";

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

// @types/node-forge declares fromDer's second argument as a boolean; forge also takes options.
const fromDer = asn1.fromDer as unknown as (
  bytes: string | forge.util.ByteStringBuffer,
  options: { decodeBitStrings?: boolean; parseAllBytes?: boolean },
) => Asn1;

export const OID = {
  commonName: "2.5.4.3",
  organizationName: "2.5.4.10",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  rsaEncryption: "1.2.840.113549.1.1.1",
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
} as const;

/** keyUsage bit positions (RFC 5280), most significant bit first. */
export const KEY_USAGE_BITS: Record<KeyUsage, number> = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyCertSign: 5,
  cRLSign: 6,
};

const SHORT_NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.6": "C",
  "2.5.4.8": "ST",
  "2.5.4.7": "L",
};

export interface DistinguishedName {
  CN?: string;
  O: string[];
  /** Every attribute in order, e.g. `[["CN","admin"],["O","system:masters"]]` (unknown types by OID). */
  attributes: [string, string][];
  /** One-line form, `CN=admin, O=system:masters`. */
  text: string;
}

export interface ParsedCertificate {
  der: Uint8Array;
  serialHex: string;
  signatureAlgorithmOid: string;
  issuer: DistinguishedName;
  subject: DistinguishedName;
  /** DER of the subject Name, byte for byte (what a leaf's issuer field must equal). */
  subjectDer: Uint8Array;
  issuerDer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  publicKeyAlgorithmOid: string;
  publicKeyCurveOid?: string;
  basicConstraints?: { critical: boolean; isCA: boolean; pathLen?: number };
  keyUsage?: { critical: boolean; usages: KeyUsage[]; unknownBits: number[] };
  extKeyUsage?: { usages: ExtKeyUsage[]; otherOids: string[] };
  sans: SubjectAltNames;
  subjectKeyIdentifier?: string;
  authorityKeyIdentifier?: string;
  extensionOids: string[];
}

function bytesOf(binary: string): Uint8Array {
  return Uint8Array.from(Buffer.from(binary, "binary"));
}

function parseName(node: Asn1): DistinguishedName {
  const attributes: [string, string][] = [];
  for (const rdn of node.value as Asn1[]) {
    for (const atv of rdn.value as Asn1[]) {
      const [type, value] = atv.value as Asn1[];
      const oid = asn1.derToOid(type!.value as string);
      const raw = value!.value as string;
      const text = value!.type === asn1.Type.UTF8 ? forge.util.decodeUtf8(raw) : raw;
      attributes.push([SHORT_NAMES[oid] ?? oid, text]);
    }
  }
  const cn = attributes.find(([k]) => k === "CN")?.[1];
  return {
    ...(cn !== undefined ? { CN: cn } : {}),
    O: attributes.filter(([k]) => k === "O").map(([, v]) => v),
    attributes,
    text: attributes.map(([k, v]) => `${k}=${v}`).join(", "),
  };
}

function parseTime(node: Asn1): Date {
  const text = node.value as string;
  return node.type === asn1.Type.UTCTIME ? asn1.utcTimeToDate(text) : asn1.generalizedTimeToDate(text);
}

function ipFromBytes(raw: string): string {
  const b = bytesOf(raw);
  if (b.length === 4) return Array.from(b).join(".");
  const groups: string[] = [];
  for (let i = 0; i < b.length; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return canonicalIp(groups.join(":"));
}

/** Parses DER. Throws PkiError INVALID_PEM with `label` on anything that is not a certificate. */
export function parseCertificateDer(der: Uint8Array, label = "certificate"): ParsedCertificate {
  try {
    return parseUnchecked(der);
  } catch (err) {
    if (err instanceof PkiError) throw err;
    throw new PkiError(
      "INVALID_PEM",
      label,
      `is not a readable X.509 certificate (${(err as Error).message})`,
      "pass a PEM certificate (-----BEGIN CERTIFICATE-----)",
    );
  }
}

export function parseCertificatePem(pem: string, label = "certificate"): ParsedCertificate {
  const der = typeof pem === "string" ? fromPem("CERTIFICATE", pem) : undefined;
  if (!der) {
    throw new PkiError(
      "INVALID_PEM",
      label,
      "contains no PEM certificate",
      "pass the text of a .crt/.pem file starting with -----BEGIN CERTIFICATE-----",
    );
  }
  return parseCertificateDer(der, label);
}

function parseUnchecked(der: Uint8Array): ParsedCertificate {
  const root = fromDer(forge.util.createBuffer(Buffer.from(der).toString("binary")), {
    decodeBitStrings: false,
    parseAllBytes: true,
  });
  const tbs = (root.value as Asn1[])[0]!;
  const fields = [...(tbs.value as Asn1[])];
  if (fields[0]!.tagClass === asn1.Class.CONTEXT_SPECIFIC && fields[0]!.type === 0) fields.shift();
  const [serial, sigAlg, issuer, validity, subject, spki, ...rest] = fields as [
    Asn1,
    Asn1,
    Asn1,
    Asn1,
    Asn1,
    Asn1,
    ...Asn1[],
  ];
  const [notBefore, notAfter] = validity.value as [Asn1, Asn1];
  const spkiAlg = (spki.value as Asn1[])[0]!.value as Asn1[];
  const curveNode = spkiAlg[1];
  const out: ParsedCertificate = {
    der,
    serialHex: forge.util.bytesToHex(serial.value as string).replace(/^(00)+(?=..)/, ""),
    signatureAlgorithmOid: asn1.derToOid((sigAlg.value as Asn1[])[0]!.value as string),
    issuer: parseName(issuer),
    subject: parseName(subject),
    subjectDer: bytesOf(asn1.toDer(subject).getBytes()),
    issuerDer: bytesOf(asn1.toDer(issuer).getBytes()),
    notBefore: parseTime(notBefore),
    notAfter: parseTime(notAfter),
    publicKeyAlgorithmOid: asn1.derToOid(spkiAlg[0]!.value as string),
    ...(curveNode && curveNode.type === asn1.Type.OID
      ? { publicKeyCurveOid: asn1.derToOid(curveNode.value as string) }
      : {}),
    sans: { dns: [], ips: [] },
    extensionOids: [],
  };
  const extWrapper = rest.find((n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 3);
  const exts = extWrapper ? (((extWrapper.value as Asn1[])[0]!.value as Asn1[]) ?? []) : [];
  for (const ext of exts) {
    const parts = ext.value as Asn1[];
    const oid = asn1.derToOid(parts[0]!.value as string);
    const critical = parts.length === 3 && (parts[1]!.value as string) !== "\x00";
    const inner = fromDer(parts[parts.length - 1]!.value as string, { decodeBitStrings: false });
    out.extensionOids.push(oid);
    switch (oid) {
      case OID.basicConstraints: {
        const items = inner.value as Asn1[];
        let isCA = false;
        let pathLen: number | undefined;
        for (const item of items) {
          if (item.type === asn1.Type.BOOLEAN) isCA = (item.value as string) !== "\x00";
          else if (item.type === asn1.Type.INTEGER) pathLen = asn1.derToInteger(item.value as string);
        }
        out.basicConstraints = { critical, isCA, ...(pathLen !== undefined ? { pathLen } : {}) };
        break;
      }
      case OID.keyUsage: {
        const bits = bytesOf(inner.value as string).subarray(1);
        const set: number[] = [];
        bits.forEach((byte, i) => {
          for (let b = 0; b < 8; b++) if (byte & (0x80 >> b)) set.push(i * 8 + b);
        });
        const usages = (Object.keys(KEY_USAGE_BITS) as KeyUsage[]).filter((u) =>
          set.includes(KEY_USAGE_BITS[u]),
        );
        const known = new Set(Object.values(KEY_USAGE_BITS));
        out.keyUsage = { critical, usages, unknownBits: set.filter((b) => !known.has(b)) };
        break;
      }
      case OID.extKeyUsage: {
        const oids = (inner.value as Asn1[]).map((n) => asn1.derToOid(n.value as string));
        const usages: ExtKeyUsage[] = [];
        const otherOids: string[] = [];
        for (const o of oids) {
          if (o === OID.serverAuth) usages.push("serverAuth");
          else if (o === OID.clientAuth) usages.push("clientAuth");
          else otherOids.push(o);
        }
        out.extKeyUsage = { usages, otherOids };
        break;
      }
      case OID.subjectAltName:
        for (const gn of inner.value as Asn1[]) {
          if (gn.type === 2) out.sans.dns.push(gn.value as string);
          else if (gn.type === 7) out.sans.ips.push(ipFromBytes(gn.value as string));
        }
        break;
      case OID.subjectKeyIdentifier:
        out.subjectKeyIdentifier = forge.util.bytesToHex(inner.value as string);
        break;
      case OID.authorityKeyIdentifier: {
        const keyId = (inner.value as Asn1[]).find(
          (n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 0,
        );
        if (keyId) out.authorityKeyIdentifier = forge.util.bytesToHex(keyId.value as string);
        break;
      }
    }
  }
  return out;
}
