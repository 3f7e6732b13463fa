import { ADMIN_HOST, type Cluster, defaultClusterSpecInput, loadCluster } from "@khw/spec";
import jsYaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { Document, parse, parseAllDocuments, Scalar, visit } from "yaml";
import {
  type AddonManifest,
  AddonsError,
  addonFilesFromCluster,
  addonManifestsFromCluster,
  BOOTSTRAP_TOKEN_PATTERN,
  canonicalObject,
  fromBase64,
  type KubeObject,
  renderObjectYaml,
} from "../src/index";
import { schemaErrors } from "./_k8s-schema";
import { defaultCluster, expectGolden, FIXED_TOKEN, unusualCluster } from "./_support";

// biome-ignore lint/suspicious/noExplicitAny: tests reach into objects by path
type Obj = Record<string, any>;

function find(manifests: AddonManifest[], kind: string, name: string): Obj {
  const all = manifests.flatMap((m) => m.objects) as Obj[];
  const o = all.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
}

/** A Secret's data, decoded. */
function decoded(secret: Obj): Record<string, string> {
  return Object.fromEntries(
    Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, fromBase64(v)]),
  );
}

/** Parse a manifest's YAML back, independently of how it was written. */
function parseBack(yaml: string): { jsYaml: unknown[]; yaml11: unknown[]; yaml12: unknown[] } {
  return {
    jsYaml: jsYaml.loadAll(yaml),
    yaml11: parseAllDocuments(yaml, { version: "1.1" }).map((d) => d.toJS()),
    yaml12: parseAllDocuments(yaml).map((d) => d.toJS()),
  };
}

const specs: [string, () => Cluster][] = [
  ["default", defaultCluster],
  ["unusual", unusualCluster],
];

