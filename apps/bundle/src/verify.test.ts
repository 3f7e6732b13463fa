import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FAKE_VERSIONS, writeFakeBundle } from "../test/fake-bundle";
import { bundleLayout } from "./layout";
import { MANIFEST_FILE } from "./manifest";
import { formatBundleIssues, verifyBundle } from "./verify";

const layout = bundleLayout(FAKE_VERSIONS);
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "khw-verify-test-"));
  await writeFakeBundle(dir);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("verifyBundle", () => {
  it("accepts a good bundle and runs every binary's version command", async () => {
    const check = await verifyBundle(dir, FAKE_VERSIONS, { requireManifest: true });
    expect(check.issues).toEqual([]);
    expect(check.ok).toBe(true);
    expect(check.binaries.map((b) => [b.binary, b.output])).toEqual([
      ["kube-apiserver", "Kubernetes v1.99.7"],
      ["kube-controller-manager", "Kubernetes v1.99.7"],
      ["kube-scheduler", "Kubernetes v1.99.7"],
      ["kubelet", "Kubernetes v1.99.7"],
      ["kube-proxy", "Kubernetes v1.99.7"],
      ["kubectl", "Client Version: v1.99.7"],
      ["etcd", "etcd Version: 3.9.1"],
      ["etcdctl", "etcdctl version: 3.9.1"],
      ["etcdutl", "etcdutl version: 3.9.1"],
    ]);
  });

  it("finds the tarball of another etcd version missing", async () => {
    const check = await verifyBundle(dir, { ...FAKE_VERSIONS, etcdVersion: "v3.9.2" });
    // the layout of v3.9.2 has another tarball name: missing
    expect(check.ok).toBe(false);
    expect(formatBundleIssues(check.issues)).toContain(
      "etcd-v3.9.2-linux-amd64.tar.gz: BUNDLE_INVALID: missing",
    );
  });

  it("finds a binary that does not match its .sha256, and the manifest disagreeing", async () => {
    const bin = layout.kubernetes[2]!;
    await writeFile(join(dir, bin.path), "#!/bin/sh\necho 'Kubernetes v1.99.7'\n# changed\n");
    const check = await verifyBundle(dir, FAKE_VERSIONS, { runBinaries: false });
    expect(check.notRun).toBe("not asked to run the binaries");
    expect(check.issues.map((i) => [i.path, i.code])).toEqual([
      [bin.path, "CHECKSUM_MISMATCH"],
      [bin.path, "CHECKSUM_MISMATCH"],
    ]);
  });

  it("finds a binary whose version is wrong even when its checksum is right", async () => {
    const bin = layout.kubernetes[0]!;
    const body = "#!/bin/sh\necho 'Kubernetes v1.99.6'\n";
    await writeFile(join(dir, bin.path), body);
    const { sha256 } = await import("@khw/host-io");
    await writeFile(join(dir, bin.sha256Path), sha256(body));
    await rm(join(dir, MANIFEST_FILE));
    const check = await verifyBundle(dir, FAKE_VERSIONS);
    expect(check.issues).toHaveLength(1);
    expect(check.issues[0]!.message).toContain(
      'did not print "Kubernetes v1.99.7" (got "Kubernetes v1.99.6")',
    );
  });

  it("requires the manifest only when asked", async () => {
    await rm(join(dir, MANIFEST_FILE));
    expect((await verifyBundle(dir, FAKE_VERSIONS, { runBinaries: false })).ok).toBe(true);
    const check = await verifyBundle(dir, FAKE_VERSIONS, { runBinaries: false, requireManifest: true });
    expect(check.issues).toEqual([{ path: MANIFEST_FILE, code: "BUNDLE_INVALID", message: "missing" }]);
  });

  it("finds an etcd tarball without etcdutl", async () => {
    const { sha256, tarBuffer } = await import("@khw/host-io");
    const tar = await tarBuffer(
      [
        { path: layout.etcd.members[0]!.path, mode: 0o755, data: Buffer.from("x"), type: "file" },
        { path: layout.etcd.members[1]!.path, mode: 0o755, data: Buffer.from("x"), type: "file" },
      ],
      { gzip: true },
    );
    await writeFile(join(dir, layout.etcd.tarball), tar);
    await writeFile(join(dir, layout.etcd.sha256sums), `${sha256(tar)}  ${layout.etcd.tarballName}\n`);
    const check = await verifyBundle(dir, FAKE_VERSIONS, { runBinaries: false });
    const text = formatBundleIssues(check.issues);
    expect(text).toContain("has no etcd-v3.9.1-linux-amd64/etcdutl");
    expect(text).toContain("differs from the manifest");
    expect(JSON.parse(await readFile(join(dir, MANIFEST_FILE), "utf8")).etcdVersion).toBe("v3.9.1");
  });
});
