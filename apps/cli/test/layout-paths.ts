// The node layout as a test sees it: the paths a generated text names, and why each is known.
import { KUBECONFIG_CATALOGUE } from "@khw/kubeconfig";
import { binaryArtifacts, NODE_DIRS, NODE_FILES } from "@khw/spec";
import type { Artifacts } from "../src/artifacts";

/** Absolute paths under the system roots, wherever they stand (flags, YAML, TOML, haproxy.cfg, URLs). */
const NODE_PATH = /(?<![\w.])\/(?:etc|var|usr|opt|run|srv|home|sbin|bin|lib)\/[\w.{}@+-]+(?:\/[\w.{}@+-]+)*/g;

/** The paths a host's text names, without a trailing slash. */
export function namedPaths(text: string): string[] {
  return [...new Set([...text.matchAll(NODE_PATH)].map((m) => m[0].replace(/\/+$/, "")))];
}

/** Why a path a file on `host` names is known, or undefined when nothing in the layout accounts for it. */
export function knownAs(artifacts: Artifacts, host: string, path: string): string | undefined {
  const node = artifacts.cluster.nodes.find((n) => n.name === host)!;
  if (artifacts.files.some((f) => f.host === host && f.path === path)) return "placed on the host";
  const executables = binaryArtifacts(artifacts.cluster)
    .filter((a) => a.roles.includes(node.role))
    .flatMap((a) => Object.values(a.installAs));
  if (executables.includes(path)) return "a release file's executable";
  if (KUBECONFIG_CATALOGUE.some((d) => d.path === path)) return "a kubeconfig of the catalogue";
  if ((Object.values(NODE_DIRS) as string[]).includes(path)) return "a layout directory";
  if ((Object.values(NODE_FILES) as string[]).includes(path)) return "a layout runtime file";
  return undefined;
}