describe.each(specs)("the addons of the %s spec", (label, makeCluster) => {
  const cluster = makeCluster();
  const manifests = addonManifestsFromCluster(cluster, { bootstrapToken: FIXED_TOKEN });

  it("come in apply order with fixed file names", () => {
    expect(manifests.map((m) => m.file)).toEqual([
      "01-tls-bootstrap.yaml",
      "02-apiserver-to-kubelet.yaml",
      "03-weave-net.yaml",
      "04-coredns.yaml",
      "05-smoke-test.yaml",
    ]);
  });

  it("match their golden files", () => {
    for (const m of manifests) expectGolden(`${label}/${m.file}`, m.yaml);
  });

  it("are every one valid against the Kubernetes v1.34.4 OpenAPI schemas, as objects and as parsed YAML", () => {
    for (const m of manifests) {
      for (const o of m.objects)
        expect(schemaErrors(o), `${m.name} ${o.kind} ${o.metadata.name}`).toEqual([]);
      for (const o of parseBack(m.yaml).jsYaml) expect(schemaErrors(o), `${m.name} (parsed)`).toEqual([]);
    }
  });

  it("read back identically with js-yaml, YAML 1.1 and YAML 1.2 parsers", () => {
    for (const m of manifests) {
      const back = parseBack(m.yaml);
      const objects = JSON.parse(JSON.stringify(m.objects));
      expect(back.jsYaml).toEqual(objects);
      expect(back.yaml11).toEqual(objects);
      expect(back.yaml12).toEqual(objects);
    }
  });

  it("write apiVersion, kind, metadata first in every document", () => {
    for (const m of manifests) {
      for (const doc of m.yaml.split(/^---\n/m)) {
        expect(
          doc
            .split("\n")
            .slice(0, 3)
            .map((l) => l.split(":")[0]),
        ).toEqual(["apiVersion", "kind", "metadata"]);
      }
    }
  });

  it("are byte-identical across runs", () => {
    const again = addonManifestsFromCluster(makeCluster(), { bootstrapToken: FIXED_TOKEN });
    expect(again.map((m) => m.yaml)).toEqual(manifests.map((m) => m.yaml));
  });

  it("give kube-dns the spec's DNS IP and CoreDNS the spec's cluster domain and pinned image", () => {
    const svc = find(manifests, "Service", "kube-dns");
    expect(svc.metadata.namespace).toBe("kube-system");
    expect(svc.spec.clusterIP).toBe(cluster.network.dnsServiceIP);
    expect(svc.spec.selector).toEqual(find(manifests, "Deployment", "coredns").spec.selector.matchLabels);
    const corefile: string = find(manifests, "ConfigMap", "coredns").data.Corefile;
    expect(corefile).toContain(`    kubernetes ${cluster.network.clusterDomain} in-addr.arpa ip6.arpa {\n`);
    for (const line of [
      "errors",
      "ready",
      "pods insecure",
      "prometheus :9153",
      "cache 30",
      "loop",
      "reload",
    ]) {
      expect(corefile).toContain(`${line}\n`);
    }
    expect(corefile).toContain("forward . /etc/resolv.conf");
    expect(corefile).toContain("lameduck 5s");
    const dep = find(manifests, "Deployment", "coredns");
    expect(dep.spec.replicas).toBe(2);
    expect(dep.spec.template.spec.containers[0].image).toBe(
      `registry.k8s.io/coredns/coredns:v${cluster.spec.versions.coredns}`,
    );
    expect(dep.spec.template.spec.serviceAccountName).toBe("coredns");
  });

  it("set Weave's IPALLOC_RANGE to the pod CIDR, on the weave container", () => {
    const ds = find(manifests, "DaemonSet", "weave-net");
    const weave = ds.spec.template.spec.containers.find((c: Obj) => c.name === "weave");
    expect(weave.env.filter((e: Obj) => e.name === "IPALLOC_RANGE")).toEqual([
      { name: "IPALLOC_RANGE", value: cluster.network.podCIDR },
    ]);
    const images = [...ds.spec.template.spec.initContainers, ...ds.spec.template.spec.containers].map(
      (c: Obj) => c.image,
    );
    expect(images).toEqual([
      "docker.io/weaveworks/weave-kube:2.8.1",
      "docker.io/weaveworks/weave-kube:2.8.1",
      "docker.io/weaveworks/weave-npc:2.8.1",
    ]);
    expect(ds.spec.template.spec.hostNetwork).toBe(true);
    expect(ds.spec.template.spec.serviceAccountName).toBe("weave-net");
    const weaveKinds = manifests.find((m) => m.name === "weave-net")!.objects.map((o) => o.kind);
    expect(weaveKinds).toEqual([
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "Role",
      "RoleBinding",
      "DaemonSet",
    ]);
  });

  it("bind apiserver→kubelet RBAC to the user of the apiserver's kubelet-client certificate", () => {
    const role = find(manifests, "ClusterRole", "system:kube-apiserver-to-kubelet");
    expect(role.rules).toEqual([
      {
        apiGroups: [""],
        resources: ["nodes/proxy", "nodes/stats", "nodes/log", "nodes/spec", "nodes/metrics"],
        verbs: ["*"],
      },
    ]);
    const crb = find(manifests, "ClusterRoleBinding", "system:kube-apiserver");
    expect(crb.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "system:kube-apiserver-to-kubelet",
    });
    expect(crb.subjects).toEqual([
      { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "kube-apiserver-kubelet-client" },
    ]);
  });

  it("carry the bootstrap token Secret in the right format with its groups, and the three CSR bindings", () => {
    const s = find(manifests, "Secret", `bootstrap-token-${FIXED_TOKEN.id}`);
    expect(s.metadata.namespace).toBe("kube-system");
    expect(s.type).toBe("bootstrap.kubernetes.io/token");
    const d = decoded(s);
    expect(Object.keys(s.data)).toEqual([
      "description",
      "token-id",
      "token-secret",
      "expiration",
      "usage-bootstrap-authentication",
      "usage-bootstrap-signing",
      "auth-extra-groups",
    ]);
    expect(`${d["token-id"]}.${d["token-secret"]}`).toMatch(BOOTSTRAP_TOKEN_PATTERN);
    expect(d["token-id"]).toMatch(/^[a-z0-9]{6}$/);
    expect(d["token-secret"]).toMatch(/^[a-z0-9]{16}$/);
    expect(d.expiration).toBe(FIXED_TOKEN.expiration);
    expect(d["usage-bootstrap-authentication"]).toBe("true");
    expect(d["usage-bootstrap-signing"]).toBe("true");
    expect(d["auth-extra-groups"]).toBe("system:bootstrappers:worker");
    const bindings = manifests
      .find((m) => m.name === "tls-bootstrap")!
      .objects.filter((o) => o.kind !== "Secret");
    expect(
      bindings.map((b: Obj) => [
        b.metadata.name,
        b.roleRef.name,
        b.subjects.map((x: Obj) => `${x.kind}:${x.name}`),
      ]),
    ).toEqual([
      ["create-csrs-for-bootstrapping", "system:node-bootstrapper", ["Group:system:bootstrappers"]],
      [
        "auto-approve-csrs-for-group",
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        ["Group:system:bootstrappers"],
      ],
      [
        "auto-approve-renewals-for-nodes",
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        ["Group:system:nodes"],
      ],
    ]);
  });

  it("have smoke-test objects whose NodePort lies in the spec's range", () => {
    const svc = find(manifests, "Service", "nginx");
    const [lo, hi] = cluster.network.nodePortRange.split("-").map(Number) as [number, number];
    expect(svc.spec.type).toBe("NodePort");
    expect(svc.spec.ports[0].nodePort).toBeGreaterThanOrEqual(lo);
    expect(svc.spec.ports[0].nodePort).toBeLessThanOrEqual(hi);
    expect(svc.spec.selector).toEqual(find(manifests, "Deployment", "nginx").spec.template.metadata.labels);
    expect(find(manifests, "Pod", "busybox").spec.containers[0].image).toBe("docker.io/library/busybox:1.28");
    expect(decoded(find(manifests, "Secret", "kubernetes-the-hard-way"))).toEqual({ mykey: "mydata" });
  });
});

