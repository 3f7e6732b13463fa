import { join } from "node:path";
import { khwCacheRoot } from "@khw/host-io";
import { type BundleVersions, bundleCacheKey } from "./layout";

/**
 * khw's cache root: `${XDG_CACHE_HOME:-$HOME/.cache}/khw`. Bundles live in `<root>/bundles/<key>`,
 * the Go module and build caches of `buildBundle` in `<root>/go/mod` and `<root>/go/build`.
 */
export function defaultCacheRoot(env: Record<string, string | undefined> = process.env): string {
  return khwCacheRoot(env);
}

/** The directory holding the bundles, one per version set: `<cache root>/bundles`. */
export function defaultBundlesDir(env?: Record<string, string | undefined>): string {
  return join(defaultCacheRoot(env), "bundles");
}

/** Where the bundle of a version set is cached: `<bundlesDir>/k8s-<v>_etcd-<v>-<arch>`. */
export function bundleCacheDir(versions: BundleVersions, bundlesDir = defaultBundlesDir()): string {
  return join(bundlesDir, bundleCacheKey(versions));
}
