import { binaryArtifacts, type Cluster, ClusterSpecSchema, resolveCluster } from "@khw/spec";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  BINARY_PATHS,
  binariesForNode,
  containerdConfig,
  encryptionConfig,
  etcdUnitFromCluster,
  FILE_CATALOGUE,
  hasSetting,
  kubeletConfig,
  kubeletUnitFromCluster,
  PATHS,
  SERVICE_CATALOGUE,
  serviceFiles,
  UNIT_DIR,
  unitFilesFromCluster,
  VERSION_TABLE,
} from "../src/index";
import { defaultCluster, KEY, SPECS, singleMasterCluster, UNUSUAL_SPEC, unusualCluster } from "./_fixtures";
import { expectGolden } from "./_golden";
import { execStartOf, flagMap } from "./_unit-text";

interface ContainerdToml {
  version: number;
  plugins: Record<
    string,
    {
      containerd: {
        default_runtime_name: string;
        runtimes: Record<string, { runtime_type: string; options: Record<string, unknown> }>;
      };
      cni: unknown;
    }
  >;
}

const file = (cluster: Cluster, host: string, path: string) => {
  const f = unitFilesFromCluster(cluster, { encryptionKey: KEY }).find(
    (x) => x.host === host && x.path === path,
  );
  if (!f) throw new Error(`no ${host}:${path}`);
  return f;
};
const unitFlags = (cluster: Cluster, host: string, service: string) =>
  flagMap(execStartOf(file(cluster, host, `${UNIT_DIR}/${service}.service`).contents));

