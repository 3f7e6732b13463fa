import {
  certificateChanges,
  controlPlaneMembershipPlan,
  MembershipError,
  type MembershipStep,
  quorum,
} from "@khw/pki";
import { type Cluster, ClusterSpecSchema, defaultClusterSpecInput, resolveCluster } from "@khw/spec";
import { describe, expect, it } from "vitest";

/** The default spec (2 control planes, 2 workers, a load balancer) with these control planes. */
function clusterWith(controlPlanes: Array<[string, string]>): Cluster {
  const spec = defaultClusterSpecInput();
  const others = spec.nodes.filter((n) => n.role !== "controlplane");
  const nodes = [
    ...controlPlanes.map(([name, address]) => ({ name, role: "controlplane" as const, address })),
    ...others,
  ];
  return resolveCluster(ClusterSpecSchema.parse({ ...spec, nodes })).cluster;
}

const two = clusterWith([
  ["master-1", "192.168.56.11"],
  ["master-2", "192.168.56.12"],
]);
const three = clusterWith([
  ["master-1", "192.168.56.11"],
  ["master-2", "192.168.56.12"],
  ["master-3", "192.168.56.13"],
]);
const kinds = (steps: MembershipStep[]) => steps.map((s) => `${s.kind}${"host" in s ? ` ${s.host}` : ""}`);

