import { existsSync, readFileSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import {
  KUBECONFIG_CATALOGUE,
  type Kubeconfig,
  KubeconfigError,
  kubeconfigFor,
  type MergeResult,
  mergeKubeconfig,
  parseKubeconfigObject,
} from "@khw/kubeconfig";
import { readPkiState } from "@khw/pki";
import type { Cluster } from "@khw/spec/core";
import { CliError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";
import { readPkiDir, workdirPaths } from "../workdir";

/**
 * Where `khw kubeconfig` writes: `--kubeconfig FILE`, else the first file of `$KUBECONFIG` (the one
 * kubectl itself writes new entries to), else `$HOME/.kube/config`.
 */
export function targetKubeconfigPath(
  cwd: string,
  env: Record<string, string | undefined>,
  explicit: string | undefined,
): string {
  if (explicit) return resolve(cwd, explicit);
  const list = (env["KUBECONFIG"] ?? "").split(delimiter).filter((p) => p !== "");
  if (list.length > 0) return isAbsolute(list[0]!) ? list[0]! : resolve(cwd, list[0]!);
  const home = env["HOME"];
  if (!home) {
    throw new CliError(
      "NO_HOME",
      "neither KUBECONFIG nor HOME is set, so there is no ~/.kube/config to write",
      "pass --kubeconfig FILE",
    );
  }
  return join(home, ".kube", "config");
}

/** The admin's kubeconfig for their own machine (API through the LB), from the working directory's pki/. */
export function adminKubeconfig(root: string, cluster: Cluster, context?: string): Kubeconfig {
  const pki = readPkiState(readPkiDir(workdirPaths(root)));
  const missing = [
    ["ca", "crt"],
    ["admin", "crt"],
    ["admin", "key"],
  ].filter(([id, ext]) => pki[id!]?.[ext === "crt" ? "cert" : "key"] === undefined);
  if (missing.length > 0) {
    throw new CliError(
      "PKI_MISSING",
      `${workdirPaths(root).pki} lacks ${missing.map(([id, ext]) => `${id}.${ext}`).join(", ")}`,
      "run `khw gen` (or `khw up`) in the directory of cluster.yaml first",
    );
  }
  const def = KUBECONFIG_CATALOGUE.find((d) => d.audience === "admin")!;
  let config: Kubeconfig;
  try {
    config = kubeconfigFor(cluster, def, undefined, {
      caPem: pki["ca"]!.cert!,
      adminCertPem: pki["admin"]!.cert!,
      adminKeyPem: pki["admin"]!.key!,
    });
  } catch (e) {
    if (e instanceof KubeconfigError)
      throw new CliError("PKI_INVALID", e.message, "run `khw gen` to repair pki/");
    throw e;
  }
  if (context && context !== config.currentContext) {
    const old = config.currentContext;
    config = {
      ...config,
      contexts: config.contexts.map((c) => (c.name === old ? { ...c, name: context } : c)),
      currentContext: context,
    };
  }
  return config;
}

export interface InstallResult extends MergeResult {
  path: string;
  /** The previous file, kept when it changed; undefined when there was none or nothing changed. */
  backup: string | undefined;
  changed: boolean;
}

/**
 * Merges `config` into the kubeconfig at `path` (created when absent): other clusters, users and
 * contexts are kept; the previous file is copied to `<path>.khw-backup-<UTC time>` first; the new one
 * is written atomically with mode 0600.
 */
export function installKubeconfig(
  path: string,
  config: Kubeconfig,
  options: { setCurrentContext: boolean; now: Date },
): InstallResult {
  const before = existsSync(path) ? readFileSync(path, "utf8") : "";
  let merged: MergeResult;
  try {
    merged = mergeKubeconfig(before, config, { setCurrentContext: options.setCurrentContext });
  } catch (e) {
    if (e instanceof KubeconfigError) {
      throw new CliError(
        "KUBECONFIG_UNREADABLE",
        `${path} is not a kubeconfig khw can merge into: ${e.message}`,
        "repair it (kubectl config view shows the problem) or pass --kubeconfig NEWFILE",
      );
    }
    throw e;
  }
  // Compared as documents: the merge may re-render an equal file with its keys in another order.
  const changed = before === "" || !sameDocument(before, merged.yaml);
  let backup: string | undefined;
  if (changed && before !== "") {
    const stamp = options.now
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z");
    backup = `${path}.khw-backup-${stamp}`;
    writeFileAtomic(backup, before, 0o600);
  }
  if (changed) writeFileAtomic(path, merged.yaml, 0o600);
  return { ...merged, path, backup, changed };
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function sameDocument(a: string, b: string): boolean {
  return (
    JSON.stringify(canonical(parseKubeconfigObject(a))) ===
    JSON.stringify(canonical(parseKubeconfigObject(b)))
  );
}
