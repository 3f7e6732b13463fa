import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FAKE_VERSIONS, writeFakeBundle } from "../test/fake-bundle";
import { BundleError } from "./errors";
import { fetchBundle } from "./fetch";
import { bundleCacheKey, bundleLayout } from "./layout";
import { MANIFEST_FILE } from "./manifest";
import { type BundleServer, serveBundle } from "./serve";
import { verifyBundle } from "./verify";

const layout = bundleLayout(FAKE_VERSIONS);
let root: string;
let tree: string;
let server: BundleServer;
let countingFetch: typeof globalThis.fetch;
let base: string;
let requests: string[] = [];

/** The bundle's own mirror server on loopback, serving a fake release tree, counting requests. */
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "khw-fetch-test-"));
  tree = join(root, "mirror");
  await writeFakeBundle(tree, FAKE_VERSIONS, { manifest: false });
  server = await serveBundle(tree);
  base = server.url;
  const realFetch = globalThis.fetch;
  countingFetch = (input, init) => {
    requests.push(new URL(String(input)).pathname);
    return realFetch(input, init);
  };
});

afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

let cacheDir: string;
beforeEach(async () => {
  requests = [];
  cacheDir = await mkdtemp(join(root, "cache-"));
});

function rawStatus(path: string): Promise<number> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET" }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

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
      fetch: countingFetch,
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

    const again = await fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, fetch: countingFetch, cacheDir });
    expect(again.cached).toBe(true);
    expect(requests).toHaveLength(layout.files.length);
  });

  it("links the cached bundle into out", async () => {
    const out = join(cacheDir, "out");
    const result = await fetchBundle({
      ...FAKE_VERSIONS,
      baseUrl: base,
      fetch: countingFetch,
      cacheDir,
      out,
    });
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
      const error = await rejection(
        fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, fetch: countingFetch, cacheDir }),
      );
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
      const error = await rejection(
        fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, fetch: countingFetch, cacheDir }),
      );
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
      const error = await rejection(
        fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, fetch: countingFetch, cacheDir }),
      );
      expect(error.code).toBe("CHECKSUM_MISSING");
    } finally {
      await writeFile(join(tree, layout.etcd.sha256sums), original);
    }
  });

  it("names the URL that is missing", async () => {
    const error = await rejection(
      fetchBundle({
        kubernetesVersion: "v1.99.8",
        etcdVersion: "v3.9.1",
        baseUrl: base,
        fetch: countingFetch,
        cacheDir,
      }),
    );
    expect(error.code).toBe("DOWNLOAD_FAILED");
    expect(error.message).toMatch(/v1\.99\.8.*404/);
  });

  it("re-downloads when the cached bundle no longer verifies", async () => {
    const first = await fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, fetch: countingFetch, cacheDir });
    await writeFile(join(first.cacheDir, layout.kubernetes[0]!.path), "corrupted");
    requests = [];
    const second = await fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, fetch: countingFetch, cacheDir });
    expect(second.cached).toBe(false);
    expect(requests).toHaveLength(layout.files.length);
    expect((await verifyBundle(second.dir, FAKE_VERSIONS)).ok).toBe(true);
    expect(JSON.parse(await readFile(join(second.dir, MANIFEST_FILE), "utf8")).source).toBe("download");
  });

  it("lets one of two concurrent fetches download, the other waits and reuses it", async () => {
    const [a, b] = await Promise.all([
      fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, fetch: countingFetch, cacheDir }),
      fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, fetch: countingFetch, cacheDir }),
    ]);
    expect([a.cached, b.cached].sort()).toEqual([false, true]);
    expect(requests).toHaveLength(layout.files.length);
    expect(await readdir(cacheDir)).toEqual([bundleCacheKey(FAKE_VERSIONS)]);
  });

  it("takes over the lock of a process that died", async () => {
    const dead = spawnSync("true").pid!;
    await writeFile(join(cacheDir, `${bundleCacheKey(FAKE_VERSIONS)}.lock`), `${dead}\n`);
    const result = await fetchBundle({ ...FAKE_VERSIONS, baseUrl: base, fetch: countingFetch, cacheDir });
    expect(result.cached).toBe(false);
    expect(await readdir(cacheDir)).toEqual([bundleCacheKey(FAKE_VERSIONS)]);
  });

  it("serves nothing outside the bundle and only GET/HEAD", async () => {
    // raw paths: fetch() would normalize "..", an attacker's client does not
    for (const raw of ["/../../../../etc/passwd", "/dl.k8s.io/..%2F..%2F..%2F..%2Fetc%2Fpasswd"]) {
      expect(await rawStatus(raw)).toBe(404);
    }
    expect(await rawStatus(`/dl.k8s.io/../${layout.kubernetes[0]!.path}`)).toBe(200);
    const dirRequest = await fetch(`${base}dl.k8s.io/`);
    expect(dirRequest.status).toBe(404);
    const post = await fetch(`${base}${layout.kubernetes[0]!.path}`, { method: "POST" });
    expect(post.status).toBe(405);
    const head = await fetch(`${base}${layout.kubernetes[0]!.path}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get("content-length"))).toBe(
      (await stat(join(tree, layout.kubernetes[0]!.path))).size,
    );
  });
});
