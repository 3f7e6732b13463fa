import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from "node:crypto";
import type { KeyAlgorithm } from "@khw/spec/core";
import { PkiError } from "./errors";

export type { KeyAlgorithm } from "@khw/spec/core";

/** Every key algorithm this package issues with. */
export const PKI_KEY_ALGORITHMS: readonly KeyAlgorithm[] = ["rsa-2048", "rsa-4096", "ecdsa-p256"];

/** What a key provider is asked for: the certificate id and the algorithm the catalogue wants. */
export interface KeyRequest {
  id: string;
  algorithm: KeyAlgorithm;
}

/**
 * Supplies private keys: PKCS#8 PEM strings or Node KeyObjects. The default generates them natively
 * ({@link generatePrivateKey}); tests and callers with their own keys pass {@link fixedKeyProvider}.
 */
export type KeyProvider = (request: KeyRequest) => Promise<string | KeyObject>;

function unsupported(algorithm: unknown): PkiError {
  return new PkiError(
    "UNSUPPORTED_KEY",
    "keyAlgorithm",
    `unknown key algorithm '${String(algorithm)}'`,
    `use one of ${PKI_KEY_ALGORITHMS.join(", ")}`,
  );
}

/**
 * Kept for callers written against earlier versions; every value now means the same thing: keys come
 * from OpenSSL's own key generation through `node:crypto` (this package does no key arithmetic).
 * @deprecated has no effect.
 */
export type RsaKeyGeneration = "primes" | "openssl";

/**
 * Generates a private key with Node's native crypto (OpenSSL's key generation, `generateKeyPair`),
 * off the main thread: calls run in parallel on libuv's thread pool, so generating all keys at once
 * spreads them over the cores. Resolves to the KeyObject.
 */
export function generatePrivateKeyObject(
  algorithm: KeyAlgorithm,
  _options: { rsa?: RsaKeyGeneration } = {},
): Promise<KeyObject> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _pub: KeyObject, priv: KeyObject) => (err ? reject(err) : resolve(priv));
    if (algorithm === "rsa-2048" || algorithm === "rsa-4096") {
      generateKeyPair(
        "rsa",
        { modulusLength: algorithm === "rsa-2048" ? 2048 : 4096, publicExponent: 0x10001 },
        done,
      );
    } else if (algorithm === "ecdsa-p256") {
      generateKeyPair("ec", { namedCurve: "prime256v1" }, done);
    } else {
      reject(unsupported(algorithm));
    }
  });
}

/** {@link generatePrivateKeyObject} as PKCS#8 PEM. */
export async function generatePrivateKey(
  algorithm: KeyAlgorithm,
  options: { rsa?: RsaKeyGeneration } = {},
): Promise<string> {
  return privateKeyPem(await generatePrivateKeyObject(algorithm, options));
}

/** The default provider: a fresh native key per request. */
export const nativeKeyProvider: KeyProvider = (request) => generatePrivateKeyObject(request.algorithm);

/**
 * A provider that hands out the given keys by certificate id (then by algorithm, for ids not
 * listed: `{ "rsa-2048": pem }` serves every RSA-2048 request). Throws a typed error for anything else.
 */
export function fixedKeyProvider(keys: Record<string, string | KeyObject>): KeyProvider {
  return async ({ id, algorithm }) => {
    const key = keys[id] ?? keys[algorithm];
    if (key === undefined) {
      throw new PkiError(
        "INVALID_KEY",
        id,
        `no fixed key for certificate '${id}' (${algorithm})`,
        `add '${id}' or '${algorithm}' to the fixed keys`,
      );
    }
    return key;
  };
}

/** Parses a private key (PKCS#8, PKCS#1 or SEC1 PEM) into a KeyObject; typed error on failure. */
export function privateKeyObject(key: string | KeyObject, subject = "key"): KeyObject {
  if (typeof key !== "string") {
    if (key.type !== "private") {
      throw new PkiError("INVALID_KEY", subject, "is not a private key", "pass the private key");
    }
    return key;
  }
  try {
    return createPrivateKey(key);
  } catch (err) {
    throw new PkiError(
      "INVALID_KEY",
      subject,
      `is not a readable private key (${(err as Error).message})`,
      "pass an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1)",
    );
  }
}

/** The algorithm of a key (private or public), or undefined for anything this package does not issue. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "rsa") {
    if (details?.modulusLength === 2048) return "rsa-2048";
    if (details?.modulusLength === 4096) return "rsa-4096";
    return undefined;
  }
  if (key.asymmetricKeyType === "ec" && details?.namedCurve === "prime256v1") return "ecdsa-p256";
  return undefined;
}

/** The key as PKCS#8 PEM (the form every file this package writes uses). */
export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: "pkcs8", format: "pem" }) as string;
}

/** The public half as SPKI PEM (`-----BEGIN PUBLIC KEY-----`). */
export function publicKeyPem(key: string | KeyObject): string {
  const obj = typeof key === "string" ? privateKeyObject(key) : key;
  const pub = obj.type === "public" ? obj : createPublicKey(obj);
  return pub.export({ type: "spki", format: "pem" }) as string;
}
