import { type CertificateSigningRequest, reviewKubeletServingCsrFromCluster } from "@khw/addons";
import { lastLines, UpError } from "../up-error";
import { KUBECTL_AS_ADMIN } from "./kubectl";
import type { Observation, StepContext, StepHandler, StepHost } from "./types";

type ApproveStep = { kind: "approve-serving-csrs" };

export interface CsrObservation extends Observation {
  /** The CSRs the review accepted (name, node); undefined when the API did not answer the listing. */
  accepted: Accepted[] | undefined;
}

/** A CSR the review accepted, and the node it is for. */
interface Accepted {
  name: string;
  node: string | undefined;
}

const LIST_CSRS = [...KUBECTL_AS_ADMIN, "get", "csr", "-o", "json"];

/**
 * Reviews every listed CSR with the pure policy of @khw/addons (`reviewKubeletServingCsr`: a node's
 * own request, subject, usages, SANs only its own name and address): says why each refused one is
 * left pending, and returns the accepted ones.
 */
function review(ctx: StepContext, host: StepHost, stdout: string): Accepted[] {
  let items: CertificateSigningRequest[];
  try {
    items = (JSON.parse(stdout) as { items?: CertificateSigningRequest[] }).items ?? [];
  } catch (e) {
    throw new UpError(
      ctx.phase,
      host.node.name,
      `${host.where}: \`kubectl get csr -o json\` printed no JSON (${(e as Error).message}): ${lastLines(stdout, 2)}`,
      "check that kubectl on this control plane matches the apiserver's version",
    );
  }
  const accepted: Accepted[] = [];
  for (const csr of items) {
    const r = reviewKubeletServingCsrFromCluster(csr, ctx.cluster);
    if (r.verdict === "skip") continue;
    const name = csr.metadata?.name ?? "(unnamed)";
    if (r.verdict === "approve") {
      accepted.push({ name, node: r.node });
      continue;
    }
    ctx.log(`${host.where}: serving CSR ${name} refused: ${r.reasons.join("; ")}`);
    ctx.emit({
      type: "warning",
      phase: ctx.phase,
      host: host.node.name,
      message: `kubelet-serving CSR ${name} from ${csr.spec.username ?? "(unknown)"} left pending, not approved: ${r.reasons.join("; ")}`,
      fix: `if it is not your node's own request, deny it: kubectl certificate deny ${name}; if the node really has that name or address, put it in the spec`,
    });
  }
  return accepted;
}

/**
 * Kubelet serving CSRs (no controller approves them): the probe lists and reviews them, refusals
 * said with their reasons; `act` approves the accepted ones.
 */
export const approveServingCsrsStep: StepHandler<ApproveStep, CsrObservation> = {
  name: () => "approve valid kubelet-serving CSRs",
  async probe(ctx, host) {
    const r = host.unreached
      ? { code: 1, stdout: "" }
      : await ctx.probe.exec(host.target, LIST_CSRS, { sudo: true, check: false });
    if (r.code !== 0) {
      // Before the API is up: say what the real run will do.
      const what = "review and approve valid kubelet-serving CSRs (the API does not answer yet)";
      return { accepted: undefined, changes: [{ what, uncertain: true }] };
    }
    const accepted = review(ctx, host, r.stdout);
    return {
      accepted,
      changes: accepted.map((c) => ({ what: `approve kubelet-serving CSR ${c.name} of ${c.node}` })),
    };
  },
  async act(ctx, host, _step, seen) {
    // The API did not answer the probe: listed again, failing like any command if it still does not.
    const accepted =
      seen.accepted ??
      review(ctx, host, (await ctx.probe.exec(host.target, LIST_CSRS, { sudo: true })).stdout);
    for (const c of accepted) {
      await ctx.executor.exec(host.target, [...KUBECTL_AS_ADMIN, "certificate", "approve", c.name], {
        sudo: true,
      });
      ctx.log(`${host.where}: approved serving CSR ${c.name} of ${c.node}`);
    }
    return { changes: accepted.length };
  },
};
