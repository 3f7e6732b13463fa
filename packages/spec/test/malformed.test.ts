import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  type ClusterSpecInput,
  defaultClusterSpecInput,
  parseClusterYaml,
  SpecError,
  type SpecIssue,
} from "../src/index";

type Mutate = (s: ClusterSpecInput & Record<string, unknown>) => void;
// biome-ignore lint/suspicious/noExplicitAny: test fixtures poke at arbitrary shapes
const node = (s: ClusterSpecInput, i: number) => s.nodes[i] as any;

function issuesOf(mutate: Mutate): SpecIssue[] {
  const spec = structuredClone(defaultClusterSpecInput()) as ClusterSpecInput & Record<string, unknown>;
  mutate(spec);
  try {
    parseClusterYaml(stringify(spec), { file: "cluster.yaml" });
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return [...(e as SpecError).issues];
  }
  return [];
}

// [name, mutation, path, code, exact message]
const cases: [string, Mutate, string, string, string][] = [
  [
    "missing nodes",
    (s) => delete (s as Partial<ClusterSpecInput>).nodes,
    "nodes",
    "required",
    "is required (a list)",
  ],
  [
    "empty nodes",
    (s) => {
      s.nodes = [];
    },
    "nodes",
    "too-small",
    "must list at least one node",
  ],
  [
    "unknown top-level key",
    (s) => {
      s.netwrok = {};
    },
    "netwrok",
    "unknown-key",
    "unknown key 'netwrok'",
  ],
  [
    "unknown node key",
    (s) => {
      node(s, 1).adress = "1.2.3.4";
    },
    "nodes[1].adress",
    "unknown-key",
    "unknown key 'adress'",
  ],
  [
    "bad role",
    (s) => {
      node(s, 4).role = "loadbalancr";
    },
    "nodes[4].role",
    "invalid-value",
    "must be one of controlplane, worker, loadbalancer, not the string 'loadbalancr'",
  ],
  [
    "name not a DNS label",
    (s) => {
      node(s, 0).name = "Master_1";
    },
    "nodes[0].name",
    "invalid-format",
    "the string 'Master_1' must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters",
  ],
  [
    "name too long",
    (s) => {
      node(s, 0).name = "a".repeat(64);
    },
    "nodes[0].name",
    "invalid-format",
    `the string '${"a".repeat(40)}…' must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters`,
  ],
  [
    "address not a string",
    (s) => {
      node(s, 0).address = 42;
    },
    "nodes[0].address",
    "invalid-type",
    "must be a string, not number 42",
  ],
  [
    "address malformed",
    (s) => {
      node(s, 0).address = "192.168.56.300";
    },
    "nodes[0].address",
    "invalid-ip",
    "'192.168.56.300' is not an IPv4 address",
  ],
  [
    "address with leading zero",
    (s) => {
      node(s, 0).address = "192.168.056.11";
    },
    "nodes[0].address",
    "invalid-ip",
    "'192.168.056.11' is not an IPv4 address",
  ],
  [
    "duplicate name",
    (s) => {
      node(s, 1).name = "master-1";
    },
    "nodes[1].name",
    "duplicate-name",
    "node name 'master-1' is also used by nodes[0]",
  ],
  [
    "duplicate address",
    (s) => {
      node(s, 3).address = "192.168.56.21";
    },
    "nodes[3].address",
    "duplicate-address",
    "address 192.168.56.21 is also used by nodes[2]",
  ],
  [
    "address on VirtualBox NAT",
    (s) => {
      node(s, 2).address = "10.0.2.15";
    },
    "nodes[2].address",
    "address-is-nat",
    "10.0.2.15 is on VirtualBox's NAT network 10.0.2.0/24, which every VM shares",
  ],
  [
    "address inside pod CIDR",
    (s) => {
      node(s, 2).address = "10.244.3.3";
    },
    "nodes[2].address",
    "address-in-cluster-cidr",
    "10.244.3.3 lies inside network.podCIDR 10.244.0.0/16",
  ],
  [
    "address inside service CIDR",
    (s) => {
      node(s, 2).address = "10.96.3.3";
    },
    "nodes[2].address",
    "address-in-cluster-cidr",
    "10.96.3.3 lies inside network.serviceCIDR 10.96.0.0/16",
  ],
  [
    "malformed pod CIDR",
    (s) => {
      s.network!.podCIDR = "10.244.0.0";
    },
    "network.podCIDR",
    "invalid-cidr",
    "'10.244.0.0' is not an IPv4 CIDR",
  ],
  [
    "pod CIDR prefix too long",
    (s) => {
      s.network!.podCIDR = "10.244.0.0/33";
    },
    "network.podCIDR",
    "invalid-cidr",
    "'10.244.0.0/33' is not an IPv4 CIDR",
  ],
  [
    "pod CIDR host bits",
    (s) => {
      s.network!.podCIDR = "10.244.1.0/16";
    },
    "network.podCIDR",
    "cidr-not-network",
    "'10.244.1.0/16' has host bits set",
  ],
  [
    "pod/service overlap",
    (s) => {
      s.network!.serviceCIDR = "10.244.128.0/20";
    },
    "network.serviceCIDR",
    "cidr-overlap",
    "service CIDR 10.244.128.0/20 overlaps pod CIDR 10.244.0.0/16",
  ],
  [
    "pod CIDR over NAT",
    (s) => {
      s.network!.podCIDR = "10.0.0.0/16";
    },
    "network.podCIDR",
    "cidr-overlaps-nat",
    "10.0.0.0/16 overlaps VirtualBox's NAT network 10.0.2.0/24",
  ],
  [
    "service CIDR over NAT",
    (s) => {
      s.network!.serviceCIDR = "10.0.0.0/8";
      s.network!.podCIDR = "172.30.0.0/16";
    },
    "network.serviceCIDR",
    "cidr-overlaps-nat",
    "10.0.0.0/8 overlaps VirtualBox's NAT network 10.0.2.0/24",
  ],
  [
    "service CIDR too small",
    (s) => {
      s.network!.serviceCIDR = "10.96.0.0/29";
    },
    "network.serviceCIDR",
    "service-cidr-too-small",
    "10.96.0.0/29 is too small for the API and DNS service IPs",
  ],
  [
    "DNS IP outside service CIDR",
    (s) => {
      s.network!.dnsServiceIP = "10.97.0.10";
    },
    "network.dnsServiceIP",
    "dns-ip-outside-service-cidr",
    "DNS service IP 10.97.0.10 is outside the service CIDR 10.96.0.0/16",
  ],
  [
    "DNS IP = API IP",
    (s) => {
      s.network!.dnsServiceIP = "10.96.0.1";
    },
    "network.dnsServiceIP",
    "dns-ip-reserved",
    "DNS service IP 10.96.0.1 is the service CIDR's network address or the API service IP",
  ],
  [
    "DNS IP malformed",
    (s) => {
      s.network!.dnsServiceIP = "10.96.0";
    },
    "network.dnsServiceIP",
    "invalid-ip",
    "'10.96.0' is not an IPv4 address",
  ],
  [
    "no control plane",
    (s) => {
      s.nodes = s.nodes.filter((n) => n.role !== "controlplane");
    },
    "nodes",
    "no-controlplane",
    "no node has role controlplane",
  ],
  [
    "two control planes without LB",
    (s) => {
      s.nodes = s.nodes.filter((n) => n.role !== "loadbalancer");
    },
    "nodes",
    "no-loadbalancer",
    "2 control planes but no load balancer: clients would depend on one of them",
  ],
  [
    "two load balancers",
    (s) => {
      s.nodes.push({ ...node(s, 4), name: "lb-2", address: "192.168.56.31" });
    },
    "nodes",
    "multiple-loadbalancers",
    "2 nodes have role loadbalancer; khw supports one",
  ],
  [
    "kubelet on a master",
    (s) => {
      node(s, 0).kubelet = { credentials: "certificate" };
    },
    "nodes[0].kubelet",
    "kubelet-not-worker",
    "'master-1' is a controlplane; only workers run a kubelet",
  ],
  [
    "kubelet extraConfig overrides kind",
    (s) => {
      node(s, 2).kubelet = { credentials: "certificate", extraConfig: { kind: "Pod" } };
    },
    "nodes[2].kubelet.extraConfig.kind",
    "reserved-key",
    "kind is set by khw",
  ],
  [
    "kube-proxy extraConfig overrides apiVersion",
    (s) => {
      node(s, 2).kubeProxy = { extraConfig: { apiVersion: "v1" } };
    },
    "nodes[2].kubeProxy.extraConfig.apiVersion",
    "reserved-key",
    "apiVersion is set by khw",
  ],
  [
    "bad kubelet credentials",
    (s) => {
      node(s, 2).kubelet = { credentials: "token" };
    },
    "nodes[2].kubelet.credentials",
    "invalid-value",
    "must be one of certificate, tls-bootstrap, not the string 'token'",
  ],
  [
    "ssh port out of range",
    (s) => {
      node(s, 0).ssh.port = 70000;
    },
    "nodes[0].ssh.port",
    "too-big",
    "must be at most 65535, not number 70000",
  ],
  [
    "ssh port not an integer",
    (s) => {
      node(s, 0).ssh.port = 22.5;
    },
    "nodes[0].ssh.port",
    "invalid-type",
    "must be an integer, not number 22.5",
  ],
  [
    "bad key algorithm",
    (s) => {
      s.pki!.keyAlgorithm = "rsa-1024" as never;
    },
    "pki.keyAlgorithm",
    "invalid-value",
    "must be one of rsa-2048, rsa-4096, ecdsa-p256, not the string 'rsa-1024'",
  ],
  [
    "bad extra SAN",
    (s) => {
      s.pki!.extraApiserverSANs = ["ok.example.com", "not a name"];
    },
    "pki.extraApiserverSANs[1]",
    "invalid-san",
    "'not a name' is neither an IPv4 address nor a DNS name",
  ],
  [
    "validity zero",
    (s) => {
      s.pki!.validityDays = 0;
    },
    "pki.validityDays",
    "too-small",
    "must be at least 1, not number 0",
  ],
  [
    "kubernetes version malformed",
    (s) => {
      s.versions!.kubernetes = "1.34";
    },
    "versions.kubernetes",
    "invalid-format",
    "the string '1.34' must be a release version like v1.34.4",
  ],
  [
    "node port range malformed",
    (s) => {
      s.network!.nodePortRange = "30000:32767";
    },
    "network.nodePortRange",
    "invalid-format",
    "the string '30000:32767' must be a range like 30000-32767",
  ],
  [
    "node port range reversed",
    (s) => {
      s.network!.nodePortRange = "32767-30000";
    },
    "network.nodePortRange",
    "invalid-port-range",
    "'32767-30000' is not a port range low-high within 1-65535",
  ],
  [
    "node port range covers 6443",
    (s) => {
      s.network!.nodePortRange = "6000-7000";
    },
    "network.nodePortRange",
    "port-range-contains-api",
    "6000-7000 contains the API port 6443",
  ],
  [
    "node mask wider than pod CIDR",
    (s) => {
      s.network!.nodeCIDRMaskSize = 12;
    },
    "network.nodeCIDRMaskSize",
    "node-mask-too-wide",
    "/12 per node is larger than the pod CIDR 10.244.0.0/16",
  ],
  [
    "pod CIDR too small for workers",
    (s) => {
      s.network!.podCIDR = "10.244.0.0/24";
    },
    "network.podCIDR",
    "pod-cidr-too-small",
    "10.244.0.0/24 holds 1 node slices of /24, fewer than the 2 workers",
  ],
  [
    "mirror source without URL",
    (s) => {
      s.binaries = { source: "mirror" };
    },
    "binaries.mirror",
    "mirror-missing",
    "binaries.source is mirror but no mirror URL is set",
  ],
  [
    "mirror not a URL",
    (s) => {
      s.binaries = { source: "mirror", mirror: "ftp://x" };
    },
    "binaries.mirror",
    "invalid-url",
    "'ftp://x' is not an http(s) URL",
  ],
  [
    "bundle source without dir",
    (s) => {
      s.binaries = { source: "bundle" };
    },
    "binaries.bundleDir",
    "bundle-missing",
    "binaries.source is bundle but no bundleDir is set",
  ],
  [
    "bundle dir with official source",
    (s) => {
      s.binaries = { source: "official", bundleDir: "b" };
    },
    "binaries.source",
    "bundle-unused",
    "a bundleDir is set but binaries.source is official",
  ],
  [
    "bad pod network",
    (s) => {
      s.addons = { podNetwork: "calico" as never };
    },
    "addons.podNetwork",
    "invalid-value",
    "must be one of weave, flannel, bridge-routes, not the string 'calico'",
  ],
  [
    "image without a tag",
    (s) => {
      s.addons = { images: { nginx: "nginx" } };
    },
    "addons.images.nginx",
    "invalid-format",
    "the string 'nginx' must be a fully qualified image reference with a tag",
  ],
  [
    "dns not a boolean",
    (s) => {
      s.addons = { dns: "yes" as never };
    },
    "addons.dns",
    "invalid-type",
    "must be true or false, not the string 'yes'",
  ],
  [
    "bad host key checking",
    (s) => {
      s.ssh = { hostKeyChecking: "no" as never };
    },
    "ssh.hostKeyChecking",
    "invalid-value",
    "must be one of strict, accept-new, insecure, not the string 'no'",
  ],
  [
    "wrong apiVersion",
    (s) => {
      s.apiVersion = "v1" as never;
    },
    "apiVersion",
    "invalid-value",
    "must be khw/v1alpha1, not the string 'v1'",
  ],
];

