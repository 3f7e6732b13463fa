import { type Executor, type HostTarget, RecordingExecutor } from "@khw/remote-exec";
import type { Artifacts } from "../artifacts";
import { REMOTE_MANIFEST_DIR } from "./phases";

/**
 * For `--dry-run`: a RecordingExecutor that believes each host has what it really has. Every file
 * khw would write is read from the host (read-only: stat + download through `probe`); a host that
 * cannot be reached is planned as empty (and named in `unreachable`).
 */
export async function seededRecorder(
  artifacts: Artifacts,
  probe: Executor,
  targets: ReadonlyMap<string, HostTarget>,
): Promise<{ recorder: RecordingExecutor; unreachable: string[] }> {
  const recorder = new RecordingExecutor();
  const unreachable: string[] = [];
  const firstCp = artifacts.cluster.controlPlanes[0]?.name;
  await Promise.all(
    artifacts.cluster.nodes.map(async (node) => {
      const host = targets.get(node.name)!;
      const paths = artifacts.files.filter((f) => f.host === node.name).map((f) => f.path);
      if (node.name === firstCp)
        paths.push(...artifacts.manifests.map((m) => `${REMOTE_MANIFEST_DIR}/${m.file}`));
      try {
        await probe.connect(host);
      } catch {
        unreachable.push(node.name);
        return;
      }
      const st = await probe.shell(
        host,
        'for p in "$@"; do if [ -f "$p" ]; then echo "$(stat -c \'%a %U %G\' "$p") $p"; fi; done',
        { sudo: true, args: paths, check: false },
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
    }),
  );
  return { recorder, unreachable };
}
