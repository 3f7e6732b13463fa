import { type KeyProvider, nativeKeyProvider } from "@khw/pki";

const cache = new Map<string, Promise<string | import("node:crypto").KeyObject>>();

/**
 * Real keys, generated once per certificate id and algorithm in this test process, so each test's
 * `khw gen` costs signatures only. Distinct ids keep distinct keys (a CA never shares a leaf's key).
 */
export const cachedKeys: KeyProvider = (request) => {
  const k = `${request.id}/${request.algorithm}`;
  let p = cache.get(k);
  if (!p) {
    p = nativeKeyProvider(request);
    cache.set(k, p);
  }
  return p;
};
