import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bundleCacheDir } from "../src/cache";
import { bundleLayout } from "../src/layout";
import { MANIFEST_FILE } from "../src/manifest";
import { verifyBundle } from "../src/verify";

/** The versions the spec pins. */
const PINNED = { kubernetesVersion: "v1.34.4", etcdVersion: "v3.6.16" };
const dir = process.env["KHW_BUNDLE_DIR"] ?? bundleCacheDir(PINNED);
const present = existsSync(join(dir, MANIFEST_FILE));
const title = present
  ? `the real bundle in ${dir} verifies and every binary prints its version`
  : `the real bundle verifies — skipped: no bundle at ${dir} (build it with buildBundle / \`khw bundle build\`, ~1 h cold on 2 cores)`;

describe("real bundle (Kubernetes v1.34.4, etcd v3.6.16)", () => {
  it.skipIf(!present)(
    title,
    async () => {
      const check = await verifyBundle(dir, PINNED, { requireManifest: true });
      expect(check.issues).toEqual([]);
      expect(check.notRun).toBeUndefined();
      expect(check.binaries.map((b) => b.output)).toEqual([
        ...bundleLayout(PINNED).kubernetes.map((b) =>
          b.name === "kubectl" ? "Client Version: v1.34.4" : "Kubernetes v1.34.4",
        ),
        "etcd Version: 3.6.16",
        "etcdctl version: 3.6.16",
        "etcdutl version: 3.6.16",
      ]);
    },
    180_000,
  );
});
