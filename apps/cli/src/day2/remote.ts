import { type Executor, type HostTarget, isRemoteExecError } from "@khw/remote-exec";
import type { ClusterNode } from "@khw/spec/core";
import { CliError } from "../errors";
import type { Io } from "../io";
import type { LoadedSpec } from "../spec-file";
import { hostTargets, sshExecutorForSpec } from "../up/executor";
import { currentSeams } from "../workdir";

/** The hosts of a spec and the executor that reaches them (SSH, or the tests' RecordingExecutor). */
export interface Hosts {
  executor: Executor;
  targets: ReadonlyMap<string, HostTarget>;
  target(node: ClusterNode): HostTarget;
  close(): Promise<void>;
}

/**
 * Adapter over `khw up`'s executor construction (up/executor.ts): the same SSH settings, known_hosts
 * and host-key policy, and the same test seam (`setSeamsForTests({ executor })`).
 */
export function openHosts(io: Io, loaded: LoadedSpec): Hosts {
  const seam = currentSeams().executor;
  // Host-key notices (insecure, keys recorded) go to the terminal for every command that connects.
  const executor = seam ? seam() : sshExecutorForSpec(loaded, undefined, { notify: io.stderr });
  const targets = hostTargets(loaded, io.env);
  return {
    executor,
    targets,
    target(node) {
      const t = targets.get(node.name);
      if (!t) throw new Error(`no SSH target for ${node.name} (a bug in khw)`);
      return t;
    },
    close: () => executor.close(),
  };
}

/** One line for a failure on a host: the remote-exec message (with its hint) or the error's text. */
export function describeError(e: unknown): { message: string; hint?: string } {
  if (isRemoteExecError(e)) {
    return { message: e.message.split("\n  hint: ")[0]!, ...(e.hint ? { hint: e.hint } : {}) };
  }
  return { message: e instanceof Error ? e.message : String(e) };
}

/**
 * One command over SSH to a node about to leave the cluster; a clear refusal (nothing changed yet) when it
 * fails, naming `khw node remove NAME --unreachable` for a host lost for good.
 */
export async function assertReachable(hosts: Hosts, node: ClusterNode, specName: string): Promise<void> {
  try {
    await hosts.executor.exec(hosts.target(node), ["true"], { timeoutMs: 60_000 });
  } catch (e) {
    const d = describeError(e);
    throw new CliError(
      "HOST_UNREACHABLE",
      `${node.name}: its host does not answer over SSH (${d.message}); nothing was changed`,
      `${d.hint ? `${d.hint}; ` : ""}a host lost for good: \`khw node remove ${node.name} --unreachable\` removes it without reaching its host (then drop it from ${specName}, or pass --update-spec)`,
    );
  }
}
