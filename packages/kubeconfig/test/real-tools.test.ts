// The generated kubeconfigs checked by the real consumers: kubectl 1.32 (/usr/bin/kubectl) and
// @kubernetes/client-node, with real certificates from the openssl CLI.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster, GeneratedFile } from "@khw/spec";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CA_PATH, kubeconfigFilesFromCluster, mergeKubeconfig, PKI_DIR, parseKubeconfig } from "../src/index";
import { defaultCluster, singleMasterCluster, unusualCluster } from "./_fixtures";
import { makePki } from "./_openssl";

const KUBECTL = "/usr/bin/kubectl";
let dir: string;
let pems: ReturnType<typeof makePki>;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "khw-kubeconfig-"));
  const client = (name: string, cn: string, o?: string) => ({
    name,
    cn,
    ...(o ? { o } : {}),
    usages: ["clientAuth" as const],
  });
  pems = makePki(join(dir, "pki"), [
    client("admin", "admin", "system:masters"),
    client("kube-controller-manager", "system:kube-controller-manager", "system:kube-controller-manager"),
    client("kube-scheduler", "system:kube-scheduler", "system:kube-scheduler"),
    client("kube-proxy", "system:kube-proxy", "system:node-proxier"),
    ...["worker-1", "solo-w"].map((w) => ({
      name: w,
      cn: `system:node:${w}`,
      o: "system:nodes",
      usages: ["clientAuth" as const, "serverAuth" as const],
      sans: [`DNS:${w}`],
    })),
  ]);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const secretsFor = () => ({
  caPem: pems["ca"]!.cert,
  adminCertPem: pems["admin"]!.cert,
  adminKeyPem: pems["admin"]!.key,
  bootstrapToken: "07401b.f395accd246ae52d",
});

function write(text: string): string {
  const p = join(dir, `k${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

function kubectl(args: string[]) {
  const r = spawnSync(KUBECTL, args, { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Talks to a closed port: TLS material is loaded first, so only a clean "refused" proves it loaded. */
function loadsTls(file: string) {
  const r = kubectl([
    "--kubeconfig",
    file,
    "--server",
    "https://127.0.0.1:1",
    "get",
    "--raw",
    "/version",
    "--request-timeout=2s",
  ]);
  return {
    clean:
      r.stderr.trim() ===
      "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?",
    ...r,
  };
}

const clusters: [string, () => Cluster][] = [
  ["default", defaultCluster],
  ["unusual", unusualCluster],
  ["single master", singleMasterCluster],
];

describe.each(clusters)("%s spec, every kubeconfig", (_name, make) => {
  let files: GeneratedFile[];
  beforeAll(() => {
    files = kubeconfigFilesFromCluster(make(), secretsFor());
  });

  it("kubectl config view agrees field by field with what was generated", () => {
    for (const f of files) {
      const r = kubectl(["--kubeconfig", write(f.contents), "config", "view", "--raw", "-o", "json"]);
      expect(r.status, `${f.host}:${f.path} ${r.stderr}`).toBe(0);
      const seen = JSON.parse(r.stdout);
      expect(seen, `${f.host}:${f.path}`).toEqual(parse(f.contents));
      const model = parseKubeconfig(f.contents);
      expect(seen.clusters[0].cluster.server).toBe(model.clusters[0]!.server);
      expect(seen["current-context"]).toBe(model.currentContext);
      if (model.users[0]!.clientKeyData) {
        expect(Buffer.from(seen.users[0].user["client-key-data"], "base64").toString()).toBe(
          secretsFor().adminKeyPem,
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

  it("kubectl loads the TLS material of each one (paths rewritten to the test PKI)", () => {
    for (const f of files) {
      const text = f.contents.replaceAll(`${PKI_DIR}/`, `${join(dir, "pki")}/`);
      if (f.contents.includes(CA_PATH)) expect(text).not.toContain(PKI_DIR);
      const r = loadsTls(write(text));
      expect(r.clean, `${f.host}:${f.path}: ${r.stderr}`).toBe(true);
    }
  });
});

describe("the checks can fail", () => {
  it("kubectl notices a key that does not match the certificate", () => {
    const bad = { ...secretsFor(), adminKeyPem: pems["kube-proxy"]!.key };
    const f = kubeconfigFilesFromCluster(singleMasterCluster(), bad).find(
      (x) => x.path === "/admin.kubeconfig",
    )!;
    const r = loadsTls(write(f.contents));
    expect(r.clean).toBe(false);
    expect(r.stderr).toContain("private key does not match public key");
  });

  it("kubectl notices a path-based key that does not match", () => {
    const f = kubeconfigFilesFromCluster(singleMasterCluster(), secretsFor()).find(
      (x) => x.path === "/var/lib/kube-proxy/kubeconfig",
    )!;
    const text = f.contents
      .replaceAll(`${PKI_DIR}/`, `${join(dir, "pki")}/`)
      .replace("kube-proxy.key", "admin.key");
    expect(loadsTls(write(text)).clean).toBe(false);
  });
});

describe("merge, read back by kubectl", () => {
  it("kubectl sees every existing context plus ours, and can switch to each", () => {
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
    const own = kubeconfigFilesFromCluster(unusualCluster(), secretsFor()).find(
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
    expect(loadsTls(merged).clean).toBe(true);
  });
});
