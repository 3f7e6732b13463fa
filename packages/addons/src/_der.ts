// A minimal DER reader: enough of ASN.1 to read a PKCS#10 certificate request's subject, key
// algorithm and requested extensions (RFC 2986, RFC 5280). No signature checks: the apiserver
// verifies a CSR's signature when it is created.

export interface Tlv {
  tag: number;
  constructed: boolean;
  /** The content octets. */
  value: Uint8Array;
  /** Offset just past this element in the buffer it was read from. */
  end: number;
}

export class DerError extends Error {}

export function readTlv(buf: Uint8Array, pos: number): Tlv {
  if (pos + 2 > buf.length) throw new DerError("truncated element");
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not supported");
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError("unsupported length");
    len = 0;
    for (let i = 0; i < n; i++) {
      if (p >= buf.length) throw new DerError("truncated length");
      len = len * 256 + buf[p++]!;
    }
  }
  if (p + len > buf.length) throw new DerError("element longer than its container");
  return { tag, constructed: (tag & 0x20) !== 0, value: buf.subarray(p, p + len), end: p + len };
}

/** The elements inside a constructed element. */
export function children(tlv: Tlv): Tlv[] {
  if (!tlv.constructed) throw new DerError(`tag 0x${tlv.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  let pos = 0;
  while (pos < tlv.value.length) {
    const c = readTlv(tlv.value, pos);
    out.push(c);
    pos = c.end;
  }
  return out;
}

export function parseDer(buf: Uint8Array): Tlv {
  const t = readTlv(buf, 0);
  if (t.end !== buf.length) throw new DerError("trailing bytes");
  return t;
}

export function oid(tlv: Tlv): string {
  if (tlv.tag !== 0x06 || tlv.value.length === 0) throw new DerError("not an OBJECT IDENTIFIER");
  const v = tlv.value;
  const parts: number[] = [];
  let n = 0;
  for (const b of v) {
    n = n * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(n);
      n = 0;
    }
  }
  const first = parts.shift()!;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...parts].join(".");
}

/** UTF8String, PrintableString, IA5String, TeletexString, BMPString. */
export function text(tlv: Tlv): string {
  switch (tlv.tag) {
    case 0x0c:
      return new TextDecoder("utf-8", { fatal: true }).decode(tlv.value);
    case 0x13:
    case 0x16:
    case 0x14:
      return String.fromCharCode(...tlv.value);
    case 0x1e: {
      let s = "";
      for (let i = 0; i + 1 < tlv.value.length; i += 2)
        s += String.fromCharCode(tlv.value[i]! * 256 + tlv.value[i + 1]!);
      return s;
    }
    default:
      throw new DerError(`tag 0x${tlv.tag.toString(16)} is not a string`);
  }
}

/** PEM blocks of a type → their DER bytes. */
export function pemBlocks(pem: string, type: string): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${type}-----([^-]+)-----END ${type}-----`, "g");
  return [...pem.matchAll(re)].map((m) =>
    Uint8Array.from(atob(m[1]!.replace(/\s+/g, "")), (c) => c.charCodeAt(0)),
  );
}
