import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FAKE_VERSIONS, writeFakeBundle } from "../test/fake-bundle";
import { buildBundle, kubernetesLdflags } from "./build";
import { BundleError } from "./errors";
import { bundleCacheKey, bundleLayout } from "./layout";

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
      const { readFile } = await import("node:fs/promises");
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
