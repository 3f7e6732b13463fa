import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bundleLayout, PINNED_VERSIONS } from "@khw/bundle";
import { tarBuffer } from "@khw/host-io";
import { describe, expect, it } from "vitest";
import { pinnedBinaries, prerequisiteSkip } from "../src/pinned";

describe("pinnedBinaries", () => {
  it("resolves the bundle under XDG_CACHE_HOME, extracts etcd from its tarball, and names what is missing", async () => {
    const xdg = mkdtempSync(join(tmpdir(), "khw-pinned-"));
    try {
      const env = { XDG_CACHE_HOME: xdg, HOME: "/nonexistent" };
      const empty = pinnedBinaries(env);
      expect(empty.bundleDir).toBe(join(xdg, "khw", "bundles", "k8s-v1.34.4_etcd-v3.6.16-amd64"));
      expect(empty.missing).toHaveLength(5);
      expect(empty.missing[0]).toMatch(/^no .*\/kubectl: run `pnpm khw bundle build`/);
      const layout = bundleLayout(PINNED_VERSIONS);
      for (const b of layout.kubernetes) {
        mkdirSync(dirname(join(empty.bundleDir, b.path)), { recursive: true });
        writeFileSync(join(empty.bundleDir, b.path), b.name);
      }
      mkdirSync(dirname(join(empty.bundleDir, layout.etcd.tarball)), { recursive: true });
      writeFileSync(
        join(empty.bundleDir, layout.etcd.tarball),
        await tarBuffer(
          layout.etcd.members.map((m) => ({
            path: m.path,
            mode: 0o755,
            type: "file" as const,
            data: Buffer.from(m.name),
          })),
          { gzip: true },
        ),
      );
      const full = pinnedBinaries(env);
      expect(full.missing).toEqual([]);
      expect(full.etcd).toBe(join(xdg, "khw", "pinned", "etcd-v3.6.16", "etcd"));
      expect(full.kubectl.endsWith("dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubectl")).toBe(true);
    } finally {
      rmSync(xdg, { recursive: true, force: true });
    }
  });

  it("a missing prerequisite is a skip reason locally and an error naming it in CI", () => {
    expect(prerequisiteSkip([], { CI: "true" })).toBeUndefined();
    expect(prerequisiteSkip(["no etcd"], {})).toBe("no etcd");
    expect(() => prerequisiteSkip(["no etcd"], { CI: "true" })).toThrow(/missing in CI: no etcd/);
  });
});
