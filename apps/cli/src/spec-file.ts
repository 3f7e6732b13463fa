import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import {
  type Cluster,
  type ClusterSpec,
  defaultClusterSpecInput,
  loadCluster,
  parseClusterYaml,
  type SpecIssue,
} from "@khw/spec";
import { CliError } from "./errors";

export const DEFAULT_SPEC_FILE = "cluster.yaml";

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
 * Reads `-f FILE` (or ./cluster.yaml). With no file given and none present, the built-in default spec
 * is used when `allowDefault` is set. Throws SpecError (exit 3) or CliError.
 */
export function loadSpecFile(
  cwd: string,
  file: string | undefined,
  options: { allowDefault: boolean },
): LoadedSpec {
  const path = resolve(cwd, file ?? DEFAULT_SPEC_FILE);
  const displayName = relative(cwd, path) || path;
  if (!existsSync(path)) {
    if (file === undefined && options.allowDefault) {
      const loaded = loadCluster(defaultClusterSpecInput(), { file: "built-in default spec" });
      return { ...loaded, file: undefined, baseDir: cwd, displayName: "the built-in default spec" };
    }
    throw new CliError(
      "SPEC_NOT_FOUND",
      `${displayName} does not exist`,
      file === undefined
        ? "run `khw init` to write the default spec, or pass -f FILE"
        : "check the path given to -f",
    );
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CliError("SPEC_UNREADABLE", `cannot read ${displayName}: ${(e as Error).message}`);
  }
  const loaded = parseClusterYaml(text, { file: displayName });
  return { ...loaded, file: path, baseDir: dirname(path), displayName };
}

/** Resolves a path from the spec (relative to the spec's directory). */
export function specPath(loaded: Pick<LoadedSpec, "baseDir">, p: string): string {
  return isAbsolute(p) ? p : resolve(loaded.baseDir, p);
}
