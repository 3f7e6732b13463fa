import { type Cluster, defaultClusterSpecInput, loadCluster } from "@khw/spec";
import jsYaml from "js-yaml";
import { describe, expect, it } from "vitest";
import {
  addonManifestsFromCluster,
  FLANNEL_CNI_PLUGIN_IMAGE,
  FLANNEL_IMAGE,
  flannelObjects,
  type KubeObject,
} from "../src/index";
import { schemaErrors } from "./_k8s-schema";
import { defaultCluster, expectGolden, FIXED_TOKEN, unusualCluster } from "./_support";

// biome-ignore lint/suspicious/noExplicitAny: tests reach into objects by path
type Obj = Record<string, any>;

function withFlannel(cluster: Cluster, images: Record<string, unknown> = {}): Cluster {
  const spec = cluster.spec;
  return loadCluster({
    ...spec,
    addons: { ...spec.addons, podNetwork: "flannel", images: { ...spec.addons.images, ...images } },
  }).cluster;
}

/** The default spec with Flannel (upstream images); the unusual one as the lab runs it (plugin from the CNI archive, local images). */
const specs: [string, () => Cluster][] = [
  ["default", () => withFlannel(defaultCluster())],
  [
    "unusual",
    () =>
      withFlannel(unusualCluster(), {
        flannel: "khw.lab/flannel:v0.28.10",
        flannelCniPlugin: null,
      }),
  ],
];

const byKind = (objects: KubeObject[], kind: string) => objects.find((o) => o.kind === kind) as Obj;

describe.each(specs)("Flannel of the %s spec", (label, makeCluster) => {
  const cluster = makeCluster();
  const manifests = addonManifestsFromCluster(cluster, { bootstrapToken: FIXED_TOKEN });
  const flannel = manifests.find((m) => m.name === "flannel")!;
  const ds = byKind(flannel.objects, "DaemonSet");
  const pod = ds.spec.template.spec;
  const cm = byKind(flannel.objects, "ConfigMap");

  it("replaces Weave at 03 and matches its golden file", () => {
    expect(manifests.map((m) => m.file)).toContain("03-flannel.yaml");
    expect(manifests.map((m) => m.name)).not.toContain("weave-net");
    expectGolden(`${label}/03-flannel.yaml`, flannel.yaml);
  });

  it("is valid against the Kubernetes v1.34.4 OpenAPI schemas, as objects and as parsed YAML", () => {
    for (const o of flannel.objects) expect(schemaErrors(o), `${o.kind} ${o.metadata.name}`).toEqual([]);
    for (const o of jsYaml.loadAll(flannel.yaml)) expect(schemaErrors(o)).toEqual([]);
    expect(jsYaml.loadAll(flannel.yaml)).toEqual(JSON.parse(JSON.stringify(flannel.objects)));
  });

  it("creates the namespace first, then RBAC with exactly flannel's rules, bound to its ServiceAccount", () => {
    expect(flannel.objects.map((o) => o.kind)).toEqual([
      "Namespace",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "ConfigMap",
      "DaemonSet",
    ]);
    expect(flannel.objects[0]!.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    expect(byKind(flannel.objects, "ClusterRole").rules).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch"] },
    ]);
    expect(byKind(flannel.objects, "ClusterRoleBinding").subjects).toEqual([
      { kind: "ServiceAccount", name: "flannel", namespace: "kube-flannel" },
    ]);
    for (const o of flannel.objects.slice(1))
      expect(o.metadata.namespace ?? "kube-flannel").toBe("kube-flannel");
    expect(pod.serviceAccountName).toBe("flannel");
  });

  it("gives flanneld the pod CIDR (= the controller-manager's --cluster-cidr) and the vxlan backend", () => {
    const net = JSON.parse(cm.data["net-conf.json"]);
    expect(net).toEqual({
      Network: cluster.network.podCIDR,
      EnableNFTables: false,
      Backend: { Type: "vxlan" },
    });
    const cni = JSON.parse(cm.data["cni-conf.json"]);
    expect(cni.plugins.map((p: Obj) => p.type)).toEqual(["flannel", "portmap"]);
    const flanneld = pod.containers[0];
    expect(flanneld.command).toEqual(["/opt/bin/flanneld"]);
    expect(flanneld.args).toEqual(expect.arrayContaining(["--ip-masq", "--kube-subnet-mgr"]));
    expect(flanneld.securityContext.capabilities.add).toEqual(["NET_ADMIN", "NET_RAW"]);
    expect(pod.hostNetwork).toBe(true);
    expect(pod.volumes.find((v: Obj) => v.name === "run").hostPath.path).toBe("/run/flannel");
  });

  it("installs the CNI config with install-conf, and the plugin from its image unless the CNI archive has it", () => {
    const init = pod.initContainers as Obj[];
    const conf = init.find((c) => c.name === "install-cni")!;
    expect([...conf.command, ...conf.args]).toEqual([
      "/opt/bin/install-conf",
      "/etc/kube-flannel/cni-conf.json",
      "/etc/cni/net.d/10-flannel.conflist",
    ]);
    const cniVersion = JSON.parse(cm.data["cni-conf.json"]).cniVersion;
    const plugin = init.find((c) => c.name === "install-cni-plugin");
    if (cluster.spec.addons.images.flannelCniPlugin === null) {
      expect(plugin).toBeUndefined();
      expect(pod.volumes.map((v: Obj) => v.name)).not.toContain("cni-plugin");
      expect(cniVersion).toBe("0.4.0");
    } else {
      expect(plugin!.image).toBe(cluster.spec.addons.images.flannelCniPlugin);
      expect([...plugin!.command, ...plugin!.args]).toEqual(["cp", "-f", "/flannel", "/opt/cni/bin/flannel"]);
      expect(cniVersion).toBe("1.0.0");
    }
    const images = new Set([...init, ...pod.containers].map((c: Obj) => c.image));
    images.delete(cluster.spec.addons.images.flannelCniPlugin);
    expect([...images]).toEqual([cluster.spec.addons.images.flannel]);
  });
});

describe("flannelObjects", () => {
  it("defaults to the upstream images", () => {
    const ds = flannelObjects({ podCIDR: "10.244.0.0/16" }).find((o) => o.kind === "DaemonSet") as Obj;
    const images = [...ds.spec.template.spec.initContainers, ...ds.spec.template.spec.containers].map(
      (c: Obj) => c.image,
    );
    expect(images).toEqual([FLANNEL_CNI_PLUGIN_IMAGE, FLANNEL_IMAGE, FLANNEL_IMAGE]);
    expect(defaultClusterSpecInput().addons?.podNetwork).toBe("weave");
  });

  it("refuses a pod CIDR that is not one, naming the field", () => {
    expect(() => flannelObjects({ podCIDR: "10.244.0.0" })).toThrow(
      /^podCIDR: '10.244.0.0' is not an IPv4 CIDR/,
    );
  });

  it("the smoke test uses the spec's nginx and busybox images", () => {
    const c = withFlannel(defaultCluster(), {
      nginx: "khw.lab/nginx:1.22.1-9",
      busybox: "khw.lab/busybox:1.35.0-4",
    });
    const smoke = addonManifestsFromCluster(c, { bootstrapToken: FIXED_TOKEN }).find(
      (m) => m.name === "smoke-test",
    )!;
    const images = smoke.objects.flatMap((o: Obj) =>
      (o.spec?.template?.spec?.containers ?? o.spec?.containers ?? []).map((x: Obj) => x.image),
    );
    expect(images).toEqual(["khw.lab/nginx:1.22.1-9", "khw.lab/busybox:1.35.0-4"]);
  });
});
