import { createHash, generateKeyPairSync, verify } from "node:crypto";
import { p256 } from "@noble/curves/p256";
import { describe, expect, it } from "vitest";
import { signDigestP256, signP256Deterministic } from "./_ecdsa";

const scalarOf = (jwkD: string) => BigInt(`0x${Buffer.from(jwkD, "base64url").toString("hex")}`);

describe("deterministic ECDSA P-256 (RFC 6979)", () => {
  it("reproduces RFC 6979 A.2.5 (P-256, SHA-256, message 'sample' and 'test')", () => {
    const x = 0xc9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721n;
    const sample = signDigestP256(x, createHash("sha256").update("sample").digest());
    expect(sample.r.toString(16)).toBe("efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716");
    expect(sample.s.toString(16)).toBe("f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8");
    const test = signDigestP256(x, createHash("sha256").update("test").digest());
    expect(test.r.toString(16)).toBe("f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367");
    expect(test.s.toString(16)).toBe("19f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083");
  });

  it("agrees byte for byte with @noble/curves and verifies with OpenSSL (Node) for random keys", () => {
    for (let i = 0; i < 25; i++) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const d = scalarOf(privateKey.export({ format: "jwk" }).d!);
      const data = Buffer.from(`message ${i} `.repeat(i + 1));
      const ours = signP256Deterministic(d, data);
      const digest = createHash("sha256").update(data).digest();
      const noble = p256.sign(digest, d, { lowS: false, prehash: false }).toDERRawBytes();
      expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(noble).toString("hex"));
      expect(verify("sha256", data, publicKey, ours)).toBe(true);
      expect(verify("sha256", Buffer.concat([data, Buffer.of(0)]), publicKey, ours)).toBe(false);
    }
  });

  it("rejects out-of-range scalars", () => {
    expect(() => signP256Deterministic(0n, Buffer.from("x"))).toThrow(RangeError);
  });
});
