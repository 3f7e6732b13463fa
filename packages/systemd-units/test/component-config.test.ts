// The component configs decoded strictly into the official Go types (k8s.io/kubelet, k8s.io/kube-proxy,
// k8s.io/kube-scheduler, k8s.io/apiserver at v0.34.4), case-sensitively like the components' own decoders.
// The small validator in test/go-validate is built with the machine's Go (modules from the Go module proxy;
// the first build on a fresh machine takes minutes, later ones seconds).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GeneratedFile } from "@khw/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PATHS, unitFilesFromCluster } from "../src/index";
import { KEY, SPECS } from "./_fixtures";

const KINDS: Record<string, string> = {
  [PATHS.kubeletConfig]: "KubeletConfiguration",
  [PATHS.kubeProxyConfig]: "KubeProxyConfiguration",
  [PATHS.kubeSchedulerConfig]: "KubeSchedulerConfiguration",
  [PATHS.encryptionConfig]: "EncryptionConfiguration",
};

let dir: string;
let validator: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "khw-go-validate-"));
  validator = join(dir, "validate");
  const r = spawnSync("go", ["build", "-o", validator, "."], {
    cwd: join(import.meta.dirname, "go-validate"),
    encoding: "utf8",
    timeout: 900_000,
  });
  if (r.status !== 0) throw new Error(`building the Go validator failed: ${r.error ?? ""}${r.stderr}`);
}, 900_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function validate(files: { kind: string; contents: string }[]) {
  const args = files.flatMap((f) => {
    const p = join(dir, `c${n++}.yaml`);
    writeFileSync(p, f.contents);
    return [f.kind, p];
  });
  const r = spawnSync(validator, args, { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const configs = (files: GeneratedFile[]) =>
  files
    .filter((f) => KINDS[f.path] !== undefined)
    .map((f) => ({ kind: KINDS[f.path]!, contents: f.contents, where: `${f.host}:${f.path}` }));

describe("component configs against the official Go types", () => {
  for (const [name, make] of Object.entries(SPECS)) {
    it(`every config of the ${name} spec decodes strictly (also the lab's failCgroupV1 variant)`, () => {
      for (const allowCgroupV1 of [false, true]) {
        const files = configs(unitFilesFromCluster(make(), { encryptionKey: KEY, allowCgroupV1 }));
        expect(new Set(files.map((f) => f.kind)).size).toBe(4);
        const r = validate(files);
        expect(r.out).not.toContain("unknown field");
        expect(r.status, r.out).toBe(0);
        expect(r.out.match(/: ok /g)).toHaveLength(files.length);
      }
    });
  }

  it("the validator rejects a misspelt field, a wrong case and a bad duration (the check can fail)", () => {
    const base = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
    for (const bad of [
      "clusterDNSs: [10.96.0.10]\n",
      "clusterDns: [10.96.0.10]\n",
      "runtimeRequestTimeout: fifteen\n",
    ]) {
      expect(validate([{ kind: "KubeletConfiguration", contents: base + bad }]).status, bad).toBe(1);
    }
    const proxy =
      "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\nclustercidr: 10.0.0.0/8\n";
    expect(validate([{ kind: "KubeProxyConfiguration", contents: proxy }]).status).toBe(1);
    const oldScheduler =
      "apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n";
    expect(validate([{ kind: "KubeSchedulerConfiguration", contents: oldScheduler }]).out).toContain(
      "want kubescheduler.config.k8s.io/v1/",
    );
    const legacy = "apiVersion: v1\nkind: EncryptionConfig\nresources: []\n";
    expect(validate([{ kind: "EncryptionConfiguration", contents: legacy }]).status).toBe(1);
  });
});