describe("malformed specs: every error names the field and says what is wrong", () => {
  it("has at least 30 cases", () => expect(cases.length).toBeGreaterThanOrEqual(30));
  for (const [name, mutate, path, code, message] of cases) {
    it(name, () => {
      const issues = issuesOf(mutate);
      const hit = issues.find((i) => i.path === path && i.code === code);
      expect(hit, `issues were: ${JSON.stringify(issues, null, 1)}`).toBeDefined();
      expect(hit!.message).toBe(message);
      expect(hit!.severity).toBe("error");
      expect(hit!.line).toBeGreaterThan(0);
      expect(hit!.column).toBeGreaterThan(0);
    });
  }
});

describe("reporting", () => {
  it("reports every problem, not just the first", () => {
    const issues = issuesOf((s) => {
      node(s, 1).name = "master-1";
      node(s, 3).address = "192.168.56.21";
      s.network!.serviceCIDR = "10.244.128.0/20";
    });
    expect(
      issues
        .filter((i) => i.severity === "error")
        .map((i) => i.code)
        .sort(),
    ).toEqual(["cidr-overlap", "duplicate-address", "duplicate-name"]);
  });

  it("points unknown keys at the key's own line and column and suggests the right one", () => {
    const text =
      "nodes:\n  - name: master-1\n    role: controlplane\n    address: 192.168.56.11\n    adress: 1.2.3.4\n";
    const e = (() => {
      try {
        parseClusterYaml(text, { file: "c.yaml" });
      } catch (err) {
        return err as SpecError;
      }
      throw new Error("no error");
    })();
    expect(e.issues).toEqual([
      {
        path: "nodes[0].adress",
        code: "unknown-key",
        message: "unknown key 'adress'",
        hint: "did you mean 'address'?",
        severity: "error",
        line: 5,
        column: 5,
      },
    ]);
    expect(e.message).toContain(
      "c.yaml:5:5 nodes[0].adress: unknown key 'adress' (fix: did you mean 'address'?)",
    );
  });

  it("YAML syntax errors carry line and column", () => {
    try {
      parseClusterYaml("nodes:\n  - name: a\n   role: [", { file: "c.yaml" });
      expect.unreachable();
    } catch (e) {
      const issue = (e as SpecError).issues[0]!;
      expect(issue.code).toBe("yaml-syntax");
      expect(issue.line).toBeGreaterThanOrEqual(2);
    }
  });

  it("duplicate keys are an error, not a silent overwrite", () => {
    expect(() => parseClusterYaml("name: a\nname: b\nnodes: []\n")).toThrow(/unique/);
  });

  it("an empty file says how to start", () => {
    expect(() => parseClusterYaml("")).toThrow(/khw init/);
  });

  it("warns (without failing) for an even number of etcd members", () => {
    const { warnings } = parseClusterYaml(stringify(defaultClusterSpecInput()));
    expect(warnings).toEqual([
      expect.objectContaining({ path: "nodes", code: "even-etcd-members", severity: "warning" }),
    ]);
    expect(warnings[0]!.message).toBe(
      "2 etcd members (one per control plane) tolerate 0 failed member(s), no more than 1 would",
    );
  });
});
