import { type Executor, type HostTarget, isRemoteExecError, RecordingExecutor } from "@khw/remote-exec";
import type { Artifacts } from "../artifacts";
import { findOrphans } from "../day2/node-orphans";
import { REMOTE_MANIFEST_DIR } from "./phases";

/** A host the dry run could not read, with the remote-exec message (host, fingerprints, file:line) and its fix. */
export interface HostProblem {
  host: string;
  message: string;
  hint?: string;
}

export interface SeededPlan {
  recorder: RecordingExecutor;
  /** Nothing answered (connection refused, no route, timeout): planned as if the host had none of khw's files. */
  unreachable: HostProblem[];
  /**
   * Hosts the real run would refuse or fail on: a changed or unknown host key, failed authentication,
   * an unreadable identity file, a failed read. A dry run must fail on these, never plan around them.
   */
  refused: HostProblem[];
  /** Nodes registered in the cluster that the spec does not name (undefined: the API could not be asked). */
  orphans?: string[];
}

function problem(host: string, e: unknown): HostProblem {
  if (isRemoteExecError(e)) {
    return { host, message: e.message.split("\n  hint: ")[0]!, ...(e.hint ? { hint: e.hint } : {}) };
  }
  return { host, message: e instanceof Error ? e.message : String(e) };
}

/**
 * For `--dry-run`: a RecordingExecutor that believes each host has what it really has. Every file
 * khw would write is read from the host (read-only: stat + download through `probe`). Only a host
 * that does not answer at all (CONNECT_FAILED, TIMEOUT) is planned as empty; every other failure
 * (host key, authentication, sudo, a read) is returned in `refused`.
 */
export async function seededRecorder(
  artifacts: Artifacts,
  probe: Executor,
  targets: ReadonlyMap<string, HostTarget>,
): Promise<SeededPlan> {
  const recorder = new RecordingExecutor();
  const unreachable: HostProblem[] = [];
  const refused: HostProblem[] = [];
  const firstCp = artifacts.cluster.controlPlanes[0]?.name;
  await Promise.all(
    artifacts.cluster.nodes.map(async (node) => {
      const host = targets.get(node.name)!;
      const paths = artifacts.files.filter((f) => f.host === node.name).map((f) => f.path);
      if (node.name === firstCp)
        paths.push(...artifacts.manifests.map((m) => `${REMOTE_MANIFEST_DIR}/${m.file}`));
      try {
        await probe.connect(host);
      } catch (e) {
        const silent = isRemoteExecError(e, "CONNECT_FAILED") || isRemoteExecError(e, "TIMEOUT");
        (silent ? unreachable : refused).push(problem(node.name, e));
        return;
      }
      try {
        const st = await probe.shell(
          host,
          'for p in "$@"; do if [ -f "$p" ]; then echo "$(stat -c \'%a %U %G\' "$p") $p"; fi; done',
          { sudo: true, args: paths },
        );
        for (const line of st.stdout.split("\n")) {
          const m = /^([0-7]+) (\S+) (\S+) (.+)$/.exec(line);
          if (!m) continue;
          const content = await probe.download(host, m[4]!, { sudo: true });
          recorder.setFile(node.name, m[4]!, {
            content,
            mode: Number.parseInt(m[1]!, 8),
            owner: m[2]!,
            group: m[3]!,
          });
        }
      } catch (e) {
        refused.push(problem(node.name, e));
      }
    }),
  );
  const byNode = (a: HostProblem, b: HostProblem) =>
    artifacts.cluster.nodes.findIndex((n) => n.name === a.host) -
    artifacts.cluster.nodes.findIndex((n) => n.name === b.host);
  // Read-only: a worker dropped from the spec while still registered is reported, never silently left.
  const orphans = refused.length === 0 ? await findOrphans(artifacts.cluster, probe, targets) : undefined;
  return {
    recorder,
    unreachable: unreachable.sort(byNode),
    refused: refused.sort(byNode),
    ...(orphans ? { orphans } : {}),
  };
}
