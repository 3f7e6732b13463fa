import { homedir } from "node:os";
import { join } from "node:path";
import type { LabImageVersions } from "./images";

/** khw's cache root: `${XDG_CACHE_HOME:-$HOME/.cache}/khw` (shared with @khw/bundle: Go caches in `<root>/go`). */
export function defaultCacheRoot(env: Record<string, string | undefined> = process.env): string {
  const xdg = env["XDG_CACHE_HOME"];
  const base = xdg !== undefined && xdg !== "" ? xdg : join(env["HOME"] || homedir(), ".cache");
  return join(base, "khw");
}

/** Where built image sets are cached: `<cache root>/images`. */
export function defaultImagesCacheDir(env?: Record<string, string | undefined>): string {
  return join(defaultCacheRoot(env), "images");
}

/** The cache key of a version set (with the Go toolchain that built it). */
export function imagesCacheKey(v: LabImageVersions, goVersion: string): string {
  return `pause-${v.pauseTag}_k8s-${v.kubernetes}_coredns-v${v.coredns}_${goVersion}-amd64`;
}
