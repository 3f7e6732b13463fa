import type { UpgradePlan, UpgradeStep } from "@khw/systemd-units";
import { colors, type Io } from "../io";

/** One line per step, as `khw upgrade plan` and the apply's progress name them. */
export function stepLabel(step: UpgradeStep): string {
  switch (step.kind) {
    case "etcd-snapshot":
      return `etcd snapshot from ${step.host}, copied to the admin machine`;
    case "etcd-member":
      return `${step.host}: replace etcd, restart it, endpoint health`;
    case "control-plane":
      return `${step.host}: replace the control-plane binaries${step.restarts.length ? `, restart ${step.restarts.join(", ")}` : ""}`;
    case "readyz":
      return `${step.host}: kube-apiserver /readyz ok and /version at the new version`;
    case "cordon":
      return `${step.host}: cordon`;
    case "drain":
      return `${step.host}: drain (PodDisruptionBudgets respected, DaemonSets stay)`;
    case "worker":
      return `${step.host}: replace kubelet and kube-proxy${step.restarts.length ? `, restart ${step.restarts.join(", ")}` : ""}`;
    case "node-ready":
      return `${step.host}: Node Ready with kubelet ${step.version}`;
    case "uncordon":
      return `${step.host}: uncordon`;
    case "update-spec":
      return `cluster.yaml: versions.kubernetes: ${step.version} (comments kept)`;
  }
}

/** The step's key in `.khw/upgrade.json`. */
export function stepKey(step: UpgradeStep): string {
  return "host" in step ? `${step.kind} ${step.host}` : step.kind;
}

/** `khw upgrade plan` for people: the checks (refusals with their fix), what changes per host, the steps. */
export function formatPlan(io: Io, plan: UpgradePlan, notes: string[] = []): string {
  const c = colors(io);
  const out: string[] = [];
  const title =
    plan.kind === "refused"
      ? c.red(`upgrade ${plan.from} → ${plan.to}: refused`)
      : plan.kind === "none"
        ? c.green(`the cluster is at ${plan.to} already: nothing to upgrade`)
        : c.bold(`upgrade ${plan.from} → ${plan.to} (${plan.kind})`);
  out.push(title, "");
  for (const n of notes) out.push(`${c.yellow("note:")} ${n}`);
  if (notes.length) out.push("");
  out.push("version-skew checks (Kubernetes version skew policy):");
  for (const ch of plan.checks) {
    out.push(`  ${ch.ok ? c.green("✓") : c.red("✗")} ${ch.id}: ${ch.message}`);
    if (!ch.ok)
      out.push(`      rule: ${ch.rule}`, `      ${c.dim("fix:")} ${ch.fix ?? "choose another version"}`);
  }
  if (!plan.ok) return `${out.join("\n")}\n`;
  if (plan.settings.length) {
    out.push("", "settings of the version table that change:");
    for (const s of plan.settings)
      out.push(`  ${s.component} ${s.name}: ${s.change === "appears" ? "appears" : "goes away"} (${s.note})`);
  }
  if (plan.hosts.some((h) => h.binaries.length || h.files.length)) {
    out.push("", "what changes per host:");
    for (const h of plan.hosts) {
      if (!h.binaries.length && !h.files.length) continue;
      out.push(`  ${c.bold(h.host)} (${h.role})`);
      for (const b of h.binaries) out.push(`    binary ${b.id}: ${b.from} → ${b.to}`);
      for (const f of h.files) {
        if (f.flags) {
          for (const a of f.flags.added) out.push(`    ${f.path}: flag ${a} added`);
          for (const r of f.flags.removed) out.push(`    ${f.path}: flag ${r} removed`);
          for (const x of f.flags.changed) out.push(`    ${f.path}: ${x.name} ${x.from} → ${x.to}`);
        }
        for (const l of f.lines?.removed ?? []) out.push(`    ${f.path}: - ${l}`);
        for (const l of f.lines?.added ?? []) out.push(`    ${f.path}: + ${l}`);
      }
      if (h.restarts.length) out.push(`    restarts: ${h.restarts.join(", ")}`);
    }
    if (plan.hosts.every((h) => h.files.length === 0)) out.push("  (no unit flag or config line changes)");
  }
  if (plan.steps.length) {
    out.push("", "steps:");
    out.push(...plan.steps.map((s, i) => `  ${String(i + 1).padStart(2)}. ${stepLabel(s)}`));
  }
  return `${out.join("\n")}\n`;
}
