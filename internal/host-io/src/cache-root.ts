import { homedir } from "node:os";
import { join } from "node:path";

/**
 * khw's cache root: `${XDG_CACHE_HOME:-$HOME/.cache}/khw`. Bundles, images, the lab's base image, Go
 * caches and downloaded binaries all live below it (each in its own sub-directory).
 */
export function khwCacheRoot(env: Record<string, string | undefined> = process.env): string {
  const xdg = env["XDG_CACHE_HOME"];
  const base = xdg !== undefined && xdg !== "" ? xdg : join(env["HOME"] || homedir(), ".cache");
  return join(base, "khw");
}
