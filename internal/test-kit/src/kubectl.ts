// Checks with the real (pinned) kubectl.
import { spawnSync } from "node:child_process";

/**
 * `kubectl --kubeconfig <file>` against a closed port (127.0.0.1:1): kubectl loads the kubeconfig's
 * TLS material (certificates, key, CA) before it connects, so a bad PEM or a mismatched key fails first
 * and only a clean "connection refused" (`clean`) proves the file loaded.
 */
export function kubectlLoadsTls(
  kubectl: string,
  file: string,
  env?: NodeJS.ProcessEnv,
): { clean: boolean; status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    kubectl,
    [
      "--kubeconfig",
      file,
      "--server",
      "https://127.0.0.1:1",
      "get",
      "--raw",
      "/version",
      "--request-timeout=2s",
    ],
    { encoding: "utf8", timeout: 30_000, ...(env ? { env } : {}) },
  );
  const stderr = r.stderr ?? "";
  return {
    clean:
      stderr.trim() ===
      "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?",
    status: r.status,
    stdout: r.stdout ?? "",
    stderr,
  };
}
