import { dirname, isAbsolute, resolve } from "node:path";
import { type Cluster, type ClusterSpec, defaultClusterSpecInput, type SpecIssue } from "@khw/spec/core";
import { quickLoadCluster } from "@khw/spec/quick";
import { locateSpecFile, parseSpecText, readSpecText } from "./spec-read";

export { DEFAULT_SPEC_FILE, MAX_SPEC_BYTES, readSpecText } from "./spec-read";

export interface LoadedSpec {
  spec: ClusterSpec;
  cluster: Cluster;
  warnings: SpecIssue[];
  /** Absolute path of the spec file, or undefined for the built-in default. */
  file: string | undefined;
  /** The directory relative paths in the spec (keys, known_hosts, bundle) are resolved against. */
  baseDir: string;
  /** The name to show in messages. */
  displayName: string;
}

/**
 * Reads `-f FILE` (or ./cluster.yaml), bounded as readSpecText says. With no file given and none present, the built-in default spec
 * is used when `allowDefault` is set. Throws SpecError (exit 3) or CliError.
 *
 * A valid spec takes the quick path (@khw/spec/quick: the schema check compiled at build time, no zod);
 * only a spec with a problem loads @khw/spec's zod schema, whose messages tell every problem.
 */
export async function loadSpecFile(
  cwd: string,
  file: string | undefined,
  options: { allowDefault: boolean },
): Promise<LoadedSpec> {
  const { path, displayName, exists } = locateSpecFile(cwd, file, options);
  if (!exists) {
    const input = defaultClusterSpecInput();
    const loaded =
      quickLoadCluster(input) ??
      (await import("@khw/spec")).loadCluster(input, { file: "built-in default spec" });
    return { ...loaded, file: undefined, baseDir: cwd, displayName: "the built-in default spec" };
  }
  const text = readSpecText(path, displayName);
  const loaded = await parseSpecText(text, displayName);
  return { ...loaded, file: path, baseDir: dirname(path), displayName };
}

/** Resolves a path from the spec (relative to the spec's directory). */
export function specPath(loaded: Pick<LoadedSpec, "baseDir">, p: string): string {
  return isAbsolute(p) ? p : resolve(loaded.baseDir, p);
}