describe("control-plane membership plan", () => {
  it("adding master-3: certificates with its address, member add before it starts as `existing`, apiservers one by one, HAProxy last", () => {
    const plan = controlPlaneMembershipPlan(two, three);
    expect(plan.added).toEqual(["master-3"]);
    expect(plan.removed).toEqual([]);
    // exactly the two certificates that list every control plane, and why
    expect(plan.certificates.map((c) => c.id).sort()).toEqual(["etcd-server", "kube-apiserver"]);
    for (const c of plan.certificates) {
      expect(c.added).toContain("IP 192.168.56.13");
      expect(c.removed).toEqual([]);
      expect(c.reason).toContain("SAN IP 192.168.56.13 (master-3) added");
    }
    expect(kinds(plan.steps)).toEqual([
      "reissue-certificates",
      "etcd-member-add",
      "etcd-start-member master-3",
      "etcd-wait-healthy",
      "restart-apiserver master-1",
      "restart-apiserver master-2",
      "start-control-plane master-3",
      "loadbalancer-backends loadbalancer",
    ]);
    const add = plan.steps[1] as Extract<MembershipStep, { kind: "etcd-member-add" }>;
    expect(add).toMatchObject({ via: "master-1", member: "master-3", peerURL: "https://192.168.56.13:2380" });
    const start = plan.steps[2] as Extract<MembershipStep, { kind: "etcd-start-member" }>;
    expect(start.initialClusterState).toBe("existing");
    expect(start.initialCluster).toBe(three.etcd.initialCluster);
    expect(start.initialCluster).toContain("master-3=https://192.168.56.13:2380");
    for (const s of plan.steps.filter((x) => x.kind === "restart-apiserver")) {
      expect(s.etcdServers).toEqual(three.etcd.clientURLs);
      expect(s.wait).toBe("/readyz");
    }
    const lb = plan.steps.at(-1) as Extract<MembershipStep, { kind: "loadbalancer-backends" }>;
    expect(lb.backends).toEqual(["master-1", "master-2", "master-3"]);
    // 3 members after `member add`, 2 running until master-3 joins: true, and said
    expect(plan.warnings).toEqual([
      "between `member add` and master-3's etcd joining, the cluster has 3 members and exactly 2 running: one more failure then stops the API",
    ]);
  });

  it("removing master-3: HAProxy first, its control plane stopped, `member remove`, then the apiservers one by one, then reset", () => {
    const plan = controlPlaneMembershipPlan(three, two);
    expect(plan.removed).toEqual(["master-3"]);
    expect(kinds(plan.steps)).toEqual([
      "loadbalancer-backends loadbalancer",
      "stop-control-plane master-3",
      "etcd-member-remove",
      "reissue-certificates",
      "restart-apiserver master-1",
      "restart-apiserver master-2",
      "reset-host master-3",
    ]);
    expect(plan.steps.find((s) => s.kind === "etcd-member-remove")).toMatchObject({
      via: "master-1",
      member: "master-3",
      peerURL: "https://192.168.56.13:2380",
    });
    for (const s of plan.steps.filter((x) => x.kind === "restart-apiserver")) {
      expect(s.etcdServers).toEqual(two.etcd.clientURLs);
      expect(s.loadBalancer).toBe("loadbalancer");
    }
    for (const c of plan.certificates) expect(c.reason).toContain("SAN IP 192.168.56.13 (master-3) removed");
    expect(plan.warnings.join(" ")).toContain("2 etcd members tolerate no failure");
  });

  it("removing master-3 whose host is lost: no step on its host; etcd and the others as before", () => {
    const plan = controlPlaneMembershipPlan(three, two, {
      healthy: ["master-1", "master-2"],
      unreachable: true,
    });
    expect(kinds(plan.steps)).toEqual([
      "loadbalancer-backends loadbalancer",
      "etcd-member-remove",
      "reissue-certificates",
      "restart-apiserver master-1",
      "restart-apiserver master-2",
    ]);
    expect(plan.warnings.join(" ")).toContain("master-3's host is not touched");
    // quorum still counts: with master-2 unhealthy too, the 2 left have 1 healthy member
    expect(() =>
      controlPlaneMembershipPlan(three, two, { healthy: ["master-1"], unreachable: true }),
    ).toThrow(/needs 2 healthy, but only 1/);
  });

  it("refuses below quorum, the last control plane, two changes at once; no change is an empty plan", () => {
    expect(quorum(1)).toBe(1);
    expect(quorum(2)).toBe(2);
    expect(quorum(3)).toBe(2);
    expect(quorum(4)).toBe(3);
    // 3 → 2 with master-2 down: master-1 alone is not a quorum of 2
    const below = () => controlPlaneMembershipPlan(three, two, { healthy: ["master-1", "master-3"] });
    expect(below).toThrow(MembershipError);
    expect(below).toThrow(/needs 2 healthy, but only 1 \(master-1\)/);
    // 2 → 3 with master-2 down: after member add, 3 members need 2 running
    const four = clusterWith([
      ["master-1", "192.168.56.11"],
      ["master-2", "192.168.56.12"],
      ["master-3", "192.168.56.13"],
      ["master-4", "192.168.56.14"],
    ]);
    // 3 → 4 with one member down: 4 need 3; 2 running + the new one is 3: allowed, the API stops until it joins
    const tight = controlPlaneMembershipPlan(three, four, { healthy: ["master-1", "master-2"] });
    expect(tight.warnings.join(" ")).toContain("below its quorum of 3: the API stops until master-4 joins");
    // 3 → 4 with two down: even with the new member, 2 of 4 is no quorum
    expect(() => controlPlaneMembershipPlan(three, four, { healthy: ["master-1"] })).toThrow(
      /needs 3 for quorum, but only 1 of the running ones are healthy \(with master-4, 2\)/,
    );
    const one = clusterWith([["master-1", "192.168.56.11"]]);
    // (a spec without control planes is invalid: the same cluster with its list emptied stands for it)
    const none = { ...one, controlPlanes: [], etcd: { ...one.etcd, members: [], clientURLs: [] } };
    expect(() => controlPlaneMembershipPlan(one, none)).toThrow(/master-1 is the last control plane/);
    const other = clusterWith([
      ["master-1", "192.168.56.11"],
      ["master-4", "192.168.56.14"],
    ]);
    try {
      controlPlaneMembershipPlan(two, other);
      expect.unreachable();
    } catch (e) {
      expect((e as MembershipError).code).toBe("ONE_AT_A_TIME");
    }
    expect(controlPlaneMembershipPlan(two, two)).toMatchObject({ added: [], removed: [], steps: [] });
    // 1 → 2: a window where the new member must start before etcd has quorum again
    const grow = controlPlaneMembershipPlan(one, two);
    expect(grow.warnings.join(" ")).toContain("the API stops until master-2 joins");
  });

  it("a worker's arrival re-issues no certificate of the others", () => {
    const spec = defaultClusterSpecInput();
    const more = resolveCluster(
      ClusterSpecSchema.parse({
        ...spec,
        nodes: [...spec.nodes, { name: "worker-3", role: "worker", address: "192.168.56.23" }],
      }),
    ).cluster;
    expect(certificateChanges(two, more)).toEqual([]);
  });
});