describe("unitFilesFromCluster", () => {
  for (const [name, make] of Object.entries(SPECS)) {
    it(`matches the golden files (${name} spec)`, () => {
      expectGolden(name, unitFilesFromCluster(make(), { encryptionKey: KEY }));
    });
    it(`is deterministic and gives every file a path and mode (${name} spec)`, () => {
      const a = unitFilesFromCluster(make(), { encryptionKey: KEY });
      expect(a).toEqual(unitFilesFromCluster(make(), { encryptionKey: KEY }));
      for (const f of a) {
        expect(f.path).toMatch(/^\//);
        expect(f.mode, f.path).toBe(f.path === PATHS.encryptionConfig ? 0o600 : 0o644);
        expect(f.secret === true, f.path).toBe(f.path === PATHS.encryptionConfig);
        expect(f.contents.endsWith("\n"), f.path).toBe(true);
      }
      const keys = a.map((f) => `${f.host}:${f.path}`);
      expect(new Set(keys).size).toBe(keys.length);
    });
  }

  it("etcd: every member's URLs are its own address; initial cluster lists all members", () => {
    const c = unusualCluster();
    for (const m of c.controlPlanes) {
      const f = unitFlags(c, m.name, "etcd");
      expect(f.get("name")).toBe(m.name);
      expect(f.get("initial-advertise-peer-urls")).toBe(`https://${m.address}:2380`);
      expect(f.get("listen-peer-urls")).toBe(`https://${m.address}:2380`);
      expect(f.get("listen-client-urls")).toBe(`https://${m.address}:2379,https://127.0.0.1:2379`);
      expect(f.get("advertise-client-urls")).toBe(`https://${m.address}:2379`);
      expect(f.get("initial-cluster")).toBe(
        "cp-a=https://127.0.0.11:2380,cp-b=https://127.0.0.12:2380,cp-c=https://127.0.0.13:2380",
      );
      expect(f.get("initial-cluster-token")).toBe("etcd-odd-lab");
      expect(f.get("initial-cluster-state")).toBe("new");
      expect(f.get("client-cert-auth")).toBe("");
      expect(f.get("peer-client-cert-auth")).toBe("");
    }
  });

  it("kube-apiserver: etcd servers, service range, issuer, node ports, its own address", () => {
    const c = unusualCluster();
    const f = unitFlags(c, "cp-b", "kube-apiserver");
    expect(f.get("etcd-servers")).toBe(
      "https://127.0.0.11:2379,https://127.0.0.12:2379,https://127.0.0.13:2379",
    );
    expect(f.get("service-cluster-ip-range")).toBe("10.32.0.0/20");
    expect(f.get("service-account-issuer")).toBe("https://127.0.0.30:6443");
    expect(f.get("service-node-port-range")).toBe("31000-31999");
    expect(f.get("advertise-address")).toBe("127.0.0.12");
    expect(f.get("encryption-provider-config")).toBe(PATHS.encryptionConfig);
    const d = unitFlags(defaultCluster(), "master-1", "kube-apiserver");
    expect(d.get("etcd-servers")).toBe("https://192.168.56.11:2379,https://192.168.56.12:2379");
    expect(d.get("service-cluster-ip-range")).toBe("10.96.0.0/16");
    expect(d.get("service-account-issuer")).toBe("https://192.168.56.30:6443");
    // single master without a load balancer: the issuer is that master
    expect(unitFlags(singleMasterCluster(), "solo-cp", "kube-apiserver").get("service-account-issuer")).toBe(
      "https://127.0.0.11:6443",
    );
  });

  it("kube-controller-manager: cluster CIDR = pod CIDR, node mask, service range", () => {
    const f = unitFlags(unusualCluster(), "cp-c", "kube-controller-manager");
    expect(f.get("cluster-cidr")).toBe("172.20.0.0/16");
    expect(f.get("node-cidr-mask-size")).toBe("26");
    expect(f.get("service-cluster-ip-range")).toBe("10.32.0.0/20");
    expect(unitFlags(defaultCluster(), "master-2", "kube-controller-manager").get("cluster-cidr")).toBe(
      "10.244.0.0/16",
    );
  });

  it("kubelet: --node-ip is the node's address, clusterDNS the DNS service IP, per credentials mode", () => {
    const d = defaultCluster();
    const w1 = unitFlags(d, "worker-1", "kubelet");
    expect(w1.get("node-ip")).toBe("192.168.56.21");
    expect(w1.has("bootstrap-kubeconfig")).toBe(false);
    const w2 = unitFlags(d, "worker-2", "kubelet");
    expect(w2.get("node-ip")).toBe("192.168.56.22");
    expect(w2.get("bootstrap-kubeconfig")).toBe("/var/lib/kubelet/bootstrap-kubeconfig");
    expect(w2.get("cert-dir")).toBe("/var/lib/kubelet/pki/");
    const c1 = parse(file(d, "worker-1", PATHS.kubeletConfig).contents);
    expect(c1.clusterDNS).toEqual(["10.96.0.10"]);
    expect(c1.clusterDomain).toBe("cluster.local");
    expect(c1.tlsCertFile).toBe("/var/lib/kubernetes/pki/worker-1.crt");
    expect(c1.rotateCertificates).toBeUndefined();
    const c2 = parse(file(d, "worker-2", PATHS.kubeletConfig).contents);
    expect(c2.rotateCertificates).toBe(true);
    expect(c2.serverTLSBootstrap).toBe(true);
    expect(c2.tlsCertFile).toBeUndefined();
    for (const c of [c1, c2]) {
      expect(c.resolvConf).toBe("/run/systemd/resolve/resolv.conf");
      expect(c.cgroupDriver).toBe("systemd");
      expect(c.authentication.anonymous.enabled).toBe(false);
      expect(c.authorization.mode).toBe("Webhook");
      expect(c.failCgroupV1).toBeUndefined();
    }
    const u = unusualCluster();
    expect(parse(file(u, "node-x", PATHS.kubeletConfig).contents).clusterDNS).toEqual(["10.32.0.53"]);
    expect(parse(file(u, "node-x", PATHS.kubeletConfig).contents).clusterDomain).toBe("odd.internal");
    expect(unitFlags(u, "node-x", "kubelet").get("node-ip")).toBe("127.0.0.21");
  });

  it("kube-proxy: clusterCIDR is the pod CIDR, iptables mode", () => {
    const p = parse(file(unusualCluster(), "node-x", PATHS.kubeProxyConfig).contents);
    expect(p).toMatchObject({
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      clusterCIDR: "172.20.0.0/16",
      mode: "iptables",
    });
    expect(p.clientConnection.kubeconfig).toBe("/var/lib/kube-proxy/kubeconfig");
  });

  it("scheduler and encryption configs have the right API versions", () => {
    const s = parse(file(defaultCluster(), "master-1", PATHS.kubeSchedulerConfig).contents);
    expect(s).toEqual({
      apiVersion: "kubescheduler.config.k8s.io/v1",
      kind: "KubeSchedulerConfiguration",
      clientConnection: { kubeconfig: "/var/lib/kubernetes/kube-scheduler.kubeconfig" },
      leaderElection: { leaderElect: true },
    });
    const e = parse(encryptionConfig(KEY));
    expect(e.apiVersion).toBe("apiserver.config.k8s.io/v1");
    expect(e.kind).toBe("EncryptionConfiguration");
    expect(e.resources).toEqual([
      {
        resources: ["secrets"],
        providers: [{ aescbc: { keys: [{ name: "key1", secret: KEY }] } }, { identity: {} }],
      },
    ]);
    expect(() => encryptionConfig(Buffer.alloc(16).toString("base64"))).toThrow(
      expect.objectContaining({ code: "INVALID_ENCRYPTION_KEY", field: "encryptionKey" }),
    );
    expect(() => unitFilesFromCluster(defaultCluster(), { encryptionKey: "" })).toThrow(
      expect.objectContaining({ code: "INVALID_ENCRYPTION_KEY" }),
    );
  });

  it("containerd config.toml: version 3, runc with SystemdCgroup under the containerd 2.x table names", () => {
    const t = parseToml(
      file(defaultCluster(), "worker-1", PATHS.containerdConfig).contents,
    ) as unknown as ContainerdToml;
    expect(t["version"]).toBe(3);
    const rt = t.plugins["io.containerd.cri.v1.runtime"]!;
    expect(rt.containerd.default_runtime_name).toBe("runc");
    expect(rt.containerd.runtimes["runc"]!.runtime_type).toBe("io.containerd.runc.v2");
    expect(rt.containerd.runtimes["runc"]!.options["SystemdCgroup"]).toBe(true);
    expect(rt.containerd.runtimes["runc"]!.options["BinaryName"]).toBe("/usr/local/sbin/runc");
    expect(rt.cni).toEqual({ bin_dirs: ["/opt/cni/bin"], conf_dir: "/etc/cni/net.d" });
    // containerd 2.0 has no bin_dirs yet; 1.x reads config version 2 only
    expect(
      (parseToml(containerdConfig({ containerdVersion: "2.0.6" })) as unknown as ContainerdToml).plugins[
        "io.containerd.cri.v1.runtime"
      ]!.cni,
    ).toEqual({ bin_dir: "/opt/cni/bin", conf_dir: "/etc/cni/net.d" });
    expect(() => containerdConfig({ containerdVersion: "1.7.27" })).toThrow(
      expect.objectContaining({ code: "UNSUPPORTED_VERSION" }),
    );
  });

  it("bridge-routes: each worker's CNI bridge uses its own pod CIDR slice; weave clusters get no CNI conf", () => {
    const spec = ClusterSpecSchema.parse({
      ...UNUSUAL_SPEC,
      addons: { podNetwork: "bridge-routes" },
      nodes: [...UNUSUAL_SPEC.nodes, { name: "node-y", role: "worker", address: "127.0.0.22" }],
    });
    const c = resolveCluster(spec).cluster;
    const x = JSON.parse(file(c, "node-x", PATHS.cniBridgeConfig).contents);
    const y = JSON.parse(file(c, "node-y", PATHS.cniBridgeConfig).contents);
    expect(x.ipam.ranges).toEqual([[{ subnet: "172.20.0.0/26" }]]);
    expect(y.ipam.ranges).toEqual([[{ subnet: "172.20.0.64/26" }]]);
    expect(x).toMatchObject({ type: "bridge", bridge: "cni0", isGateway: true, ipMasq: true });
    expect(JSON.parse(file(c, "node-x", PATHS.cniLoopbackConfig).contents)).toMatchObject({
      type: "loopback",
    });
    expect(
      unitFilesFromCluster(defaultCluster(), { encryptionKey: KEY }).filter((f) =>
        f.path.startsWith("/etc/cni"),
      ),
    ).toEqual([]);
  });

  it("bridge-routes: the spec's slices are the only owner of each worker's pod range, and routes come back with the kubelet", () => {
    const spec = ClusterSpecSchema.parse({
      ...UNUSUAL_SPEC,
      addons: { podNetwork: "bridge-routes" },
      nodes: [...UNUSUAL_SPEC.nodes, { name: "node-y", role: "worker", address: "127.0.0.22" }],
    });
    const c = resolveCluster(spec).cluster;
    const master = c.controlPlanes[0]!.name;
    const cm = file(c, master, `/etc/systemd/system/kube-controller-manager.service`).contents;
    expect(cm).toContain("--allocate-node-cidrs=false");
    const x = c.workers.find((w) => w.name === "node-x")!;
    const kubeletY = file(c, "node-y", "/etc/systemd/system/kubelet.service").contents.replace(
      / \\\n\s+/g,
      " ",
    );
    expect(kubeletY).toContain(`ExecStartPre=/sbin/ip -4 route replace ${x.podCIDR} via ${x.address}\n`);
    expect(kubeletY, "no route to its own slice").not.toContain("via 127.0.0.22");
    // weave (the default) keeps the controller-manager's allocation and no routes.
    const d = defaultCluster();
    expect(file(d, "master-1", "/etc/systemd/system/kube-controller-manager.service").contents).toContain(
      "--allocate-node-cidrs=true",
    );
    expect(file(d, "worker-1", "/etc/systemd/system/kubelet.service").contents).not.toContain("ExecStartPre");
  });

  it("only control planes and workers get files; CA key and encryption config never reach a worker", () => {
    const files = unitFilesFromCluster(defaultCluster(), { encryptionKey: KEY });
    expect(files.some((f) => f.host === "loadbalancer")).toBe(false);
    const workerPaths = files.filter((f) => f.host.startsWith("worker")).map((f) => f.path);
    expect(workerPaths).not.toContain(PATHS.encryptionConfig);
    expect(files.filter((f) => f.host === "master-1").map((f) => f.path)).not.toContain(PATHS.kubeletConfig);
  });
});

describe("the version table", () => {
  it("knows when failCgroupV1 exists and emits it only when asked for and where it exists", () => {
    expect(hasSetting("kubelet-fail-cgroup-v1", "v1.30.14")).toBe(false);
    expect(hasSetting("kubelet-fail-cgroup-v1", "v1.31.0")).toBe(true);
    const base = {
      nodeName: "w",
      credentials: "certificate" as const,
      clusterDNS: ["10.96.0.10"],
      clusterDomain: "cluster.local",
    };
    expect(
      parse(kubeletConfig({ ...base, kubernetesVersion: "v1.34.4", allowCgroupV1: true })).failCgroupV1,
    ).toBe(false);
    expect(
      parse(kubeletConfig({ ...base, kubernetesVersion: "v1.30.14", allowCgroupV1: true })).failCgroupV1,
    ).toBeUndefined();
    expect(parse(kubeletConfig({ ...base, kubernetesVersion: "v1.34.4" })).failCgroupV1).toBeUndefined();
    const lab = unitFilesFromCluster(defaultCluster(), { encryptionKey: KEY, allowCgroupV1: true }).find(
      (f) => f.host === "worker-1" && f.path === PATHS.kubeletConfig,
    )!;
    expect(parse(lab.contents).failCgroupV1).toBe(false);
  });

  it("never emits a flag the table says is gone in the spec's version", () => {
    for (const make of Object.values(SPECS)) {
      const c = make();
      for (const f of unitFilesFromCluster(c, { encryptionKey: KEY }).filter((x) =>
        x.path.endsWith(".service"),
      )) {
        const argv = execStartOf(f.contents);
        for (const s of VERSION_TABLE.filter((e) => e.kind === "flag")) {
          if (!hasSetting(s.id, c.spec.versions.kubernetes))
            expect(
              argv.some((a) => a.startsWith(`${s.name}=`) || a === s.name),
              `${f.path} ${s.name}`,
            ).toBe(false);
        }
      }
    }
    expect(hasSetting("kubelet-container-runtime-endpoint-flag", "v1.30.0")).toBe(false);
    expect(hasSetting("containerd-cni-bin-dirs", "2.1.4")).toBe(true);
    expect(() => hasSetting("no-such-setting", "v1.34.0")).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT" }),
    );
  });

  it("refuses Kubernetes versions older than it knows, naming the field", () => {
    // @khw/spec's validation refuses v1.29.9 already; a caller that builds a Cluster by hand still hits this.
    const { cluster } = resolveCluster(ClusterSpecSchema.parse(UNUSUAL_SPEC));
    cluster.spec.versions.kubernetes = "v1.29.9";
    expect(() => unitFilesFromCluster(cluster, { encryptionKey: KEY })).toThrow(
      expect.objectContaining({ code: "UNSUPPORTED_VERSION", field: "versions.kubernetes" }),
    );
  });
});