describe("addon files", () => {
  it("go to the admin machine under /manifests, the token's 0600 and secret", () => {
    const files = addonFilesFromCluster(defaultCluster(), { bootstrapToken: FIXED_TOKEN });
    expect(files.map((f) => [f.host, f.path, f.mode.toString(8), f.secret ?? false])).toEqual([
      [ADMIN_HOST, "/manifests/01-tls-bootstrap.yaml", "600", true],
      [ADMIN_HOST, "/manifests/02-apiserver-to-kubelet.yaml", "644", false],
      [ADMIN_HOST, "/manifests/03-weave-net.yaml", "644", false],
      [ADMIN_HOST, "/manifests/04-coredns.yaml", "644", false],
      [ADMIN_HOST, "/manifests/05-smoke-test.yaml", "644", false],
    ]);
  });
});

describe("what the spec's addons switch on and off", () => {
  function variant(
    addons: { podNetwork?: "weave" | "bridge-routes"; dns?: boolean },
    tlsBootstrap = true,
  ): Cluster {
    const input = defaultClusterSpecInput();
    return loadCluster({
      ...input,
      nodes: input.nodes.map((n) => (tlsBootstrap ? n : { ...n, kubelet: undefined })),
      addons: { ...input.addons, ...addons },
    }).cluster;
  }

  it("bridge-routes needs no cluster objects: no Weave manifest", () => {
    const names = addonManifestsFromCluster(variant({ podNetwork: "bridge-routes" }), {
      bootstrapToken: FIXED_TOKEN,
    }).map((m) => m.name);
    expect(names).toEqual(["tls-bootstrap", "apiserver-to-kubelet", "coredns", "smoke-test"]);
  });

  it("dns: false leaves CoreDNS out; smokeTest: false the smoke test", () => {
    const names = addonManifestsFromCluster(variant({ dns: false }), {
      bootstrapToken: FIXED_TOKEN,
      smokeTest: false,
    }).map((m) => m.name);
    expect(names).toEqual(["tls-bootstrap", "apiserver-to-kubelet", "weave-net"]);
  });

  it("without TLS-bootstrapped workers, no token is needed and none is emitted", () => {
    const names = addonManifestsFromCluster(variant({}, false)).map((m) => m.name);
    expect(names).not.toContain("tls-bootstrap");
  });

  it("a TLS-bootstrapped worker without a token is a typed error naming the worker", () => {
    let err: unknown;
    try {
      addonManifestsFromCluster(defaultCluster());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AddonsError);
    expect((err as AddonsError).code).toBe("BOOTSTRAP_TOKEN_REQUIRED");
    expect((err as AddonsError).field).toBe("bootstrapToken");
    expect((err as AddonsError).message).toMatch(/worker-2 joins by TLS bootstrapping/);
    expect((err as AddonsError).hint).toMatch(/generateBootstrapToken/);
  });

  it("a malformed token or expiry is refused with the field named", () => {
    expect(() =>
      addonManifestsFromCluster(defaultCluster(), { bootstrapToken: { ...FIXED_TOKEN, id: "ABCDEF" } }),
    ).toThrow(/^token\.id: 'ABCDEF' is not 6 characters of \[a-z0-9\]/);
    expect(() =>
      addonManifestsFromCluster(defaultCluster(), {
        bootstrapToken: { ...FIXED_TOKEN, expiration: "tomorrow" },
      }),
    ).toThrow(/^expiration: 'tomorrow' is not an RFC 3339 timestamp/);
  });

  it("a smoke-test NodePort outside the range is refused", () => {
    expect(() =>
      addonManifestsFromCluster(defaultCluster(), {
        bootstrapToken: FIXED_TOKEN,
        smokeTest: { nodePort: 8080 },
      }),
    ).toThrow(AddonsError);
  });
});

