import { binaryArtifacts, PHASE_NAMES, type PhaseName, type Role } from "@khw/spec";
import { describe, expect, it } from "vitest";
import {
  FILE_CATALOGUE,
  installsForPhase,
  SERVICE_CATALOGUE,
  type ServiceName,
  servicesInPhase,
  servicesUsingBinary,
  unitFilePhase,
  unitFilesFromCluster,
} from "../src/index";
import { defaultCluster, KEY, SPECS } from "./_fixtures";
import { execStartOf } from "./_unit-text";

// Every service name, as a record: a new ServiceName without an entry here is a compile error, and the
// test below then demands it in the catalogue too.
const EVERY_SERVICE = {
  etcd: true,
  "kube-apiserver": true,
  "kube-controller-manager": true,
  "kube-scheduler": true,
  containerd: true,
  kubelet: true,
  "kube-proxy": true,
  "systemd-modules-load": true,
  "systemd-sysctl": true,
  haproxy: true,
} satisfies Record<ServiceName, true>;

const ROLES: Role[] = ["controlplane", "worker", "loadbalancer"];

describe("services own their bring-up", () => {
  it("every service is in the catalogue exactly once, with a phase of the one phase list", () => {
    for (const name of Object.keys(EVERY_SERVICE)) {
      expect(
        SERVICE_CATALOGUE.filter((s) => s.service === name),
        name,
      ).toHaveLength(1);
    }
    for (const s of SERVICE_CATALOGUE) expect(PHASE_NAMES, s.service).toContain(s.phase);
  });

  it("every catalogue file has a phase (its own or its service's)", () => {
    for (const d of FILE_CATALOGUE) {
      const phase = unitFilePhase(d.path);
      expect(PHASE_NAMES, d.id).toContain(phase);
      if (!d.phase) expect(phase, d.id).toBe(SERVICE_CATALOGUE.find((s) => s.service === d.service)?.phase);
    }
    expect(unitFilePhase("/var/lib/kubernetes/encryption-config.yaml")).toBe("encryption");
    expect(unitFilePhase("/etc/systemd/system/etcd.service")).toBe("etcd");
    expect(unitFilePhase("/etc/systemd/system/kubelet.service")).toBe("workers");
    expect(unitFilePhase("/nowhere")).toBeUndefined();
  });

  it("`runs` is the executable each generated unit starts (ExecStart's first word)", () => {
    for (const make of Object.values(SPECS)) {
      const c = make();
      const units = unitFilesFromCluster(c, { encryptionKey: KEY }).filter((f) =>
        f.path.endsWith(".service"),
      );
      for (const f of units) {
        const service = f.path.replace(/^.*\//, "").replace(/\.service$/, "");
        const def = SERVICE_CATALOGUE.find((s) => s.service === service);
        expect(def?.kind, f.path).toBe("unit");
        expect(def?.runs, f.path).toBe(execStartOf(f.contents)[0]);
        expect(def?.binaries, f.path).toContain(def?.runs);
      }
    }
  });

  it("the services each phase starts, in start order (khw's units and HAProxy enabled, systemd's not)", () => {
    const started = (phase: PhaseName, role: Role) => servicesInPhase(phase, role);
    expect(started("etcd", "controlplane")).toEqual([{ name: "etcd", enable: true }]);
    expect(started("control-plane", "controlplane").map((s) => s.name)).toEqual([
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
    ]);
    expect(started("loadbalancer", "loadbalancer")).toEqual([{ name: "haproxy", enable: true }]);
    expect(started("workers", "worker")).toEqual([
      { name: "systemd-modules-load", enable: false },
      { name: "systemd-sysctl", enable: false },
      { name: "containerd", enable: true },
      { name: "kubelet", enable: true },
      { name: "kube-proxy", enable: true },
    ]);
    expect(started("pki", "worker")).toEqual([]);
  });

  it("the release files each phase installs cover every binary and tool of its services", () => {
    for (const make of Object.values(SPECS)) {
      const c = make();
      const artifacts = binaryArtifacts(c);
      const ids = (phase: PhaseName, role: Role) => installsForPhase(artifacts, phase, role).map((a) => a.id);
      expect(ids("etcd", "controlplane")).toEqual(["etcd"]);
      expect(ids("control-plane", "controlplane").sort()).toEqual([
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubectl",
      ]);
      expect(ids("workers", "worker").sort()).toEqual([
        "cni-plugins",
        "containerd",
        "kube-proxy",
        "kubelet",
        "runc",
      ]);
      expect(ids("loadbalancer", "loadbalancer")).toEqual([]);
      // Every release file is installed by some phase on each role that needs it.
      for (const a of artifacts) {
        for (const role of a.roles) {
          const phases = PHASE_NAMES.filter((p) => installsForPhase(artifacts, p, role).includes(a));
          expect(phases, `${a.id} on ${role}`).toHaveLength(1);
        }
      }
      for (const role of ROLES) {
        const installed = PHASE_NAMES.flatMap((p) => installsForPhase(artifacts, p, role)).flatMap((a) =>
          Object.values(a.installAs),
        );
        for (const s of SERVICE_CATALOGUE.filter((x) => x.audience === role)) {
          for (const b of [...s.binaries, ...(s.tools ?? [])])
            expect(installed, `${s.service}: ${b}`).toContain(b);
        }
      }
    }
  });

  it("a changed binary restarts the services whose unit starts it, on that node only", () => {
    const c = defaultCluster();
    expect(servicesUsingBinary(c, "master-1", ["/usr/local/bin/etcd"])).toEqual(["etcd"]);
    expect(servicesUsingBinary(c, "master-1", ["/usr/local/bin/etcdctl", "/usr/local/bin/kubectl"])).toEqual(
      [],
    );
    expect(servicesUsingBinary(c, "worker-1", ["/usr/local/bin/etcd"])).toEqual([]);
    expect(servicesUsingBinary(c, "worker-1", ["/usr/local/sbin/runc", "/usr/local/bin/ctr"])).toEqual([]);
    expect(
      servicesUsingBinary(c, "worker-1", ["/usr/local/bin/kubelet", "/usr/local/bin/containerd"]).sort(),
    ).toEqual(["containerd", "kubelet"]);
    expect(servicesUsingBinary(c, "loadbalancer", ["/usr/local/bin/kubelet"])).toEqual([]);
  });
});
