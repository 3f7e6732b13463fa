import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTar } from "@khw/host-io";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FAKE_VERSIONS, writeFakeBundle } from "../test/fake-bundle";
import { writeFakeGoProxy } from "../test/fake-go-proxy";
import { buildBundle, kubernetesLdflags } from "./build";
import { defaultCacheRoot } from "./cache";
import { BundleError } from "./errors";
import { bundleCacheKey, bundleLayout } from "./layout";
import { verifyBundle } from "./verify";

const layout = bundleLayout(FAKE_VERSIONS);
let root: string;
let cacheDir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "khw-build-test-"));
  cacheDir = join(root, "bundles");
  await mkdir(cacheDir);
});
afterEach(() => rm(root, { recursive: true, force: true }));

/** A "go" that records that it was called and fails: any build attempt shows up. */
async function tripwireGo(): Promise<{ go: string; calls: () => Promise<string[]> }> {
  const log = join(root, "go-calls");
  const go = join(root, "go");
  await writeFile(
    go,
    `#!/bin/sh\necho "$@" >> '${log}'\necho 'tripwire go: no build expected' >&2\nexit 3\n`,
    {
      mode: 0o755,
    },
  );
  return {
    go,
    calls: async () => {
      return (await readFile(log, "utf8").catch(() => "")).split("\n").filter((l) => l !== "");
    },
  };
}

describe("buildBundle", () => {
  it("uses a verified cached bundle without building", async () => {
    await writeFakeBundle(join(cacheDir, bundleCacheKey(FAKE_VERSIONS)));
    const { go, calls } = await tripwireGo();
    const logs: string[] = [];
    const result = await buildBundle({ ...FAKE_VERSIONS, cacheDir, go, onLog: (l) => logs.push(l) });
    expect(result.cached).toBe(true);
    expect(result.manifest.kubernetesVersion).toBe("v1.99.7");
    expect(await calls()).toEqual([]);
    expect(logs[0]).toMatch(/^\[bundle\] cache hit: /);
  });

  it("rebuilds when the cached bundle fails verification", async () => {
    const dir = join(cacheDir, bundleCacheKey(FAKE_VERSIONS));
    await writeFakeBundle(dir);
    await writeFile(join(dir, layout.kubernetes[1]!.path), "truncated");
    const { go, calls } = await tripwireGo();
    await expect(buildBundle({ ...FAKE_VERSIONS, cacheDir, go })).rejects.toMatchObject({
      code: "GO_NOT_FOUND",
    });
    expect(await calls()).toEqual(["env GOVERSION"]);
    // the broken cache is left as it was, no partial directory remains
    expect((await readdir(cacheDir)).sort()).toEqual([bundleCacheKey(FAKE_VERSIONS)]);
  });

  it("rebuilds when the versions change (another cache key)", async () => {
    await writeFakeBundle(join(cacheDir, bundleCacheKey(FAKE_VERSIONS)));
    const { go, calls } = await tripwireGo();
    await expect(
      buildBundle({ kubernetesVersion: "v1.99.8", etcdVersion: "v3.9.1", cacheDir, go }),
    ).rejects.toBeInstanceOf(BundleError);
    expect(await calls()).toEqual(["env GOVERSION"]);
  });

  it("says how to fix a missing Go", async () => {
    const error = await buildBundle({ ...FAKE_VERSIONS, cacheDir, go: join(root, "no-such-go") }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(BundleError);
    expect(error.code).toBe("GO_NOT_FOUND");
    expect(error.message).toContain("no-such-go");
    expect(error.hint).toMatch(/Install Go/);
  });

  it("sets the version the way the official build does", () => {
    const flags = kubernetesLdflags("v1.34.4", new Date("2026-02-10T12:53:36Z"));
    expect(flags).toContain("-X k8s.io/component-base/version.gitVersion=v1.34.4");
    expect(flags).toContain("-X k8s.io/client-go/pkg/version.gitMinor=34");
    expect(flags).toContain("-X k8s.io/component-base/version.buildDate=2026-02-10T12:53:36Z");
    expect(flags.startsWith("-s -w ")).toBe(true);
  });
});

const haveGo = spawnSync("go", ["version"]).status === 0;

describe("buildBundle with the real Go against a fake module proxy", () => {
  it.skipIf(!haveGo)(
    "translates the go.mod, builds all nine binaries with the right versions, then hits the cache",
    async () => {
      const proxy = join(root, "proxy");
      await writeFakeGoProxy(proxy, FAKE_VERSIONS.kubernetesVersion, FAKE_VERSIONS.etcdVersion);
      const goModCache = join(root, "gomod");
      const env = {
        PATH: process.env["PATH"],
        HOME: root,
        GOPROXY: `file://${proxy}`,
        GOSUMDB: "off",
      };
      const options = {
        ...FAKE_VERSIONS,
        cacheDir,
        goModCache,
        // the machine's build cache keeps the standard library compiled between runs
        goBuildCache: process.env["KHW_TEST_GOCACHE"] ?? join(defaultCacheRoot(), "go", "build"),
        env,
      };
      const logs: string[] = [];
      try {
        const built = await buildBundle({ ...options, onLog: (l) => logs.push(l) });
        expect(built.cached).toBe(false);
        expect(built.manifest.source).toBe("go-modules");
        expect(built.manifest.goVersion).toMatch(/^go1\./);
        expect(logs).toContain("[bundle] pinned 3 staging modules k8s.io/* to v0.99.7");
        const check = await verifyBundle(built.dir, FAKE_VERSIONS, { requireManifest: true });
        expect(check.issues).toEqual([]);
        expect(check.binaries.map((b) => b.output)).toEqual([
          "Kubernetes v1.99.7",
          "Kubernetes v1.99.7",
          "Kubernetes v1.99.7",
          "Kubernetes v1.99.7",
          "Kubernetes v1.99.7",
          "Client Version: v1.99.7",
          "etcd Version: 3.9.1",
          "etcdctl version: 3.9.1",
          "etcdutl version: 3.9.1",
        ]);
        // the tarball holds the directory and the three binaries, owned by root
        const tar = await readTar(join(built.dir, layout.etcd.tarball), { gzip: true });
        expect(tar.map((e) => e.path)).toEqual([
          `${layout.etcd.topDir}/`,
          ...layout.etcd.members.map((m) => m.path),
        ]);
        expect(await readdir(cacheDir)).toEqual([bundleCacheKey(FAKE_VERSIONS)]);

        const again = await buildBundle(options);
        expect(again.cached).toBe(true);
        expect(again.manifest).toEqual(built.manifest);
      } finally {
        spawnSync("go", ["clean", "-modcache"], { env: { ...env, GOMODCACHE: goModCache } });
      }
    },
    240_000,
  );
});
