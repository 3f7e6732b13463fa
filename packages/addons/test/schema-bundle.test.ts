// The vendored schema bundle is exactly what scripts/gen-k8s-schemas.mjs makes from the
// k8s.io/kubernetes@v1.34.4 module — no hand edits. Runs when the module is in the Go module cache
// (no network: `go env GOMODCACHE` only), skipped with the reason otherwise.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { K8S_SCHEMA_VERSION } from "./_k8s-schema";
import { testDir } from "./_support";

const gomodcache = spawnSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).stdout?.trim() ?? "";
const moduleDir = gomodcache ? join(gomodcache, `k8s.io/kubernetes@${K8S_SCHEMA_VERSION}`) : "";
const present = moduleDir !== "" && existsSync(join(moduleDir, "api", "openapi-spec", "v3"));
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
