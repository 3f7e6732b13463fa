import { join } from "node:path";
import { khwCacheRoot, sha256 } from "@khw/host-io";
import type { LabImageVersions } from "./images";

/** khw's cache root: `${XDG_CACHE_HOME:-$HOME/.cache}/khw` (shared with @khw/bundle: Go caches in `<root>/go`). */
export function defaultCacheRoot(env: Record<string, string | undefined> = process.env): string {
  return khwCacheRoot(env);
}

/** Where built image sets are cached: `<cache root>/images`. */
export function defaultImagesCacheDir(env?: Record<string, string | undefined>): string {
  return join(defaultCacheRoot(env), "images");
}

/** The cache key of a version set (with the Go toolchain that built it and the exact Debian packages in it). */
export function imagesCacheKey(v: LabImageVersions, goVersion: string, debs: readonly string[] = []): string {
  const debKey = debs.length ? `_debs-${sha256(debs.join("\n")).slice(0, 12)}` : "";
  return `pause-${v.pauseTag}_k8s-${v.kubernetes}_coredns-v${v.coredns}_flannel-${v.flannel}${debKey}_${goVersion}-amd64`;
}
