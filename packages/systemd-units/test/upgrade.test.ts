import type { Cluster } from "@khw/spec";
import { describe, expect, it } from "vitest";
import { assertUpgradeAllowed, clusterAtVersion, planUpgrade, type UpgradePlan } from "../src";
import { defaultCluster, unusualCluster } from "./_fixtures";

const at = (version: string, cluster: Cluster = defaultCluster()) => clusterAtVersion(cluster, version);
const refusedBy = (plan: UpgradePlan) => plan.checks.filter((c) => !c.ok).map((c) => c.id);

describe("planUpgrade: the version-skew policy", () => {
  it("refuses skipping a minor (v1.34 → v1.36), naming the rule and the version to go through", () => {
    const plan = planUpgrade(at("v1.34.4"), "v1.36.0");
    expect(plan.ok).toBe(false);
    expect(plan.kind).toBe("refused");
    expect(refusedBy(plan)).toEqual(["one-minor-at-a-time"]);
    const check = plan.checks.find((c) => c.id === "one-minor-at-a-time")!;
    expect(check.message).toContain("skips 1 minor");
    expect(check.fix).toContain("v1.35");
    expect(plan.steps).toEqual([]);
    expect(() => assertUpgradeAllowed(plan)).toThrow(/one-minor-at-a-time/);
  });

  it("refuses a downgrade, with the way back (a snapshot restore)", () => {
    const plan = planUpgrade(at("v1.34.4"), "v1.34.3");
    expect(refusedBy(plan)).toEqual(["no-downgrade"]);
    expect(plan.checks.find((c) => c.id === "no-downgrade")!.fix).toMatch(/snapshot restore/);
    expect(planUpgrade(at("v1.35.0"), "v1.34.9").ok).toBe(false);
  });

  it("refuses versions khw does not know, and text that is no version", () => {
    for (const to of ["v1.38.0", "v2.0.0"]) {
      const plan = planUpgrade(at("v1.37.1"), to);
      expect(refusedBy(plan), to).toEqual(["supported-version"]);
      expect(plan.checks[0]!.fix).toContain("v1.30.0");
    }
    for (const to of ["1.34.5", "latest", "v1.34"]) {
      expect(refusedBy(planUpgrade(at("v1.34.4"), to)), to).toEqual(["known-version"]);
    }
  });

  it("refuses a cluster whose running kubelet is newer than the target", () => {
    const plan = planUpgrade(at("v1.34.3"), "v1.34.4", { observed: { "worker-1": { kubelet: "v1.35.1" } } });
    expect(refusedBy(plan)).toEqual(["kubelet-not-newer-than-apiserver"]);
    expect(plan.checks.find((c) => !c.ok)!.message).toContain("worker-1 runs kubelet v1.35.1");
  });

  it("refuses a worker whose kubelet would be more than three minors older", () => {
    const plan = planUpgrade(at("v1.34.3"), "v1.35.0", { observed: { "worker-2": { kubelet: "v1.31.2" } } });
    expect(refusedBy(plan)).toEqual(["kubelet-at-most-3-minors-older"]);
  });

  it("refuses nothing for a patch or the next minor, and says etcd stays", () => {
    for (const to of ["v1.34.4", "v1.35.0"]) {
      const plan = planUpgrade(at("v1.34.3"), to);
      expect(plan.ok, to).toBe(true);
      expect(plan.kind).toBe(to === "v1.34.4" ? "patch" : "minor");
      expect(plan.checks.find((c) => c.id === "etcd-untouched")!.message).toBe("etcd stays at v3.6.16");
    }
  });

  it("has nothing to do at the same version", () => {
    const plan = planUpgrade(at("v1.34.4"), "v1.34.4");
    expect(plan.kind).toBe("none");
    expect(plan.steps).toEqual([]);
    expect(plan.hosts.every((h) => h.binaries.length === 0 && h.files.length === 0)).toBe(true);
  });

  it("throws for a cluster whose own version khw does not know", () => {
    expect(() => planUpgrade(at("v1.29.3"), "v1.30.0")).toThrow(/older than v1.30.0/);
  });
});

