import { ADMIN_HOST, type Cluster, type GeneratedFile } from "@khw/spec/core";
import { apiserverToKubeletObjects } from "./apiserver-to-kubelet";
import { type BootstrapToken, tlsBootstrapObjects } from "./bootstrap-token";
import { corednsObjects } from "./coredns";
import { AddonsError } from "./errors";
import { flannelObjects } from "./flannel";
import type { KubeObject } from "./objects";
import { renderObjectsYaml } from "./render-yaml";
import { type SmokeTestInput, smokeTestObjects } from "./smoke-test";
import { weaveNetObjects } from "./weave-net";

/** The addons in the order they are applied; the number is fixed per addon, so file names never shift. */
export const ADDONS = [
  {
    number: 1,
    name: "tls-bootstrap",
    description: "bootstrap token Secret and the three CSR bindings (before TLS-bootstrapped kubelets start)",
  },
  {
    number: 2,
    name: "apiserver-to-kubelet",
    description: "RBAC: the apiserver may reach kubelets (logs, exec, port-forward)",
  },
  { number: 3, name: "weave-net", description: "pod network: Weave Net with IPALLOC_RANGE = the pod CIDR" },
  // the other pod network at the same number: a cluster has one of them
  {
    number: 3,
    name: "flannel",
    description: "pod network: Flannel (vxlan, kube-subnet-mgr) with Network = the pod CIDR",
  },
  { number: 4, name: "coredns", description: "cluster DNS: CoreDNS and the kube-dns Service" },
  {
    number: 5,
    name: "smoke-test",
    description: "smoke test: a Secret, nginx Deployment and NodePort Service, a busybox pod",
  },
] as const;

export type AddonName = (typeof ADDONS)[number]["name"];

export interface AddonManifest {
  name: AddonName;
  /** `01-tls-bootstrap.yaml` */
  file: string;
  description: string;
  objects: KubeObject[];
  /** The objects as multi-document YAML. */
  yaml: string;
  /** True when it holds a credential (the bootstrap token). */
  secret: boolean;
}

export interface AddonOptions {
  /**
   * The bootstrap token and when it expires (from the caller's clock). Required when a worker uses
   * TLS bootstrapping; the caller keeps it across runs (the worker's bootstrap kubeconfig carries it too).
   */
  bootstrapToken?: BootstrapToken & { expiration: string | Date };
  /** Smoke-test overrides; `false` leaves the smoke-test objects out. */
  smokeTest?: Partial<SmokeTestInput> | false;
}

/** 30080 when the cluster's node port range has it, else the range's first port. */
export function defaultSmokeTestNodePort(nodePortRange: string): number {
  const [lo, hi] = nodePortRange.split("-").map(Number) as [number, number];
  return lo <= 30080 && 30080 <= hi ? 30080 : lo;
}

function manifest(name: AddonName, objects: KubeObject[], secret = false): AddonManifest {
  const a = ADDONS.find((x) => x.name === name)!;
  return {
    name,
    file: `${String(a.number).padStart(2, "0")}-${name}.yaml`,
    description: a.description,
    objects,
    yaml: renderObjectsYaml(objects),
    secret,
  };
}

/**
 * Every cluster object of a cluster, grouped per addon in apply order:
 * tls-bootstrap (when a worker uses it, or a token is given), apiserver-to-kubelet, weave-net or flannel
 * (per `addons.podNetwork`; `bridge-routes` needs no objects: its CNI config and routes are host
 * files), coredns (when `addons.dns`), smoke-test (with `addons.images`' nginx and busybox).
 */
export function addonManifestsFromCluster(cluster: Cluster, options: AddonOptions = {}): AddonManifest[] {
  const out: AddonManifest[] = [];
  const needsToken = cluster.workers.some((w) => w.kubeletCredentials === "tls-bootstrap");
  if (options.bootstrapToken) {
    const { expiration, id, secret } = options.bootstrapToken;
    out.push(manifest("tls-bootstrap", tlsBootstrapObjects({ token: { id, secret }, expiration }), true));
  } else if (needsToken) {
    const who = cluster.workers.filter((w) => w.kubeletCredentials === "tls-bootstrap").map((w) => w.name);
    throw new AddonsError(
      "BOOTSTRAP_TOKEN_REQUIRED",
      "bootstrapToken",
      `${who.join(", ")} join${who.length === 1 ? "s" : ""} by TLS bootstrapping, which needs a bootstrap token`,
      "pass { bootstrapToken: { ...generateBootstrapToken(crypto.randomBytes), expiration } } and keep it",
    );
  }
  out.push(manifest("apiserver-to-kubelet", apiserverToKubeletObjects()));
  const { versions, addons } = cluster.spec;
  if (addons.podNetwork === "weave") {
    out.push(
      manifest("weave-net", weaveNetObjects({ version: versions.weave, podCIDR: cluster.network.podCIDR })),
    );
  }
  if (addons.podNetwork === "flannel") {
    out.push(
      manifest(
        "flannel",
        flannelObjects({
          podCIDR: cluster.network.podCIDR,
          image: addons.images.flannel,
          cniPluginImage: addons.images.flannelCniPlugin,
        }),
      ),
    );
  }
  if (addons.dns) {
    out.push(
      manifest(
        "coredns",
        corednsObjects({
          version: versions.coredns,
          dnsServiceIP: cluster.network.dnsServiceIP,
          clusterDomain: cluster.network.clusterDomain,
        }),
      ),
    );
  }
  if (options.smokeTest !== false) {
    const range = cluster.network.nodePortRange;
    const nodePort = options.smokeTest?.nodePort ?? defaultSmokeTestNodePort(range);
    const [lo, hi] = range.split("-").map(Number) as [number, number];
    if (!(lo <= nodePort && nodePort <= hi)) {
      throw new AddonsError(
        "INVALID_INPUT",
        "smokeTest.nodePort",
        `${nodePort} is outside the cluster's node port range ${range}`,
        `pick a port in ${range}`,
      );
    }
    const images = { nginxImage: addons.images.nginx, busyboxImage: addons.images.busybox };
    out.push(manifest("smoke-test", smokeTestObjects({ ...images, ...options.smokeTest, nodePort })));
  }
  return out;
}

/** Where the manifests go on the admin machine. */
export const MANIFESTS_DIR = "/manifests";

/**
 * The manifests as files of the admin machine: `/manifests/<nn>-<name>.yaml`, 0644, the
 * bootstrap token's 0600 and marked secret.
 */
export function addonFilesFromCluster(cluster: Cluster, options: AddonOptions = {}): GeneratedFile[] {
  return addonManifestsFromCluster(cluster, options).map((m) => ({
    host: ADMIN_HOST,
    path: `${MANIFESTS_DIR}/${m.file}`,
    mode: m.secret ? 0o600 : 0o644,
    contents: m.yaml,
    ...(m.secret ? { secret: true } : {}),
  }));
}
