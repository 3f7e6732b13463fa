import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { kubernetesBuildModule, parseGoMod, stagingVersion } from "./go-mod";

/** An excerpt of the real go.mod of k8s.io/kubernetes v1.34.4 (requires trimmed, replace block whole). */
const fixture = readFileSync(join(__dirname, "../test/fixtures/kubernetes-v1.34.4.go.mod.excerpt"), "utf8");

describe("parseGoMod", () => {
  it("reads the directives of the real kubernetes go.mod", () => {
    const mod = parseGoMod(fixture);
    expect(mod.module).toBe("k8s.io/kubernetes");
    expect(mod.go).toBe("1.24.0");
    expect(mod.godebug).toEqual(["default=go1.24"]);
    expect(mod.require).toContainEqual({ path: "k8s.io/api", version: "v0.0.0", indirect: false });
    expect(mod.require).toContainEqual({ path: "cel.dev/expr", version: "v0.24.0", indirect: true });
    expect(mod.replace).toHaveLength(31);
    expect(mod.replace[0]).toEqual({ old: "k8s.io/api", new: "./staging/src/k8s.io/api" });
  });

  it("reads one-line directives and versioned replaces", () => {
    const mod = parseGoMod(
      "module example.com/m\ngo 1.22\nrequire a.example/x v1.2.3 // indirect\nreplace a.example/x v1.2.3 => b.example/y v1.0.0\n",
    );
    expect(mod.require).toEqual([{ path: "a.example/x", version: "v1.2.3", indirect: true }]);
    expect(mod.replace).toEqual([
      { old: "a.example/x", oldVersion: "v1.2.3", new: "b.example/y", newVersion: "v1.0.0" },
    ]);
  });

  it("reports an unclosed block and a missing module line", () => {
    expect(() => parseGoMod("module m\nrequire (\n\ta v1\n")).toThrow(/never closed/);
    expect(() => parseGoMod("go 1.22\n")).toThrow(/no module directive/);
  });
});

describe("kubernetesBuildModule", () => {
  it("pins every staging module to v0.<minor>.<patch>", () => {
    const { goMod, staging } = kubernetesBuildModule(fixture, "v1.34.4");
    expect(staging).toHaveLength(31);
    expect(staging).toContain("k8s.io/client-go");
    const parsed = parseGoMod(goMod);
    expect(parsed.module).toBe("khw.local/bundle/kubernetes");
    expect(parsed.go).toBe("1.24.0");
    expect(parsed.godebug).toEqual(["default=go1.24"]);
    expect(parsed.require).toEqual([{ path: "k8s.io/kubernetes", version: "v1.34.4", indirect: false }]);
    expect(parsed.replace).toHaveLength(31);
    for (const r of parsed.replace) {
      expect(r.new).toBe(r.old);
      expect(r.newVersion).toBe("v0.34.4");
      expect(r.old).toMatch(/^k8s\.io\/[a-z-]+$/);
    }
    // every staging module the real go.mod requires as v0.0.0 is pinned
    const pinned = new Set(parsed.replace.map((r) => r.old));
    for (const req of parseGoMod(fixture).require.filter((r) => r.version === "v0.0.0")) {
      expect(pinned.has(req.path)).toBe(true);
    }
    expect(goMod).toContain("\tk8s.io/apimachinery => k8s.io/apimachinery v0.34.4\n");
  });

  it("maps pre-releases too", () => {
    expect(stagingVersion("v1.35.0-rc.1")).toBe("v0.35.0-rc.1");
    expect(stagingVersion("v1.34.4")).toBe("v0.34.4");
  });

  it("refuses a go.mod of another module", () => {
    expect(() => kubernetesBuildModule("module k8s.io/api\n", "v1.34.4")).toThrow(
      /expected the go.mod of k8s.io\/kubernetes/,
    );
  });
});
