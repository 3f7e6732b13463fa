import { readFileSync } from "node:fs";
import { deriveSpec, unusualSpec } from "@khw/test-kit/fixtures";
import Ajv2020 from "ajv/dist/2020";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  artifactLocation,
  binaryArtifacts,
  clusterJsonSchema,
  defaultClusterSpec,
  defaultClusterSpecInput,
  loadCluster,
  nodesFor,
  parseClusterYaml,
  renderClusterYaml,
  SpecError,
} from "../src/index";

/** The kit's unusual spec with other CIDRs (the DNS IP left to its default), domain and names. */
const threeMasters = deriveSpec(unusualSpec(), {
  name: "lab3",
  rename: { "node-1": "node-a", "api-lb": "lb" },
  address: (i, address) => (i === 4 ? "172.20.0.30" : address),
  network: {
    podCIDR: "10.32.0.0/12",
    serviceCIDR: "10.100.0.0/24",
    clusterDomain: "k8s.example",
    nodeCIDRMaskSize: 26,
  },
});

describe("defaults = the Vagrant lab of REFERENCE.md", () => {
  const { cluster } = loadCluster(defaultClusterSpecInput());
  it("has the five hosts with their IPs, roles and SSH ports", () => {
    expect(cluster.nodes.map((n) => [n.name, n.role, n.address, n.ssh.host, n.ssh.port, n.ssh.user])).toEqual(
      [
        ["master-1", "controlplane", "192.168.56.11", "127.0.0.1", 2711, "vagrant"],
        ["master-2", "controlplane", "192.168.56.12", "127.0.0.1", 2712, "vagrant"],
        ["worker-1", "worker", "192.168.56.21", "127.0.0.1", 2721, "vagrant"],
        ["worker-2", "worker", "192.168.56.22", "127.0.0.1", 2722, "vagrant"],
        ["loadbalancer", "loadbalancer", "192.168.56.30", "127.0.0.1", 2730, "vagrant"],
      ],
    );
    expect(cluster.workers.map((w) => w.kubeletCredentials)).toEqual(["certificate", "tls-bootstrap"]);
  });
  it("derives the service IPs, the API endpoint and etcd", () => {
    expect(cluster.network.apiServiceIP).toBe("10.96.0.1");
    expect(cluster.network.dnsServiceIP).toBe("10.96.0.10");
    expect(cluster.api.url).toBe("https://192.168.56.30:6443");
    expect(cluster.serviceAccountIssuer).toBe("https://192.168.56.30:6443");
    expect(cluster.etcd.initialCluster).toBe(
      "master-1=https://192.168.56.11:2380,master-2=https://192.168.56.12:2380",
    );
    expect(cluster.etcd.clientURLs).toEqual(["https://192.168.56.11:2379", "https://192.168.56.12:2379"]);
    expect(cluster.workers.map((w) => w.podCIDR)).toEqual(["10.244.0.0/24", "10.244.1.0/24"]);
    expect(nodesFor(cluster, "etcd").map((n) => n.name)).toEqual(["master-1", "master-2"]);
  });
  it("defaultClusterSpec() equals the parsed default input", () => {
    expect(defaultClusterSpec()).toEqual(loadCluster(defaultClusterSpecInput()).spec);
  });
});

