import {
  type Executor,
  type HostKeyEvent,
  type HostTarget,
  type Logger,
  SshExecutor,
} from "@khw/remote-exec";
import type { ClusterNode } from "@khw/spec/core";
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

/** One line for the terminal about a host key that was not checked against known_hosts. */
export function hostKeyNotice(e: HostKeyEvent): string {
  const key = `${e.keyType} ${e.fingerprint}`;
  switch (e.kind) {
    case "not-verified":
      return `warning: host key of ${e.host} (${e.knownHostsName}) NOT verified (ssh.hostKeyChecking: insecure): ${key}; anyone on the network path could pose as this host. Use accept-new or strict.`;
    case "recorded":
      return `recorded the host key of ${e.host} (${e.knownHostsName}) in ${e.file}${e.line ? `:${e.line}` : ""}: ${key} (ssh.hostKeyChecking: accept-new); compare it with the host's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub)`;
    case "not-recorded":
      return `dry run: new host key of ${e.host} (${e.knownHostsName}): ${key}; not recorded (the real run records it in ${e.file}, ssh.hostKeyChecking: accept-new)`;
  }
}

export interface SshExecutorForSpecOptions {
  /** Where host-key notices go (the terminal's stderr): insecure connections, keys recorded. */
  notify?: (line: string) => void;
  /** A dry run: new host keys are accepted for this run only, never written to known_hosts. */
  dryRun?: boolean;
}

/** The SSH executor for a spec: its known_hosts file (relative to cluster.yaml) and host-key policy. */
export function sshExecutorForSpec(
  loaded: Pick<LoadedSpec, "baseDir" | "spec">,
  logger?: Logger,
  options: SshExecutorForSpecOptions = {},
): Executor {
  const notify = options.notify;
  return new SshExecutor({
    knownHostsFile: specPath(loaded, loaded.spec.ssh.knownHostsFile),
    hostKeyChecking: loaded.spec.ssh.hostKeyChecking,
    ...(logger ? { logger } : {}),
    ...(options.dryRun ? { recordNewHostKeys: false } : {}),
    ...(notify ? { onHostKey: (e: HostKeyEvent) => notify(`${hostKeyNotice(e)}\n`) } : {}),
  });
}