// Type-level: every object is a KubeObject (the union of kubernetes-types kinds).
const _typecheck: KubeObject[] = addonManifestsFromCluster(defaultCluster(), {
  bootstrapToken: FIXED_TOKEN,
}).flatMap((m) => m.objects);
void _typecheck;

describe("quoting strings a YAML 1.1 or 1.2 parser would read as something else", () => {
  // The reference renderer: every string parsed alone in both versions and double-quoted when either
  // reads a non-string (what renderObjectYaml did for every string, ~150 ms of each gen; it now
  // parses only the strings its plain-word check cannot clear).
  const byParsing = (text: string) => {
    try {
      return typeof parse(text, { version: "1.1" }) !== "string" || typeof parse(text) !== "string";
    } catch {
      return true;
    }
  };
  const reference = (object: KubeObject) => {
    const doc = new Document(canonicalObject(object), { aliasDuplicateObjects: false });
    visit(doc, {
      Scalar(_key, node) {
        if (typeof node.value === "string" && !node.value.includes("\n") && byParsing(node.value))
          node.type = Scalar.QUOTE_DOUBLE;
      },
    });
    return doc.toString({ lineWidth: 0, blockQuote: "literal" });
  };
  const configMap = (value: string): KubeObject =>
    ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { k: value } }) as KubeObject;
  const tricky = [
    ...["y", "Y", "n", "N", "yes", "No", "on", "OFF", "true", "False", "null", "Null", "~", "NULL"],
    ...["0", "0123", "0o17", "0x1F", "0b101", "1_000", "+12", "-12", "1e3", "1.5", ".5", "5.", "1_0.5"],
    ...[".inf", "-.Inf", ".NaN", "190:20:30", "1:20", "2001-12-14", "2001-12-14t21:59:43.10-05:00"],
    ...[
      "...",
      "---",
      "-",
      "- a",
      "a:",
      "a: b",
      "a:b",
      "#x",
      "a #x",
      "[x]",
      "{x}",
      "*x",
      "&x",
      "!x",
      "|",
      ">",
    ],
    ...["%x", "@x", "`x", "'x'", '"x"', "?", "? x", "=", "<<", "a,b", " a", "a ", "", "kube-system", "v1"],
    ...["registry.k8s.io/coredns/coredns:v1.12.1", "10.200.0.0/16", "10.32.0.10", "8080", "/etc/x", "a=b"],
    ...["system:masters", "worker-1", "_x", "+x", "1.2.3", "1.0", "0.0.0.0", "3s", "120s", "x:", "::", "0:0"],
    ...['say "hi": x', "it's", "0x", "0b", "1:2:3.5", "12:30:00", "0:59", "2e", "E5", "1__0", "0o", "._"],
  ];
  it.each(tricky)(
    "%j: rendered as the parsing reference renders it, and read back as the same string",
    (s) => {
      const out = renderObjectYaml(configMap(s));
      expect(out).toBe(reference(configMap(s)));
      expect(parse(out).data.k).toBe(s);
      expect(parse(out, { version: "1.1" }).data.k).toBe(s);
    },
  );
  it("every object of every manifest (weave, flannel, bridge-routes) renders as the parsing reference does", () => {
    let objects = 0;
    for (const podNetwork of ["weave", "flannel", "bridge-routes"] as const) {
      const input = defaultClusterSpecInput();
      const cluster = loadCluster({ ...input, addons: { ...input.addons, podNetwork } }).cluster;
      for (const m of addonManifestsFromCluster(cluster, { bootstrapToken: FIXED_TOKEN }))
        for (const o of m.objects) {
          expect(renderObjectYaml(o)).toBe(reference(o));
          objects++;
        }
    }
    expect(objects).toBeGreaterThan(20);
  });
});
