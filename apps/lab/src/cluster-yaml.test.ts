import { LAB_RUNC_WRAPPER_PATH } from "@khw/images";
import { parseClusterYaml, renderClusterYaml } from "@khw/spec";
import { unusualSpec } from "@khw/test-kit/fixtures";
import { describe, expect, it } from "vitest";
import {
  defaultLabSpec,
  LAB_ADDON_IMAGES,
  LAB_IMAGES_DIR,
  LAB_KUBE_PROXY_CONFIG,
  LAB_ONLY_SETTINGS,
  labImageRefs,
  renderLabClusterYaml,
} from "./cluster-yaml";
import { labHosts } from "./topology";

const facts = (spec = defaultLabSpec()) => ({
  hosts: labHosts(spec),
  identityFile: ".khw-lab/id_ed25519",
  knownHostsFile: "known_hosts",
  mirrorUrl: "http://198.18.0.1:8080",
});

describe("the lab's cluster.yaml", () => {
  it("parses with @khw/spec and points every node at its lab host", () => {
    const text = renderLabClusterYaml(defaultLabSpec(), facts());
    const { spec, cluster } = parseClusterYaml(text, { file: "cluster.yaml" });
    expect(spec.nodes.map((n) => [n.name, n.address, n.ssh.host, n.ssh.port, n.ssh.user])).toEqual([
      ["master-1", "198.18.0.11", "198.18.0.11", 22, "root"],
      ["master-2", "198.18.0.12", "198.18.0.12", 22, "root"],
      ["worker-1", "198.18.0.21", "198.18.0.21", 22, "root"],
      ["worker-2", "198.18.0.22", "198.18.0.22", 22, "root"],
      ["loadbalancer", "198.18.0.30", "198.18.0.30", 22, "root"],
    ]);
    expect(spec.nodes.every((n) => n.ssh.identityFile === ".khw-lab/id_ed25519")).toBe(true);
    expect(spec.ssh).toEqual({ hostKeyChecking: "strict", knownHostsFile: "known_hosts" });
    expect(spec.binaries.source).toBe("mirror");
    expect(spec.binaries.mirror).toBe("http://198.18.0.1:8080");
    expect(spec.nodes.find((n) => n.name === "worker-2")?.kubelet?.credentials).toBe("tls-bootstrap");
    expect(cluster).toBeDefined();
  });

  it("keeps the user's other settings and topology (3 masters, custom networks)", () => {
    const unusual = unusualSpec();
    const user = {
      ...defaultLabSpec(),
      nodes: unusual.nodes,
      network: unusual.network,
      binaries: { source: "bundle" as const, bundleDir: "./bundle" },
    };
    const { spec } = parseClusterYaml(renderLabClusterYaml(user, facts(user)));
    // the lab gives each host its role's address on the bridge: masters .11 on, workers .21 on, the LB .30
    expect(spec.nodes.map((n) => n.address)).toEqual([
      "198.18.0.11",
      "198.18.0.12",
      "198.18.0.13",
      "198.18.0.21",
      "198.18.0.30",
    ]);
    expect(spec.nodes.map((n) => n.name)).toEqual(unusual.nodes.map((n) => n.name));
    expect(spec.network.podCIDR).toBe("10.200.0.0/16");
    expect(spec.binaries.bundleDir).toBeUndefined();
  });

  it("workers get the lab-only runc wrapper and kube-proxy conntrack setting; images only when the mirror has them", () => {
    const { spec, cluster } = parseClusterYaml(renderLabClusterYaml(defaultLabSpec(), facts()));
    for (const w of cluster.workers) {
      expect(w.containerdRuncBinary).toBe(LAB_RUNC_WRAPPER_PATH);
      expect(w.kubeProxyExtraConfig).toEqual(LAB_KUBE_PROXY_CONFIG);
    }
    for (const n of cluster.nodes.filter((x) => x.role !== "worker")) {
      expect(n.containerdRuncBinary).toBeUndefined();
      expect(n.kubeProxyExtraConfig).toBeUndefined();
    }
    expect(spec.binaries.images).toBeUndefined();
    const withImages = parseClusterYaml(
      renderLabClusterYaml(defaultLabSpec(), { ...facts(), images: labImageRefs() }),
    ).spec;
    expect(withImages.binaries.images).toEqual(labImageRefs());
    expect(labImageRefs().length).toBeGreaterThan(0);
    expect(labImageRefs().every((i) => i.path.startsWith(`${LAB_IMAGES_DIR}/`))).toBe(true);
  });

  it("keeps a user's own containerd and kube-proxy settings over the lab's", () => {
    const user = defaultLabSpec();
    user.nodes = user.nodes.map((n) =>
      n.name === "worker-1"
        ? {
            ...n,
            containerd: { runcBinary: "/opt/runc" },
            kubeProxy: { extraConfig: { conntrack: { maxPerCore: 8 } } },
          }
        : n,
    );
    const { cluster } = parseClusterYaml(renderLabClusterYaml(user, facts(user)));
    const w1 = cluster.workers.find((w) => w.name === "worker-1")!;
    expect(w1.containerdRuncBinary).toBe("/opt/runc");
    expect(w1.kubeProxyExtraConfig).toEqual({ conntrack: { maxPerCore: 8 } });
  });

  it("runs Flannel (lab flanneld image, the bundle's CNI plugin) and the lab's nginx/busybox; only the lab's cluster.yaml gets them", () => {
    const lab = parseClusterYaml(renderLabClusterYaml(defaultLabSpec(), facts())).spec.addons;
    expect(lab.podNetwork).toBe("flannel");
    expect(lab.images.flannel).toBe(LAB_ADDON_IMAGES.flannel);
    expect(lab.images.flannel).toMatch(/^khw\.lab\/flannel:v\d/);
    expect(lab.images.flannelCniPlugin).toBeNull();
    expect(lab.images.nginx).toMatch(/^khw\.lab\/nginx:\d/);
    expect(lab.images.busybox).toMatch(/^khw\.lab\/busybox:\d/);
    expect(labImageRefs().map((i) => i.ref)).toContain(LAB_ADDON_IMAGES.flannel);
    // the same spec outside the lab: the upstream images, Weave as the user wrote it
    const real = parseClusterYaml(renderClusterYaml(defaultLabSpec())).spec.addons;
    expect(real.podNetwork).toBe("weave");
    expect(real.images.flannel).toMatch(/^ghcr\.io\/flannel-io\/flannel:/);
    expect(real.images.flannelCniPlugin).toMatch(/^ghcr\.io\/flannel-io\/flannel-cni-plugin:/);
    expect(real.images.nginx).toBe("docker.io/library/nginx:1.27");
    expect(real.images.busybox).toBe("docker.io/library/busybox:1.28");
  });

  it("keeps bridge-routes when the spec asks for it", () => {
    const user = { ...defaultLabSpec(), addons: { podNetwork: "bridge-routes" as const } };
    expect(parseClusterYaml(renderLabClusterYaml(user, facts(user))).spec.addons.podNetwork).toBe(
      "bridge-routes",
    );
  });

  it("is byte-stable", () => {
    expect(renderLabClusterYaml(defaultLabSpec(), facts())).toBe(
      renderLabClusterYaml(defaultLabSpec(), facts()),
    );
  });
});

it("refuses a spec the lab cannot host, with the spec's own explanation", () => {
  const bad = {
    ...defaultLabSpec(),
    nodes: [
      { name: "a", role: "controlplane" as const, address: "10.1.0.5" },
      { name: "b", role: "controlplane" as const, address: "10.1.0.6" },
    ],
  };
  expect(() => renderLabClusterYaml(bad, facts(bad))).toThrow(/no load balancer[\s\S]*Fix: /);
});

describe.each(LAB_ONLY_SETTINGS.map((s) => [s.field, s] as const))(
  "lab-only setting %s",
  (_field, setting) => {
    it("reaches the lab's cluster.yaml, and not the same spec outside the lab", () => {
      const lab = parseClusterYaml(
        renderLabClusterYaml(defaultLabSpec(), { ...facts(), images: labImageRefs() }),
      );
      expect(setting.read(lab.spec)).toEqual(setting.labValue);
      const real = parseClusterYaml(renderClusterYaml(defaultLabSpec()));
      expect(setting.read(real.spec)).not.toEqual(setting.labValue);
      expect(setting.why.length).toBeGreaterThan(20);
    });
  },
);
