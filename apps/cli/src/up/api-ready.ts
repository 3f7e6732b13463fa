import type { Executor, HostTarget } from "@khw/remote-exec";
import { binaryPath, type ClusterNode } from "@khw/spec/core";
import { KUBECTL_AS_ADMIN } from "./steps/kubectl";
import { lastLines } from "./up-error";

/** Prints `missing-binaries` before the control-plane phase ran, else the apiserver's /readyz answer. */
export const API_READY_SCRIPT =
  `if [ ! -x ${binaryPath("kubectl")} ] || [ ! -x ${binaryPath("kube-apiserver")} ]; then echo "missing-binaries"; exit 0; fi\n` +
  `${KUBECTL_AS_ADMIN.join(" ")} get --raw /readyz --request-timeout=5s 2>&1 || true`;

/** Why a phase that needs the API cannot run on `node` now (undefined: the API is ready). */
export async function apiBlocked(
  probe: Executor,
  host: HostTarget,
  node: ClusterNode,
  log: (l: string) => void,
): Promise<{ reason: string; hint: string } | undefined> {
  const r = await probe.shell(host, API_READY_SCRIPT, { sudo: true, check: false });
  log(`[api check] ${node.name}: ${r.stdout}`);
  if (r.stdout.includes("missing-binaries")) {
    return {
      reason: `${node.name} has no kube-apiserver/kubectl (the control-plane phase has not run)`,
      hint: "run `khw up` without --only/--skip for the earlier phases, or `khw up --only control-plane`",
    };
  }
  if (!/^ok/m.test(r.stdout)) {
    return {
      reason: `the kube-apiserver on ${node.name} is not ready (${lastLines(r.stdout, 2) || "no answer"})`,
      hint: "check `journalctl -u kube-apiserver` on that host, then run `khw up` again",
    };
  }
  return undefined;
}