describe("services, files and binaries", () => {
  it("maps each service to the files that should restart it", () => {
    const d = defaultCluster();
    expect(serviceFiles(d, "master-1")).toMatchObject({
      etcd: [
        "/etc/systemd/system/etcd.service",
        "/etc/etcd/ca.crt",
        "/etc/etcd/etcd-server.crt",
        "/etc/etcd/etcd-server.key",
      ],
      "kube-scheduler": [
        "/etc/systemd/system/kube-scheduler.service",
        "/var/lib/kubernetes/kube-scheduler.yaml",
        "/var/lib/kubernetes/kube-scheduler.kubeconfig",
        "/var/lib/kubernetes/pki/ca.crt",
        "/var/lib/kubernetes/pki/kube-scheduler.crt",
        "/var/lib/kubernetes/pki/kube-scheduler.key",
      ],
    });
    expect(serviceFiles(d, "master-1")["kube-apiserver"]).toContain(PATHS.encryptionConfig);
    expect(Object.keys(serviceFiles(d, "master-1")).sort()).toEqual([
      "etcd",
      "kube-apiserver",
      "kube-controller-manager",
      "kube-scheduler",
    ]);
    const w1 = serviceFiles(d, "worker-1");
    expect(w1["kubelet"]).toEqual([
      "/etc/systemd/system/kubelet.service",
      "/var/lib/kubelet/kubelet-config.yaml",
      "/var/lib/kubernetes/pki/ca.crt",
      "/var/lib/kubelet/kubeconfig",
      "/var/lib/kubernetes/pki/worker-1.crt",
      "/var/lib/kubernetes/pki/worker-1.key",
    ]);
    expect(serviceFiles(d, "worker-2")["kubelet"]).toContain("/var/lib/kubelet/bootstrap-kubeconfig");
    expect(serviceFiles(d, "worker-2")["kubelet"]).not.toContain("/var/lib/kubelet/kubeconfig");
    expect(w1["systemd-sysctl"]).toEqual(["/etc/sysctl.d/k8s.conf"]);
    expect(w1["containerd"]).toEqual([
      "/etc/systemd/system/containerd.service",
      "/etc/containerd/config.toml",
    ]);
    expect(serviceFiles(d, "loadbalancer")).toEqual({
      haproxy: ["/etc/haproxy/haproxy.cfg", "/etc/haproxy/kubernetes-ca.crt"],
    });
  });

  it("every generated file is owned by exactly one service", () => {
    for (const make of Object.values(SPECS)) {
      const c = make();
      for (const n of c.nodes) {
        const owned = Object.values(serviceFiles(c, n.name)).flat();
        for (const f of unitFilesFromCluster(c, { encryptionKey: KEY }).filter((x) => x.host === n.name)) {
          expect(
            owned.filter((p) => p === f.path),
            `${n.name}:${f.path}`,
          ).toHaveLength(1);
        }
      }
    }
  });

  it("the binaries the units run are those binaryArtifacts() installs, for the node's role", () => {
    const c = defaultCluster();
    for (const n of c.nodes) {
      const installed = binaryArtifacts(c)
        .filter((a) => a.roles.includes(n.role))
        .flatMap((a) => Object.values(a.installAs));
      for (const b of binariesForNode(c, n.name)) expect(installed, `${n.name}: ${b}`).toContain(b);
      for (const f of unitFilesFromCluster(c, { encryptionKey: KEY }).filter(
        (x) => x.host === n.name && x.path.endsWith(".service"),
      )) {
        expect(binariesForNode(c, n.name)).toContain(execStartOf(f.contents)[0]);
      }
    }
  });

  it("names an unknown node", () => {
    expect(() => serviceFiles(defaultCluster(), "nope")).toThrow(
      expect.objectContaining({ code: "UNKNOWN_NODE", field: "node" }),
    );
  });
});

describe("docs follow the catalogue", () => {
  it("the README names every generated path, service and binary", async () => {
    const { readFileSync } = await import("node:fs");
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    for (const d of FILE_CATALOGUE)
      expect(readme, d.path).toContain(d.path.split("/").slice(0, -1).join("/"));
    for (const d of FILE_CATALOGUE) expect(readme, d.path).toContain(d.path.split("/").pop()!);
    for (const s of SERVICE_CATALOGUE) expect(readme, s.service).toContain(s.service);
    for (const b of Object.values(BINARY_PATHS)) expect(readme, b).toContain(b.split("/").pop()!);
    for (const v of VERSION_TABLE) expect(readme, v.id).toContain(v.name.split(".").pop()!);
  });

  it("the …FromCluster helpers refuse a node of the wrong role, naming it", () => {
    expect(() => etcdUnitFromCluster(defaultCluster(), "worker-1")).toThrow(
      expect.objectContaining({ code: "UNKNOWN_NODE", field: "node" }),
    );
    expect(() => kubeletUnitFromCluster(defaultCluster(), "master-1")).toThrow(
      /is a controlplane, not a worker/,
    );
  });
});
