import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { sha256, tarBuffer } from "@khw/host-io";
import { binaryArtifacts, defaultClusterSpecInput, loadCluster } from "@khw/spec";
import { describe, expect, it } from "vitest";
import { CNI_PLUGINS, runtimeLayout, runtimeMissing, runtimePresent } from "./runtime";

const versions = { containerdVersion: "2.1.4", runcVersion: "1.3.3", cniPluginsVersion: "1.8.0" };

describe("the runtime's place in the bundle", () => {
  it("is exactly where @khw/spec's binary catalogue (and so `khw up`) looks for it", () => {
    const { cluster } = loadCluster(defaultClusterSpecInput());
    const byId = Object.fromEntries(binaryArtifacts(cluster).map((a) => [a.id, a]));
    const layout = runtimeLayout(versions);
    expect(layout.containerd.path).toBe(byId["containerd"]!.path);
    expect(layout.containerd.checksumPath).toBe(byId["containerd"]!.checksum.path);
    expect(layout.runc.path).toBe(byId["runc"]!.path);
    expect(layout.runc.checksumPath).toBe(byId["runc"]!.checksum.path);
    expect(layout.cni.path).toBe(byId["cni-plugins"]!.path);
    expect(layout.cni.checksumPath).toBe(byId["cni-plugins"]!.checksum.path);
  });

  it("refuses versions with a leading v", () => {
    expect(() => runtimeLayout({ ...versions, runcVersion: "v1.3.3" })).toThrow(/runcVersion/);
  });

  it("counts as present only when every file matches its checksum file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "khw-runtime-"));
    try {
      expect(await runtimePresent(dir, versions)).toBe(false);
      const layout = runtimeLayout(versions);
      const put = (f: { path: string; checksumPath: string }, data: Buffer | string) => {
        mkdirSync(dirname(join(dir, f.path)), { recursive: true });
        writeFileSync(join(dir, f.path), data);
        writeFileSync(join(dir, f.checksumPath), `${sha256(data)}  x\n`);
      };
      const cniArchive = (plugins: readonly string[]) =>
        tarBuffer(
          plugins.map((p) => ({ path: `./${p}`, mode: 0o755, data: Buffer.from(p), type: "file" as const })),
          { gzip: true },
        );
      put(layout.containerd, "containerd");
      put(layout.runc, "runc");
      put(layout.cni, await cniArchive(CNI_PLUGINS));
      expect(await runtimePresent(dir, versions)).toBe(true);
      writeFileSync(join(dir, layout.runc.path), "tampered");
      expect(await runtimePresent(dir, versions)).toBe(false);
      expect(await runtimeMissing(dir, versions)).toEqual(["runc"]);
      put(layout.runc, "runc");
      // a bundle built before flannel was listed: only the CNI archive is rebuilt
      put(layout.cni, await cniArchive(CNI_PLUGINS.filter((p) => p !== "flannel")));
      expect(await runtimeMissing(dir, versions)).toEqual(["cni"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