describe("derived facts for an unusual spec", () => {
  const { cluster, warnings } = loadCluster(threeMasters);
  it("has no warnings with 3 etcd members", () => expect(warnings).toEqual([]));
  it("computes service IPs and per-worker pod slices from custom CIDRs", () => {
    expect(cluster.network.apiServiceIP).toBe("10.100.0.1");
    expect(cluster.network.dnsServiceIP).toBe("10.100.0.10");
    expect(cluster.workers[0]!.podCIDR).toBe("10.32.0.0/26");
    expect(cluster.etcd.members.map((m) => m.name)).toEqual(["cp-a", "cp-b", "cp-c"]);
    expect(cluster.nodes[0]!.ssh).toEqual({ host: "172.20.0.11", port: 22, user: "root" });
  });
  it("carries a worker's extra KubeletConfiguration fields", () => {
    const nodes: Record<string, unknown>[] = structuredClone(threeMasters.nodes);
    nodes[3] = {
      ...nodes[3],
      kubelet: { credentials: "tls-bootstrap", extraConfig: { cgroupsPerQOS: false } },
    };
    const spec = { ...threeMasters, nodes };
    const { cluster: c } = loadCluster(spec);
    expect(c.workers[0]!.kubeletExtraConfig).toEqual({ cgroupsPerQOS: false });
    expect(c.controlPlanes[0]!.kubeletExtraConfig).toBeUndefined();
  });
  it("carries a worker's containerd runc binary and extra KubeProxyConfiguration fields; none by default", () => {
    const nodes: Record<string, unknown>[] = structuredClone(threeMasters.nodes);
    nodes[3] = {
      ...nodes[3],
      containerd: { runcBinary: "/usr/local/sbin/runc-lab" },
      kubeProxy: { extraConfig: { conntrack: { maxPerCore: 0 } } },
    };
    const spec = {
      ...threeMasters,
      nodes,
      binaries: { images: [{ ref: "docker.io/library/busybox:1.28", path: "khw-images/busybox.tar" }] },
    };
    const { cluster: c } = loadCluster(spec);
    expect(c.workers[0]!.containerdRuncBinary).toBe("/usr/local/sbin/runc-lab");
    expect(c.workers[0]!.kubeProxyExtraConfig).toEqual({ conntrack: { maxPerCore: 0 } });
    expect(c.spec.binaries.images).toEqual([
      { ref: "docker.io/library/busybox:1.28", path: "khw-images/busybox.tar" },
    ]);
    const { cluster: plain } = loadCluster(threeMasters);
    for (const n of plain.nodes) {
      expect(n.containerdRuncBinary).toBeUndefined();
      expect(n.kubeProxyExtraConfig).toBeUndefined();
    }
    expect(plain.spec.binaries.images).toBeUndefined();
  });
  it("warns (only) about loopback node addresses", () => {
    const { warnings } = loadCluster({
      nodes: [{ name: "solo", role: "controlplane", address: "127.0.0.11" }],
      addons: { dns: false },
    });
    expect(warnings.map((w) => [w.path, w.code, w.severity])).toEqual([
      ["nodes[0].address", "loopback-address", "warning"],
    ]);
  });
  it("talks to the only control plane when there is no load balancer", () => {
    const { cluster: one } = loadCluster({
      nodes: [{ name: "solo", role: "controlplane", address: "172.20.0.5" }],
    });
    expect(one.api).toEqual({
      host: "172.20.0.5",
      port: 6443,
      url: "https://172.20.0.5:6443",
      viaLoadBalancer: false,
    });
    expect(one.loadBalancer).toBeUndefined();
  });
});

describe("YAML round trip", () => {
  it("khw init's YAML parses back to the default spec and carries comments", () => {
    const text = renderClusterYaml(defaultClusterSpecInput());
    expect(text).toMatch(/^# yaml-language-server: \$schema=/);
    expect(text).toContain("# Every host.");
    expect(parseClusterYaml(text).spec).toEqual(defaultClusterSpec());
    // An independent parser sees the same data.
    expect(parse(text)).toEqual(defaultClusterSpecInput());
  });
  it("is deterministic", () => {
    expect(renderClusterYaml(defaultClusterSpecInput())).toBe(renderClusterYaml(defaultClusterSpecInput()));
  });
  it("accepts JSON too", () => {
    expect(parseClusterYaml(JSON.stringify(threeMasters)).cluster.name).toBe("lab3");
  });
});

describe("JSON Schema", () => {
  const schema = clusterJsonSchema();
  it("the checked-in cluster.schema.json is what the zod schema generates (run `pnpm --filter @khw/spec gen:schema`)", () => {
    const checkedIn = JSON.parse(readFileSync(new URL("../cluster.schema.json", import.meta.url), "utf8"));
    expect(checkedIn).toEqual(schema);
  });
  it("a real JSON Schema validator accepts the default spec and rejects unknown keys and bad enums", () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    expect(validate(parse(renderClusterYaml(defaultClusterSpecInput())))).toBe(true);
    expect(validate(threeMasters)).toBe(true);
    expect(validate({ ...threeMasters, netwrok: {} })).toBe(false);
    expect(validate({ ...threeMasters, nodes: [{ name: "a", role: "boss", address: "1.2.3.4" }] })).toBe(
      false,
    );
  });
});

