import { loadCluster } from "@khw/spec";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { kubeletConfig, kubeletConfigFromCluster } from "../src/index";

const spec = {
  nodes: [
    { name: "cp", role: "controlplane", address: "172.20.0.11" },
    {
      name: "w1",
      role: "worker",
      address: "172.20.0.21",
      kubelet: {
        credentials: "certificate",
        extraConfig: { cgroupsPerQOS: false, enforceNodeAllocatable: [], resolvConf: "/etc/resolv.conf" },
      },
    },
    { name: "w2", role: "worker", address: "172.20.0.22" },
  ],
};

describe("a worker's extra KubeletConfiguration fields", () => {
  const { cluster } = loadCluster(spec);
  it("are set over khw's, for that worker only", () => {
    const w1 = parse(kubeletConfigFromCluster(cluster, "w1"));
    expect(w1).toMatchObject({
      kind: "KubeletConfiguration",
      cgroupsPerQOS: false,
      enforceNodeAllocatable: [],
      resolvConf: "/etc/resolv.conf",
    });
    expect(w1.clusterDNS).toEqual(["10.96.0.10"]);
    const w2 = parse(kubeletConfigFromCluster(cluster, "w2"));
    expect(w2.cgroupsPerQOS).toBeUndefined();
    expect(w2.resolvConf).toBe("/run/systemd/resolve/resolv.conf");
  });
  it("may not change apiVersion or kind", () => {
    expect(() =>
      kubeletConfig({
        nodeName: "w",
        credentials: "certificate",
        clusterDNS: ["10.96.0.10"],
        clusterDomain: "cluster.local",
        kubernetesVersion: "v1.34.4",
        extraConfig: { kind: "Pod" },
      }),
    ).toThrow(/extraConfig\.kind/);
  });
});
