// Deterministic ECDSA over P-256 with SHA-256 (RFC 6979 nonces).
//
// Node's crypto.sign() draws a random nonce for ECDSA, so the same certificate signed twice gives
// different bytes. The nonce here is derived per RFC 6979 (HMAC-DRBG keyed with the private key
// and the message hash, computed with Node's native HMAC); the one point multiplication k·G is
// done natively by OpenSSL through ECDH (setPrivateKey computes the public point). Only the final
// s = k⁻¹(e + r·d) mod n is BigInt arithmetic. Tests check the RFC 6979 vector, agreement with
// @noble/curves and verification by OpenSSL and Node.
import { createECDH, createHash, createHmac } from "node:crypto";
import { bigIntToBytes, bytesToBigInt, concatBytes, positiveIntegerContents, tlv } from "./_der";

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** a⁻¹ mod m (m prime, 0 < a < m), extended Euclid. */
function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return ((oldS % m) + m) % m;
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The x coordinate of k·G, computed natively. */
function xOfMultiple(k: bigint): bigint {
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(bigIntToBytes(k, 32));
  const point = ecdh.getPublicKey(); // 0x04 || X || Y
  return bytesToBigInt(point.subarray(1, 33));
}

/** Signs a SHA-256 digest; returns the raw (r, s). */
export function signDigestP256(d: bigint, digest: Uint8Array): { r: bigint; s: bigint } {
  if (d <= 0n || d >= N) throw new RangeError("P-256 private scalar out of range");
  const e = bytesToBigInt(digest); // qlen = hlen = 256: bits2int is the plain integer
  const x = bigIntToBytes(d, 32);
  const h1 = bigIntToBytes(e % N, 32);
  let v: Uint8Array = new Uint8Array(32).fill(1);
  let k0: Uint8Array = new Uint8Array(32);
  k0 = hmac(k0, v, Uint8Array.of(0), x, h1);
  v = hmac(k0, v);
  k0 = hmac(k0, v, Uint8Array.of(1), x, h1);
  v = hmac(k0, v);
  for (;;) {
    v = hmac(k0, v);
    const k = bytesToBigInt(v);
    if (k >= 1n && k < N) {
      const r = xOfMultiple(k) % N;
      if (r !== 0n) {
        const s = (modInverse(k, N) * ((e + r * d) % N)) % N;
        if (s !== 0n) return { r, s };
      }
    }
    k0 = hmac(k0, v, Uint8Array.of(0));
    v = hmac(k0, v);
  }
}

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, DER. */
export function ecdsaSignatureDer(r: bigint, s: bigint): Uint8Array {
  return tlv(
    0x30,
    concatBytes([
      tlv(0x02, positiveIntegerContents(bigIntToBytes(r, 32))),
      tlv(0x02, positiveIntegerContents(bigIntToBytes(s, 32))),
    ]),
  );
}

/** Deterministic ECDSA P-256 / SHA-256 signature (DER) of `data` with the private scalar `d`. */
export function signP256Deterministic(d: bigint, data: Uint8Array): Uint8Array {
  const digest = createHash("sha256").update(data).digest();
  const { r, s } = signDigestP256(d, digest);
  return ecdsaSignatureDer(r, s);
}