describe("binary catalogue", () => {
  const { cluster } = loadCluster(defaultClusterSpecInput());
  it("uses the official layout and checksum files", () => {
    const byId = Object.fromEntries(binaryArtifacts(cluster).map((a) => [a.id, a]));
    expect(byId["kubelet"]!.path).toBe("dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubelet");
    expect(byId["kubelet"]!.checksum).toEqual({
      kind: "digest-file",
      path: "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubelet.sha256",
    });
    expect(byId["etcd"]!.path).toBe(
      "github.com/etcd-io/etcd/releases/download/v3.6.16/etcd-v3.6.16-linux-amd64.tar.gz",
    );
    expect(artifactLocation(cluster, byId["etcd"]!.path)).toEqual({
      kind: "url",
      url: "https://github.com/etcd-io/etcd/releases/download/v3.6.16/etcd-v3.6.16-linux-amd64.tar.gz",
    });
  });
  it("the CNI archive's flannel plugin is installed only for flannel without a cni-plugin image", () => {
    const cniMembers = (addons: Record<string, unknown>) =>
      Object.keys(
        binaryArtifacts(loadCluster({ ...defaultClusterSpecInput(), addons }).cluster).find(
          (a) => a.id === "cni-plugins",
        )!.installAs,
      );
    const base = ["bridge", "host-local", "loopback", "portmap"];
    expect(cniMembers({ podNetwork: "weave" })).toEqual(base);
    expect(cniMembers({ podNetwork: "flannel" })).toEqual(base);
    expect(cniMembers({ podNetwork: "flannel", images: { flannelCniPlugin: null } })).toEqual([
      ...base,
      "flannel",
    ]);
  });
  it("a mirror and a bundle serve the same paths", () => {
    const mirror = loadCluster({
      ...defaultClusterSpecInput(),
      binaries: { source: "mirror", mirror: "http://198.18.0.1:8080/" },
    });
    expect(artifactLocation(mirror.cluster, "dl.k8s.io/x")).toEqual({
      kind: "url",
      url: "http://198.18.0.1:8080/dl.k8s.io/x",
    });
    const bundle = loadCluster({
      ...defaultClusterSpecInput(),
      binaries: { source: "bundle", bundleDir: "/srv/b" },
    });
    expect(artifactLocation(bundle.cluster, "dl.k8s.io/x")).toEqual({
      kind: "file",
      path: "/srv/b/dl.k8s.io/x",
    });
  });
});

describe("fuzz: the parser never crashes, it only reports SpecError", () => {
  const onlySpecErrors = (text: string) => {
    try {
      parseClusterYaml(text);
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      expect(e.issues.length).toBeGreaterThan(0);
    }
  };
  it("random text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), onlySpecErrors), { numRuns: 500 });
  });
  it("random JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => onlySpecErrors(JSON.stringify(v))),
      { numRuns: 500 },
    );
  });
  it("mutations of a valid spec", () => {
    const base = defaultClusterSpecInput() as unknown as Record<string, unknown>;
    const paths = ["name", "nodes", "network", "versions", "pki", "binaries", "addons", "ssh"];
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.jsonValue(), (key, value) => {
        onlySpecErrors(stringify({ ...base, [key]: value }));
      }),
      { numRuns: 500 },
    );
  });
  it("random YAML documents built from YAML-ish tokens", () => {
    const token = fc.constantFrom(
      "nodes:",
      "- ",
      "name: ",
      "role: ",
      "  ",
      "\n",
      "&a ",
      "*a",
      "!!binary ",
      "{",
      "}",
      "[",
      "]",
      ": ",
      "? ",
      "|",
      ">",
      "#",
      "'",
      '"',
      "---",
      "...",
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 40 }), (parts) => onlySpecErrors(parts.join(""))),
      { numRuns: 1000 },
    );
  });
});
