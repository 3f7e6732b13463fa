import { spawnSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FAKE_VERSIONS, writeFakeBundle } from "../test/fake-bundle";
import { BundleError } from "./errors";
import { fetchBundle } from "./fetch";
import { bundleCacheKey, bundleLayout } from "./layout";
import { MANIFEST_FILE } from "./manifest";
import { verifyBundle } from "./verify";

const layout = bundleLayout(FAKE_VERSIONS);
let root: string;
let tree: string;
let server: Server;
let base: string;
let requests: string[] = [];

/** A static file server on loopback whose document root is a fake release tree. */
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "khw-fetch-test-"));
  tree = join(root, "mirror");
  await writeFakeBundle(tree, FAKE_VERSIONS, { manifest: false });
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    const file = join(tree, normalize(decodeURIComponent(req.url ?? "/")));
    stat(file).then(
      (s) => {
        if (!s.isFile()) throw new Error("not a file");
        res.writeHead(200, { "content-length": s.size });
        createReadStream(file).pipe(res);
      },
      () => {
        res.writeHead(404).end("not found");
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

let cacheDir: string;
beforeEach(async () => {
  requests = [];
  cacheDir = await mkdtemp(join(root, "cache-"));
});

async function rejection(promise: Promise<unknown>): Promise<BundleError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BundleError) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

describe("fetchBundle from a mirror", () => {
  it("downloads every file of the layout, verified, and caches it", async () => {
    const logs: string[] = [];
    const result = await fetchBundle({
      ...FAKE_VERSIONS,
      baseUrl: base,
      cacheDir,
      onLog: (l) => logs.push(l),
    });
    expect(result.cached).toBe(false);
    expect(result.dir).toBe(join(cacheDir, bundleCacheKey(FAKE_VERSIONS)));
    expect(result.manifest.source).toBe("download");
    expect(requests.map((r) => r.slice(1)).sort()).toEqual(layout.files);
    const check = await verifyBundle(result.dir, FAKE_VERSIONS, { requireManifest: true });
    expect(check.issues).toEqual([]);
    expect(check.binaries.map((b) => b.binary)).toHaveLength(9);
    // SHA256SUMS is kept verbatim, with the other architectures' lines
    expect(await readFile(join(result.dir, layout.etcd.sha256sums), "utf8")).toBe(
      await readFile(join(tree, layout.etcd.sha256sums), "utf8"),
    );
    expect(logs.some((l) => l.includes("downloading"))).toBe(true);

    const again = await fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, cacheDir });
    expect(again.cached).toBe(true);
    expect(requests).toHaveLength(layout.files.length);
  });

  it("links the cached bundle into out", async () => {
    const out = join(cacheDir, "out");
    const result = await fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, cacheDir, out });
    expect(result.dir).toBe(out);
    expect((await verifyBundle(out, FAKE_VERSIONS, { requireManifest: true })).ok).toBe(true);
    const a = await stat(join(out, layout.kubernetes[0]!.path));
    const b = await stat(join(result.cacheDir, layout.kubernetes[0]!.path));
    expect(a.ino).toBe(b.ino);
  });

  it("refuses a binary whose checksum does not match, and keeps nothing", async () => {
    const kubelet = layout.kubernetes.find((b) => b.name === "kubelet")!;
    const original = await readFile(join(tree, kubelet.path));
    await writeFile(join(tree, kubelet.path), "#!/bin/sh\necho evil\n");
    try {
      const error = await rejection(fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, cacheDir }));
      expect(error.code).toBe("CHECKSUM_MISMATCH");
      expect(error.message).toContain(`${base}${kubelet.path}`);
      expect(error.hint).toMatch(/tampered/);
      expect(await readdir(cacheDir)).toEqual([]);
    } finally {
      await writeFile(join(tree, kubelet.path), original);
    }
  });

  it("refuses an etcd tarball that does not match SHA256SUMS", async () => {
    const original = await readFile(join(tree, layout.etcd.tarball));
    await writeFile(join(tree, layout.etcd.tarball), Buffer.concat([original, Buffer.from("x")]));
    try {
      const error = await rejection(fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, cacheDir }));
      expect(error.code).toBe("CHECKSUM_MISMATCH");
      expect(error.message).toContain(layout.etcd.tarballName);
      expect(await readdir(cacheDir)).toEqual([]);
    } finally {
      await writeFile(join(tree, layout.etcd.tarball), original);
    }
  });

  it("refuses a tarball that SHA256SUMS does not list", async () => {
    const original = await readFile(join(tree, layout.etcd.sha256sums), "utf8");
    await writeFile(join(tree, layout.etcd.sha256sums), original.split("\n")[0]!);
    try {
      const error = await rejection(fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, cacheDir }));
      expect(error.code).toBe("CHECKSUM_MISSING");
    } finally {
      await writeFile(join(tree, layout.etcd.sha256sums), original);
    }
  });

  it("names the URL that is missing", async () => {
    const error = await rejection(
      fetchBundle({ kubernetesVersion: "v1.99.8", etcdVersion: "v3.9.1", baseUrl: base, cacheDir }),
    );
    expect(error.code).toBe("DOWNLOAD_FAILED");
    expect(error.message).toMatch(/v1\.99\.8.*404/);
  });

  it("re-downloads when the cached bundle no longer verifies", async () => {
    const first = await fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, cacheDir });
    await writeFile(join(first.cacheDir, layout.kubernetes[0]!.path), "corrupted");
    requests = [];
    const second = await fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, cacheDir });
    expect(second.cached).toBe(false);
    expect(requests).toHaveLength(layout.files.length);
    expect((await verifyBundle(second.dir, FAKE_VERSIONS)).ok).toBe(true);
    expect(JSON.parse(await readFile(join(second.dir, MANIFEST_FILE), "utf8")).source).toBe("download");
  });

  it("lets one of two concurrent fetches download, the other waits and reuses it", async () => {
    const [a, b] = await Promise.all([
      fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, cacheDir }),
      fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, cacheDir }),
    ]);
    expect([a.cached, b.cached].sort()).toEqual([false, true]);
    expect(requests).toHaveLength(layout.files.length);
    expect(await readdir(cacheDir)).toEqual([bundleCacheKey(FAKE_VERSIONS)]);
  });

  it("takes over the lock of a process that died", async () => {
    const dead = spawnSync("true").pid!;
    await writeFile(join(cacheDir, `${bundleCacheKey(FAKE_VERSIONS)}.lock`), `${dead}\n`);
    const result = await fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, cacheDir });
    expect(result.cached).toBe(false);
    expect(await readdir(cacheDir)).toEqual([bundleCacheKey(FAKE_VERSIONS)]);
  });
});
