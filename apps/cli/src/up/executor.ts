import { type Executor, type HostTarget, type Logger, SshExecutor } from "@khw/remote-exec";
import type { ClusterNode } from "@khw/spec";
import { type LoadedSpec, specPath } from "../spec-file";

/** How to reach one node: its SSH settings from the spec, key paths resolved against cluster.yaml's directory. */
export function hostTarget(
  loaded: Pick<LoadedSpec, "baseDir">,
  node: ClusterNode,
  env: Record<string, string | undefined>,
): HostTarget {
  const s = node.ssh;
  const agent = env["SSH_AUTH_SOCK"];
  return {
    name: node.name,
    host: s.host,
    port: s.port,
    user: s.user,
    ...(s.identityFile !== undefined ? { identityFile: specPath(loaded, s.identityFile) } : {}),
    ...(agent ? { agent } : {}),
    ...(s.jump
      ? {
          jump: {
            host: s.jump.host,
            port: s.jump.port,
            user: s.jump.user,
            ...(s.jump.identityFile !== undefined
              ? { identityFile: specPath(loaded, s.jump.identityFile) }
              : {}),
            ...(agent ? { agent } : {}),
          },
        }
      : {}),
  };
}

/** Every node's target, by node name. */
export function hostTargets(
  loaded: Pick<LoadedSpec, "baseDir" | "cluster">,
  env: Record<string, string | undefined>,
): Map<string, HostTarget> {
  return new Map(loaded.cluster.nodes.map((n) => [n.name, hostTarget(loaded, n, env)]));
}

/** The SSH executor for a spec: its known_hosts file (relative to cluster.yaml) and host-key policy. */
export function sshExecutorForSpec(loaded: Pick<LoadedSpec, "baseDir" | "spec">, logger?: Logger): Executor {
  return new SshExecutor({
    knownHostsFile: specPath(loaded, loaded.spec.ssh.knownHostsFile),
    hostKeyChecking: loaded.spec.ssh.hostKeyChecking,
    ...(logger ? { logger } : {}),
  });
}
