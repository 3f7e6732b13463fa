// The generated kubeconfigs checked by the real consumers: kubectl v1.34.4 (the bundle's, pinnedBinaries) and
// @kubernetes/client-node, with the real certificates @khw/pki issues for the same spec.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { catalogueFromCluster, issuePki, type PkiMaterial, pkiFilesFromCluster } from "@khw/pki";
import type { Cluster, GeneratedFile } from "@khw/spec";
import { kubectlLoadsTls } from "@khw/test-kit/kubectl";
import { pinnedBinaries, prerequisiteSkip } from "@khw/test-kit/pinned";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  CA_PATH,
  type KubeconfigSecrets,
  kubeconfigFilesFromCluster,
  mergeKubeconfig,
  PKI_DIR,
  parseKubeconfig,
} from "../src/index";
import { defaultCluster, singleMasterCluster, unusualCluster } from "./_fixtures";

// kubectl v1.34.4 from the bundle (@khw/bundle's pinnedBinaries), never a machine's own; in CI a missing one fails.
const pinned = pinnedBinaries();
prerequisiteSkip(pinned.missing);
const KUBECTL = pinned.kubectl;
let dir: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "khw-kubeconfig-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Pki {
  secrets: KubeconfigSecrets;
  material: PkiMaterial;
  /** Where each host's certificate files were written: <root>/<host>/<path>. */
  root: string;
}

const issued = new Map<string, Promise<Pki>>();

/**
 * Issues the cluster's PKI with @khw/pki (ECDSA P-256 for speed: the kubeconfigs do not depend on the key
 * type) and writes every host's certificate files under a directory. Once per cluster.
 */
function pkiFor(cluster: Cluster): Promise<Pki> {
  if (!issued.has(cluster.name)) issued.set(cluster.name, issuePkiFor(cluster));
  return issued.get(cluster.name)!;
}

async function issuePkiFor(cluster: Cluster): Promise<Pki> {
  const ecdsa = {
    ...cluster,
    spec: { ...cluster.spec, pki: { ...cluster.spec.pki, keyAlgorithm: "ecdsa-p256" as const } },
  };
  const catalogue = catalogueFromCluster(ecdsa);
  const material = await issuePki({ catalogue, now: new Date() });
  const root = join(dir, `pki-${cluster.name}`);
  for (const f of pkiFilesFromCluster(cluster, catalogue, material)) {
    const dest = join(root, f.host, f.path);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, f.contents);
  }
  return {
    material,
    root,
    secrets: {
      caPem: material["ca"]!.cert,
      adminCertPem: material["admin"]!.cert,
      adminKeyPem: material["admin"]!.key,
      bootstrapToken: "07401b.f395accd246ae52d",
    },
  };
}

/** A generated kubeconfig with the node's certificate paths pointing at that node's files from @khw/pki. */
const relocate = (p: Pki, f: GeneratedFile) =>
  f.contents.replaceAll(`${PKI_DIR}/`, `${join(p.root, f.host, PKI_DIR)}/`);

