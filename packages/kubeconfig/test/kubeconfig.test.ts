import { ADMIN_HOST } from "@khw/spec";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  bootstrapTokenKubeconfig,
  certPathKubeconfig,
  embeddedCertKubeconfig,
  KUBECONFIG_CATALOGUE,
  KUBECONFIG_PATHS,
  KubeconfigError,
  kubeconfigFilesFromCluster,
  kubeconfigServiceFiles,
  parseKubeconfig,
  renderKubeconfig,
} from "../src/index";
import { defaultCluster, expectGolden, FAKE, SPECS, singleMasterCluster, unusualCluster } from "./_fixtures";

const find = (files: ReturnType<typeof kubeconfigFilesFromCluster>, host: string, path: string) => {
  const f = files.find((x) => x.host === host && x.path === path);
  if (!f) throw new Error(`no ${host}:${path}`);
  return { file: f, config: parseKubeconfig(f.contents) };
};

describe("kubeconfigFilesFromCluster", () => {
  for (const [name, make] of Object.entries(SPECS)) {
    it(`matches the golden files (${name} spec)`, () => {
      expectGolden(name, kubeconfigFilesFromCluster(make(), FAKE));
    });
    it(`is deterministic (${name} spec)`, () => {
      expect(kubeconfigFilesFromCluster(make(), FAKE)).toEqual(kubeconfigFilesFromCluster(make(), FAKE));
    });
  }

  it("gives every host of the default spec the kubeconfigs of REFERENCE.md", () => {
    const files = kubeconfigFilesFromCluster(defaultCluster(), FAKE);
    const where = files.map((f) => `${f.host}:${f.path}`).sort();
    expect(where).toEqual(
      [
        "admin:/admin.kubeconfig",
        "master-1:/var/lib/kubernetes/admin.kubeconfig",
        "master-1:/var/lib/kubernetes/kube-controller-manager.kubeconfig",
        "master-1:/var/lib/kubernetes/kube-scheduler.kubeconfig",
        "master-2:/var/lib/kubernetes/admin.kubeconfig",
        "master-2:/var/lib/kubernetes/kube-controller-manager.kubeconfig",
        "master-2:/var/lib/kubernetes/kube-scheduler.kubeconfig",
        "worker-1:/var/lib/kube-proxy/kubeconfig",
        "worker-1:/var/lib/kubelet/kubeconfig",
        "worker-2:/var/lib/kube-proxy/kubeconfig",
        "worker-2:/var/lib/kubelet/bootstrap-kubeconfig",
      ].sort(),
    );
    expect(files.some((f) => f.host === "loadbalancer")).toBe(false);
  });

  it("points components at the right server with the right identity", () => {
    const files = kubeconfigFilesFromCluster(defaultCluster(), FAKE);
    const kcm = find(files, "master-1", KUBECONFIG_PATHS.kubeControllerManager).config;
    expect(kcm.clusters[0]).toEqual({
      name: "kubernetes-the-hard-way",
      server: "https://127.0.0.1:6443",
      certificateAuthority: "/var/lib/kubernetes/pki/ca.crt",
    });
    expect(kcm.users[0]).toEqual({
      name: "system:kube-controller-manager",
      clientCertificate: "/var/lib/kubernetes/pki/kube-controller-manager.crt",
      clientKey: "/var/lib/kubernetes/pki/kube-controller-manager.key",
    });
    expect(kcm.contexts).toEqual([
      { name: "default", cluster: "kubernetes-the-hard-way", user: "system:kube-controller-manager" },
    ]);
    expect(kcm.currentContext).toBe("default");

    const proxy = find(files, "worker-2", KUBECONFIG_PATHS.kubeProxy).config;
    expect(proxy.clusters[0]!.server).toBe("https://192.168.56.30:6443");
    expect(proxy.users[0]!.name).toBe("system:kube-proxy");

    const kubelet = find(files, "worker-1", KUBECONFIG_PATHS.kubelet).config;
    expect(kubelet.users[0]).toEqual({
      name: "system:node:worker-1",
      clientCertificate: "/var/lib/kubernetes/pki/worker-1.crt",
      clientKey: "/var/lib/kubernetes/pki/worker-1.key",
    });
    expect(kubelet.clusters[0]!.server).toBe("https://192.168.56.30:6443");

    const boot = find(files, "worker-2", KUBECONFIG_PATHS.kubeletBootstrap);
    expect(boot.config.users[0]).toEqual({ name: "kubelet-bootstrap", token: FAKE.bootstrapToken });
    expect(boot.file.mode).toBe(0o600);
    expect(boot.file.secret).toBe(true);

    const admin = find(files, "master-2", KUBECONFIG_PATHS.admin);
    expect(admin.config.clusters[0]).toEqual({
      name: "kubernetes-the-hard-way",
      server: "https://127.0.0.1:6443",
      certificateAuthorityData: FAKE.caPem,
    });
    expect(admin.config.users[0]).toEqual({
      name: "admin",
      clientCertificateData: FAKE.adminCertPem,
      clientKeyData: FAKE.adminKeyPem,
    });
    expect(admin.file.mode).toBe(0o600);

    const own = find(files, ADMIN_HOST, KUBECONFIG_PATHS.adminMachine).config;
    expect(own.clusters[0]!.server).toBe("https://192.168.56.30:6443");
    expect(own.contexts).toEqual([
      {
        name: "kubernetes-the-hard-way",
        cluster: "kubernetes-the-hard-way",
        user: "admin@kubernetes-the-hard-way",
      },
    ]);
    expect(own.currentContext).toBe("kubernetes-the-hard-way");

    for (const f of files) {
      const secret = f.contents.includes("-data:") || f.contents.includes("token:");
      expect(f.mode, f.path).toBe(secret ? 0o600 : 0o644);
      expect(f.secret === true, f.path).toBe(secret);
    }
  });

  it("uses the spec's name and the load balancer of the unusual spec", () => {
    const files = kubeconfigFilesFromCluster(unusualCluster(), FAKE);
    for (const f of files) expect(parseKubeconfig(f.contents).clusters[0]!.name).toBe("odd-lab");
    expect(find(files, "node-x", KUBECONFIG_PATHS.kubeletBootstrap).config.clusters[0]!.server).toBe(
      "https://127.0.0.30:6443",
    );
    expect(files.filter((f) => f.path === KUBECONFIG_PATHS.kubelet)).toEqual([]);
  });

  it("points workers straight at the only master without a load balancer", () => {
    const files = kubeconfigFilesFromCluster(singleMasterCluster(), FAKE);
    expect(find(files, "solo-w", KUBECONFIG_PATHS.kubelet).config.clusters[0]!.server).toBe(
      "https://127.0.0.11:6443",
    );
    expect(find(files, ADMIN_HOST, KUBECONFIG_PATHS.adminMachine).config.clusters[0]!.server).toBe(
      "https://127.0.0.11:6443",
    );
  });

  it("needs a valid bootstrap token only when a worker bootstraps", () => {
    const { bootstrapToken: _, ...noToken } = FAKE;
    expect(() => kubeconfigFilesFromCluster(singleMasterCluster(), noToken)).not.toThrow();
    const err = (() => {
      try {
        kubeconfigFilesFromCluster(defaultCluster(), noToken);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(KubeconfigError);
    expect(err).toMatchObject({ code: "MISSING_INPUT", field: "bootstrapToken" });
    expect(() =>
      kubeconfigFilesFromCluster(defaultCluster(), { ...FAKE, bootstrapToken: "ABCDEF.0123456789abcdef" }),
    ).toThrow(expect.objectContaining({ code: "INVALID_BOOTSTRAP_TOKEN" }));
  });

  it("rejects text that is not PEM, naming the field", () => {
    expect(() =>
      kubeconfigFilesFromCluster(defaultCluster(), { ...FAKE, adminKeyPem: FAKE.adminCertPem }),
    ).toThrow(expect.objectContaining({ code: "INVALID_PEM", field: "keyPem" }));
    expect(() => kubeconfigFilesFromCluster(defaultCluster(), { ...FAKE, caPem: "" })).toThrow(
      expect.objectContaining({ code: "MISSING_INPUT", field: "caPem" }),
    );
  });

  it("maps services to the kubeconfigs they read", () => {
    expect(kubeconfigServiceFiles()).toEqual({
      "kube-controller-manager": [KUBECONFIG_PATHS.kubeControllerManager],
      "kube-scheduler": [KUBECONFIG_PATHS.kubeScheduler],
      "kube-proxy": [KUBECONFIG_PATHS.kubeProxy],
      kubelet: [KUBECONFIG_PATHS.kubelet, KUBECONFIG_PATHS.kubeletBootstrap],
    });
    expect(new Set(KUBECONFIG_CATALOGUE.map((d) => d.id)).size).toBe(KUBECONFIG_CATALOGUE.length);
  });
});

describe("the variants and the renderer", () => {
  it("renders in a fixed key order, base64 data on one line, and parses back to the same model", () => {
    const cfg = embeddedCertKubeconfig({
      server: "https://10.0.0.1:6443",
      user: "u",
      caPem: FAKE.caPem,
      certPem: FAKE.adminCertPem,
      keyPem: FAKE.adminKeyPem,
    });
    const text = renderKubeconfig(cfg);
    expect(Object.keys(parse(text))).toEqual([
      "apiVersion",
      "kind",
      "clusters",
      "contexts",
      "current-context",
      "preferences",
      "users",
    ]);
    expect(text).toContain(`certificate-authority-data: ${Buffer.from(FAKE.caPem).toString("base64")}\n`);
    expect(parseKubeconfig(text)).toEqual(cfg);
    const p = certPathKubeconfig({
      server: "https://h:6443",
      user: "x",
      caPath: "/ca",
      certPath: "/c",
      keyPath: "/k",
      clusterName: "n",
      contextName: "ctx",
    });
    expect(parseKubeconfig(renderKubeconfig(p))).toEqual(p);
    const t = bootstrapTokenKubeconfig({
      server: "https://h:6443",
      caPath: "/ca",
      token: FAKE.bootstrapToken,
    });
    expect(parseKubeconfig(renderKubeconfig(t))).toEqual(t);
  });

  it("normalises PEM whitespace so equal keys render equally", () => {
    const a = embeddedCertKubeconfig({
      server: "https://h:6443",
      user: "u",
      caPem: `\n${FAKE.caPem}\n\n`,
      certPem: FAKE.adminCertPem,
      keyPem: FAKE.adminKeyPem.trimEnd(),
    });
    const b = embeddedCertKubeconfig({
      server: "https://h:6443",
      user: "u",
      caPem: FAKE.caPem,
      certPem: FAKE.adminCertPem,
      keyPem: FAKE.adminKeyPem,
    });
    expect(renderKubeconfig(a)).toBe(renderKubeconfig(b));
  });

  it("rejects relative paths and non-https servers", () => {
    expect(() =>
      certPathKubeconfig({
        server: "https://h:6443",
        user: "x",
        caPath: "ca.crt",
        certPath: "/c",
        keyPath: "/k",
      }),
    ).toThrow(expect.objectContaining({ field: "caPath" }));
    expect(() =>
      certPathKubeconfig({
        server: "http://h:6443",
        user: "x",
        caPath: "/ca",
        certPath: "/c",
        keyPath: "/k",
      }),
    ).toThrow(expect.objectContaining({ field: "server" }));
  });

  it("reports bad kubeconfig text with the field", () => {
    expect(() => parseKubeconfig("clusters: {}")).toThrow(
      expect.objectContaining({ code: "INVALID_KUBECONFIG", field: "clusters" }),
    );
    expect(() => parseKubeconfig("users:\n- user: {}\n")).toThrow(
      expect.objectContaining({ field: "users[0].name" }),
    );
    expect(() =>
      parseKubeconfig(
        "clusters:\n- name: a\n  cluster: {server: 'https://x', certificate-authority-data: 'not base64!'}\n",
      ),
    ).toThrow(expect.objectContaining({ field: "clusters[0].cluster.certificate-authority-data" }));
    expect(() => parseKubeconfig(": : :\n- [")).toThrow(
      expect.objectContaining({ code: "INVALID_KUBECONFIG" }),
    );
  });
});
