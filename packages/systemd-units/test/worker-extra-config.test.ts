import { loadCluster } from "@khw/spec";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { containerdConfig, kubeProxyConfig, PATHS, unitFilesForNode } from "../src/index";

const spec = {
  nodes: [
    { name: "cp", role: "controlplane", address: "172.20.0.11" },
    {
      name: "w1",
      role: "worker",
      address: "172.20.0.21",
      containerd: { runcBinary: "/usr/local/sbin/runc-lab" },
      kubeProxy: { extraConfig: { conntrack: { maxPerCore: 0 } } },
    },
    { name: "w2", role: "worker", address: "172.20.0.22" },
  ],
};

describe("a worker's containerd runc binary and extra KubeProxyConfiguration fields", () => {
  const { cluster } = loadCluster(spec);
  const file = (node: string, path: string) =>
    unitFilesForNode(cluster, node, { encryptionKey: "" }).find((f) => f.path === path)!.contents;

  it("containerd's BinaryName is the worker's runcBinary, for that worker only; SystemdCgroup stays", () => {
    const w1 = file("w1", PATHS.containerdConfig);
    expect(w1).toContain('BinaryName = "/usr/local/sbin/runc-lab"');
    expect(w1).toContain("SystemdCgroup = true");
    const w2 = file("w2", PATHS.containerdConfig);
    expect(w2).toContain('BinaryName = "/usr/local/sbin/runc"');
    expect(w2).toBe(containerdConfig({ containerdVersion: cluster.spec.versions.containerd }));
  });

  it("kube-proxy's extra fields are set over khw's, for that worker only", () => {
    const w1 = parse(file("w1", PATHS.kubeProxyConfig));
    expect(w1).toMatchObject({
      kind: "KubeProxyConfiguration",
      mode: "iptables",
      conntrack: { maxPerCore: 0 },
    });
    expect(w1.clusterCIDR).toBe(cluster.network.podCIDR);
    const w2 = file("w2", PATHS.kubeProxyConfig);
    expect(parse(w2).conntrack).toBeUndefined();
    expect(w2).toBe(kubeProxyConfig({ clusterCIDR: cluster.network.podCIDR }));
  });

  it("kube-proxy's extraConfig may not change apiVersion or kind", () => {
    expect(() => kubeProxyConfig({ clusterCIDR: "10.244.0.0/16", extraConfig: { kind: "Pod" } })).toThrow(
      /extraConfig\.kind/,
    );
  });
});
