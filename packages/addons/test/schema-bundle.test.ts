// The vendored schema bundle is exactly what scripts/gen-k8s-schemas.mjs makes from the
// k8s.io/kubernetes@v1.34.4 module — no hand edits. Runs when the module is in khw's Go module cache (where
// `khw bundle build` puts it: ${XDG_CACHE_HOME:-~/.cache}/khw/go/mod) or `go env GOMODCACHE` (no network);
// skipped with the reason otherwise, and in CI a missing module fails, naming it.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultCacheRoot } from "@khw/bundle";
import { prerequisiteSkip } from "@khw/test-kit/pinned";
import { afterAll, describe, expect, it } from "vitest";
import { K8S_SCHEMA_VERSION } from "./_k8s-schema";
import { testDir } from "./_support";

const goEnvModCache = spawnSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).stdout?.trim() ?? "";
const moduleDirs = [join(defaultCacheRoot(), "go", "mod"), goEnvModCache]
  .filter((d) => d !== "")
  .map((d) => join(d, `k8s.io/kubernetes@${K8S_SCHEMA_VERSION}`));
const moduleDir = moduleDirs.find((d) => existsSync(join(d, "api", "openapi-spec", "v3"))) ?? "";
const present = moduleDir !== "";
prerequisiteSkip(
  present ? [] : [`k8s.io/kubernetes@${K8S_SCHEMA_VERSION} is in none of ${moduleDirs.join(", ")}`],
);
const tmp = mkdtempSync(join(tmpdir(), "khw-schema-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("the vendored Kubernetes schema bundle", () => {
  it.skipIf(!present)(
    present
      ? `is what the script makes from ${moduleDir}`
      : `is what the script makes from the module — skipped: k8s.io/kubernetes@${K8S_SCHEMA_VERSION} is not in the Go module cache (pnpm --filter @khw/addons gen:schemas fetches it)`,
    () => {
      const out = join(tmp, "bundle.json");
      execFileSync(
        process.execPath,
        [join(testDir, "..", "scripts", "gen-k8s-schemas.mjs"), "--dir", moduleDir, "--out", out],
        {
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      expect(readFileSync(out, "utf8")).toBe(
        readFileSync(join(testDir, "fixtures", `k8s-${K8S_SCHEMA_VERSION}.schema.json`), "utf8"),
      );
    },
  );
});
