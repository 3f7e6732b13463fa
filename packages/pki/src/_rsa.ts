// RSA private keys assembled from two primes generated natively by OpenSSL (crypto.generatePrime).
//
// Why: OpenSSL 3's RSA key generation (the SP 800-56B path, 64 Miller-Rabin rounds per prime plus
// auxiliary-prime work) costs ~2-3x the CPU of generating the two primes with BN_generate_prime
// (also 64 Miller-Rabin rounds, top two bits set). The key is then the textbook CRT form with the
// SP 800-56B checks: gcd(e, p-1) = gcd(e, q-1) = 1, |p - q| > 2^(nlen/2 - 100), d > 2^(nlen/2),
// n of exactly nlen bits. Tests check every key with `openssl pkey -check`.
import { createPrivateKey, generatePrime, type KeyObject } from "node:crypto";

const E = 65537n;

function primeAsync(bits: number): Promise<bigint> {
  return new Promise((resolve, reject) =>
    generatePrime(bits, { bigint: true }, (err, prime) => (err ? reject(err) : resolve(prime as bigint))),
  );
}

function gcd(a: bigint, b: bigint): bigint {
  let [x, y] = [a, b];
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return ((oldS % m) + m) % m;
}

function b64u(value: bigint): string {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, "hex").toString("base64url");
}

const bitLength = (v: bigint) => v.toString(2).length;

/** An RSA private key of `modulusBits` (2048, 4096) with e = 65537, from two native primes. */
export async function rsaKeyFromPrimes(modulusBits: number): Promise<KeyObject> {
  const half = modulusBits / 2;
  for (;;) {
    const [p0, q0] = await Promise.all([primeAsync(half), primeAsync(half)]);
    const [p, q] = p0 > q0 ? [p0, q0] : [q0, p0];
    const n = p * q;
    if (bitLength(n) !== modulusBits) continue;
    if (p - q <= 1n << BigInt(half - 100)) continue;
    if (gcd(E, p - 1n) !== 1n || gcd(E, q - 1n) !== 1n) continue;
    const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
    const d = modInverse(E, lambda);
    if (d <= 1n << BigInt(half)) continue;
    return createPrivateKey({
      key: {
        kty: "RSA",
        n: b64u(n),
        e: b64u(E),
        d: b64u(d),
        p: b64u(p),
        q: b64u(q),
        dp: b64u(d % (p - 1n)),
        dq: b64u(d % (q - 1n)),
        qi: b64u(modInverse(q, p)),
      },
      format: "jwk",
    });
  }
}