function write(text: string): string {
  const p = join(dir, `k${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

function kubectl(args: string[]) {
  const r = spawnSync(KUBECTL, args, { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * kubectl against a stand-in apiserver on 127.0.0.1 serving the cluster's kube-apiserver certificate and
 * verifying client certificates with the cluster CA: `clean` only when kubectl trusted it through the CA
 * and presented its certificate and key (or token) in a completed handshake.
 */
const loadsTls = (file: string, p: Pki) =>
  kubectlLoadsTls(KUBECTL, file, {
    caPem: p.material["ca"]!.cert,
    certPem: p.material["kube-apiserver"]!.cert,
    keyPem: p.material["kube-apiserver"]!.key,
  });

const clusters: [string, () => Cluster][] = [
  ["default", defaultCluster],
  ["unusual", unusualCluster],
  ["single master", singleMasterCluster],
];

describe.each(clusters)("%s spec, every kubeconfig", (_name, make) => {
  let files: GeneratedFile[];
  let pki: Pki;
  beforeAll(async () => {
    pki = await pkiFor(make());
    files = kubeconfigFilesFromCluster(make(), pki.secrets);
  });

  it("kubectl config view agrees field by field with what was generated", () => {
    for (const f of files) {
      const r = kubectl(["--kubeconfig", write(f.contents), "config", "view", "--raw", "-o", "json"]);
      expect(r.status, `${f.host}:${f.path} ${r.stderr}`).toBe(0);
      const seen = JSON.parse(r.stdout);
      // kubectl 1.34 leaves an empty `preferences: {}` out of what it prints
      const { preferences, ...generated } = parse(f.contents);
      expect(preferences).toEqual({});
      expect(seen, `${f.host}:${f.path}`).toEqual(generated);
      const model = parseKubeconfig(f.contents);
      expect(seen.clusters[0].cluster.server).toBe(model.clusters[0]!.server);
      expect(seen["current-context"]).toBe(model.currentContext);
      if (model.users[0]!.clientKeyData) {
        expect(Buffer.from(seen.users[0].user["client-key-data"], "base64").toString()).toBe(
          pki.secrets.adminKeyPem,
        );
      }
    }
  });

  it("@kubernetes/client-node loads each one and sees the same cluster and user", () => {
    for (const f of files) {
      const model = parseKubeconfig(f.contents);
      const kc = new KubeConfig();
      kc.loadFromString(f.contents);
      expect(kc.getCurrentContext()).toBe(model.currentContext);
      const c = kc.getCurrentCluster()!;
      expect(c.server).toBe(model.clusters[0]!.server);
      expect(c.caFile ?? c.caData).toBe(
        model.clusters[0]!.certificateAuthority ??
          Buffer.from(model.clusters[0]!.certificateAuthorityData!).toString("base64"),
      );
      const u = kc.getCurrentUser()!;
      expect(u.name).toBe(model.users[0]!.name);
      expect(u.token).toBe(model.users[0]!.token);
      expect(u.certFile).toBe(model.users[0]!.clientCertificate);
      expect(u.keyFile).toBe(model.users[0]!.clientKey);
    }
  });

  it("kubectl loads the TLS material of each one (paths rewritten to that host's files from @khw/pki)", async () => {
    for (const f of files) {
      const text = relocate(pki, f);
      if (f.contents.includes(CA_PATH)) expect(text).not.toContain(`: ${PKI_DIR}/`);
      const r = await loadsTls(write(text), pki);
      expect(r.clean, `${f.host}:${f.path}: ${r.stderr}`).toBe(true);
      // the server saw the kubeconfig's own credential: its user's certificate, or its token
      const user = parseKubeconfig(f.contents).users[0]!;
      const seen = r.requests.map((x) => x.clientCN ?? (x.bearerToken ? "<token>" : "<none>"));
      // embedded: the admin certificate; by path: the node's own certificate, whose CN is the user's name
      const expected =
        user.token !== undefined ? "<token>" : user.clientCertificateData !== undefined ? "admin" : user.name;
      expect(seen, `${f.host}:${f.path}`).toEqual([expected]);
    }
  });
});

describe("the checks can fail", () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await pkiFor(singleMasterCluster());
  });

  it("kubectl notices an embedded key that does not match the certificate", async () => {
    const bad = { ...pki.secrets, adminKeyPem: pki.material["kube-proxy"]!.key };
    const f = kubeconfigFilesFromCluster(singleMasterCluster(), bad).find(
      (x) => x.path === "/admin.kubeconfig",
    )!;
    const r = await loadsTls(write(f.contents), pki);
    expect(r.clean).toBe(false);
    expect(r.stderr).toContain("private key does not match public key");
    expect(r.requests).toEqual([]);
  });

  it("kubectl notices a path-based key that does not match", async () => {
    const f = kubeconfigFilesFromCluster(singleMasterCluster(), pki.secrets).find(
      (x) => x.path === "/var/lib/kube-proxy/kubeconfig",
    )!;
    const text = relocate(pki, f).replace("kube-proxy.key", "solo-w.key");
    expect(text).not.toBe(relocate(pki, f));
    const r = await loadsTls(write(text), pki);
    expect(r.clean).toBe(false);
    expect(r.stderr).toContain("private key does not match public key");
    expect(r.requests).toEqual([]);
  });
});

describe("the stand-in apiserver's checks can fail", () => {
  let solo: Pki;
  let other: Pki;
  beforeAll(async () => {
    solo = await pkiFor(singleMasterCluster());
    other = await pkiFor(defaultCluster());
  });
  const adminKubeconfig = (secrets: KubeconfigSecrets) =>
    kubeconfigFilesFromCluster(singleMasterCluster(), secrets).find((x) => x.path === "/admin.kubeconfig")!;

  it("a client certificate another CA signed is presented, and refused", async () => {
    const f = adminKubeconfig({
      ...solo.secrets,
      adminCertPem: other.secrets.adminCertPem,
      adminKeyPem: other.secrets.adminKeyPem,
    });
    const r = await loadsTls(write(f.contents), solo);
    expect(r.clean).toBe(false);
    expect(r.requests).toMatchObject([{ clientCN: "admin", authenticated: false }]);
    expect(r.requests[0]!.certificateError).toBeTruthy();
  });

  it("a kubeconfig that trusts another CA does not trust the server", async () => {
    const f = adminKubeconfig({ ...solo.secrets, caPem: other.secrets.caPem });
    const r = await loadsTls(write(f.contents), solo);
    expect(r.clean).toBe(false);
    expect(r.stderr).toContain("certificate signed by unknown authority");
    expect(r.requests).toEqual([]);
  });
});

describe("merge, read back by kubectl", () => {
  it("kubectl sees every existing context plus ours, and can switch to each", async () => {
    const existing = `apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: "https://10.1.2.3:6443", insecure-skip-tls-verify: true}
contexts:
- name: other
  context: {cluster: other, user: other-user, namespace: ns1}
current-context: other
users:
- name: other-user
  user: {token: t0k3n}
`;
    const own = kubeconfigFilesFromCluster(unusualCluster(), (await pkiFor(unusualCluster())).secrets).find(
      (x) => x.path === "/admin.kubeconfig",
    )!;
    const merged = write(mergeKubeconfig(existing, parseKubeconfig(own.contents)).yaml);
    const names = kubectl(["--kubeconfig", merged, "config", "get-contexts", "-o", "name"]);
    expect(names.stdout.trim().split("\n").sort()).toEqual(["odd-lab", "other"]);
    const view = JSON.parse(
      kubectl(["--kubeconfig", merged, "config", "view", "--raw", "-o", "json"]).stdout,
    );
    expect(view["current-context"]).toBe("odd-lab");
    expect(view.users).toContainEqual({ name: "other-user", user: { token: "t0k3n" } });
    expect(view.clusters).toContainEqual({
      name: "other",
      cluster: { server: "https://10.1.2.3:6443", "insecure-skip-tls-verify": true },
    });
    expect(view.contexts).toContainEqual({
      name: "other",
      context: { cluster: "other", user: "other-user", namespace: "ns1" },
    });
    const other = kubectl([
      "--kubeconfig",
      merged,
      "--context",
      "other",
      "config",
      "view",
      "--minify",
      "-o",
      "jsonpath={.clusters[0].cluster.server}",
    ]);
    expect(other.stdout).toBe("https://10.1.2.3:6443");
    const probe = await loadsTls(merged, await pkiFor(unusualCluster()));
    expect(probe.clean, probe.stderr).toBe(true);
    expect(probe.requests.map((x) => x.clientCN)).toEqual(["admin"]);
  });
});