describe("planUpgrade: what changes, in which order", () => {
  const plan = planUpgrade(at("v1.34.3"), "v1.34.4");

  it("replaces the Kubernetes binaries of each role, never etcd or the container runtime", () => {
    const cp = plan.hosts.find((h) => h.host === "master-1")!;
    expect(cp.binaries.map((b) => b.id)).toEqual([
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
      "kubectl",
    ]);
    expect(cp.binaries[0]).toEqual({
      id: "kube-apiserver",
      installAs: ["/usr/local/bin/kube-apiserver"],
      from: "dl.k8s.io/release/v1.34.3/bin/linux/amd64/kube-apiserver",
      to: "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kube-apiserver",
    });
    expect(cp.restarts).toEqual(["kube-apiserver", "kube-controller-manager", "kube-scheduler"]);
    const w = plan.hosts.find((h) => h.host === "worker-2")!;
    expect(w.binaries.map((b) => b.id)).toEqual(["kubelet", "kube-proxy"]);
    expect(w.restarts).toEqual(["kubelet", "kube-proxy"]);
    expect(plan.hosts.map((h) => h.host)).not.toContain("loadbalancer");
    // A patch changes no flag and no config line.
    expect(plan.hosts.flatMap((h) => h.files)).toEqual([]);
  });

  it("orders the steps: snapshot, control planes with /readyz between, then each worker drained and back", () => {
    expect(plan.steps.map((s) => `${s.kind}${"host" in s ? ` ${s.host}` : ""}`)).toEqual([
      "etcd-snapshot master-1",
      "control-plane master-1",
      "readyz master-1",
      "control-plane master-2",
      "readyz master-2",
      "cordon worker-1",
      "drain worker-1",
      "worker worker-1",
      "node-ready worker-1",
      "uncordon worker-1",
      "cordon worker-2",
      "drain worker-2",
      "worker worker-2",
      "node-ready worker-2",
      "uncordon worker-2",
      "update-spec",
    ]);
  });

  it("replaces etcd one member at a time, before the control planes, only when asked", () => {
    const withEtcd = planUpgrade(at("v1.34.3"), "v1.34.4", { etcd: "v3.6.17" });
    expect(withEtcd.steps.slice(0, 3).map((s) => s.kind)).toEqual([
      "etcd-snapshot",
      "etcd-member",
      "etcd-member",
    ]);
    expect(withEtcd.hosts.find((h) => h.host === "master-1")!.binaries.map((b) => b.id)).toContain("etcd");
    expect(plan.steps.some((s) => s.kind === "etcd-member")).toBe(false);
  });

  it("names the flags and config lines that differ between versions (the version table)", () => {
    // v1.30 → v1.31: failCgroupV1 exists from 1.31 on; the lab's allowCgroupV1 writes it only there.
    const minor = planUpgrade(unusualCluster(), "v1.31.0", { unitOptions: { allowCgroupV1: true } });
    expect(minor.kind).toBe("minor");
    expect(minor.settings.map((s) => `${s.id} ${s.change}`)).toEqual(["kubelet-fail-cgroup-v1 appears"]);
    const w = minor.hosts.find((h) => h.host === "node-x")!;
    expect(w.files).toEqual([
      {
        path: "/var/lib/kubelet/kubelet-config.yaml",
        lines: { removed: [], added: ["failCgroupV1: false"] },
      },
    ]);
    expect(w.restarts).toEqual(["kubelet", "kube-proxy"]);
    // v1.34 → v1.35: the pod-infra-container-image flag goes away (khw never emits it: no file changes).
    const next = planUpgrade(at("v1.34.4"), "v1.35.0");
    expect(next.settings.map((s) => `${s.id} ${s.change}`)).toEqual([
      "kubelet-pod-infra-container-image-flag goes-away",
    ]);
  });
});
