// Binaries: the same download-verify-cache code for a mirror URL (a real HTTP server on loopback,
// @khw/bundle's serveBundle) and a bundle directory; checksums from the published checksum files.
import { createHash } from "node:crypto";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BundleServer, serveBundle } from "@khw/bundle";
import { binaryArtifacts, loadCluster } from "@khw/spec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureArtifact } from "../src/up/binaries";
import { makeFakeBundle } from "./golden/fake-hosts";
import { tempDir } from "./helpers";

let work: { dir: string; cleanup: () => void };
let server: BundleServer;
const nodes = [
  { name: "m", role: "controlplane" as const, address: "10.1.1.1" },
  { name: "w", role: "worker" as const, address: "10.1.1.2" },
];

beforeAll(async () => {
  work = tempDir();
  const { cluster } = loadCluster({ nodes });
  makeFakeBundle(cluster, join(work.dir, "bundle"));
  server = await serveBundle(join(work.dir, "bundle"));
});
afterAll(async () => {
  await server?.close();
  work?.cleanup();
});

describe("ensureArtifact", () => {
  it("downloads from a mirror, verifies SHA-256, then serves every later run from the cache", async () => {
    const { cluster } = loadCluster({
      nodes,
      binaries: { source: "mirror", mirror: server.url.replace(/\/$/, "") },
    });
    const cacheDir = join(work.dir, "cache-mirror");
    for (const a of binaryArtifacts(cluster)) {
      const first = await ensureArtifact(cluster, a, { cacheDir, baseDir: work.dir });
      expect(first.cached, a.id).toBe(false);
      expect(readFileSync(first.file)).toEqual(readFileSync(join(work.dir, "bundle", a.path)));
      const again = await ensureArtifact(cluster, a, { cacheDir, baseDir: work.dir });
      expect(again.cached, a.id).toBe(true);
    }
  });

  it("a file that changed in the mirror (a rebuilt bundle) is fetched again, not served from the cache", async () => {
    const { cluster } = loadCluster({ nodes });
    const dir = join(work.dir, "bundle-rebuilt");
    makeFakeBundle(cluster, dir);
    const mirror = await serveBundle(dir);
    try {
      const spec = { nodes, binaries: { source: "mirror" as const, mirror: mirror.url.replace(/\/$/, "") } };
      const { cluster: c } = loadCluster(spec);
      const cacheDir = join(work.dir, "cache-rebuilt");
      const kubelet = binaryArtifacts(c).find((a) => a.id === "kubelet")!;
      expect((await ensureArtifact(c, kubelet, { cacheDir, baseDir: work.dir })).cached).toBe(false);
      // the bundle is rebuilt: same path, new bytes, new checksum file
      const bytes = Buffer.from("a rebuilt kubelet\n");
      writeFileSync(join(dir, kubelet.path), bytes);
      const old = readFileSync(join(dir, kubelet.checksum.path), "utf8");
      const oldDigest = /^([0-9a-f]{64})/.exec(old.trim())![1]!;
      const newDigest = createHash("sha256").update(bytes).digest("hex");
      writeFileSync(join(dir, kubelet.checksum.path), old.replaceAll(oldDigest, newDigest));
      const again = await ensureArtifact(c, kubelet, { cacheDir, baseDir: work.dir });
      expect(again.cached).toBe(false);
      expect(again.sha256).toBe(newDigest);
      expect(readFileSync(again.file)).toEqual(bytes);
    } finally {
      await mirror.close();
    }
  });

  it("a corrupted cached file is detected and fetched again", async () => {
    const { cluster } = loadCluster({
      nodes,
      binaries: { source: "mirror", mirror: server.url.replace(/\/$/, "") },
    });
    const cacheDir = join(work.dir, "cache-corrupt");
    const kubelet = binaryArtifacts(cluster).find((a) => a.id === "kubelet")!;
    const f = await ensureArtifact(cluster, kubelet, { cacheDir, baseDir: work.dir });
    appendFileSync(f.file, "garbage");
    const again = await ensureArtifact(cluster, kubelet, { cacheDir, baseDir: work.dir });
    expect(again.cached).toBe(false);
    expect(readFileSync(again.file)).toEqual(readFileSync(join(work.dir, "bundle", kubelet.path)));
  });

  it("a bundle directory goes through the same path; a file that does not match its checksum is refused", async () => {
    const { cluster } = loadCluster({ nodes, binaries: { source: "bundle", bundleDir: "bundle" } });
    const cacheDir = join(work.dir, "cache-bundle");
    const runc = binaryArtifacts(cluster).find((a) => a.id === "runc")!;
    expect((await ensureArtifact(cluster, runc, { cacheDir, baseDir: work.dir })).cached).toBe(false);
    const proxy = binaryArtifacts(cluster).find((a) => a.id === "kube-proxy")!;
    appendFileSync(join(work.dir, "bundle", proxy.path), "tampered");
    await expect(ensureArtifact(cluster, proxy, { cacheDir, baseDir: work.dir })).rejects.toThrow(
      /SHA-256 [0-9a-f]{64} does not match the published [0-9a-f]{64}/,
    );
  });

  it("a missing file in the mirror is a clear error", async () => {
    const { cluster } = loadCluster({
      nodes,
      versions: { kubernetes: "v1.34.9" },
      binaries: { source: "mirror", mirror: server.url.replace(/\/$/, "") },
    });
    const kubelet = binaryArtifacts(cluster).find((a) => a.id === "kubelet")!;
    await expect(
      ensureArtifact(cluster, kubelet, { cacheDir: join(work.dir, "cache-404"), baseDir: work.dir }),
    ).rejects.toThrow(/kubelet\.sha256 answered 404/);
  });
});
