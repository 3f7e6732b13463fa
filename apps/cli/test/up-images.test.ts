import { execFileSync } from "node:child_process";
import { defaultClusterSpecInput, loadCluster } from "@khw/spec";
import { describe, expect, it } from "vitest";
import { imageImports } from "../src/up/phases";

const images = [
  { ref: "registry.k8s.io/pause:3.10", path: "khw-images/pause.tar" },
  { ref: "docker.io/library/busybox:1.28", path: "/khw-images/busybox.tar" },
];

describe("binaries.images: image import on the workers", () => {
  it("none by default, nor without a mirror", () => {
    expect(imageImports(loadCluster(defaultClusterSpecInput()).cluster)).toEqual([]);
    const input = defaultClusterSpecInput();
    input.binaries = { source: "official", images };
    expect(imageImports(loadCluster(input).cluster)).toEqual([]);
  });

  it("one idempotent run step per image, fetched from the mirror and imported into k8s.io when missing", () => {
    const input = defaultClusterSpecInput();
    input.binaries = { source: "mirror", mirror: "http://10.77.0.1:8080/", images };
    const steps = imageImports(loadCluster(input).cluster);
    expect(steps.map((s) => s.kind === "run" && [s.name, s.args])).toEqual([
      [
        "image registry.k8s.io/pause:3.10",
        ["http://10.77.0.1:8080/khw-images/pause.tar", "registry.k8s.io/pause:3.10"],
      ],
      [
        "image docker.io/library/busybox:1.28",
        ["http://10.77.0.1:8080/khw-images/busybox.tar", "docker.io/library/busybox:1.28"],
      ],
    ]);
    for (const s of steps) {
      if (s.kind !== "run") throw new Error("not a run step");
      expect(s.script).toContain('grep -qxF "$2"');
      expect(s.script).toContain("ctr -n k8s.io images import");
      expect(s.script).toContain('echo "changed image $2"');
      expect(s.dryRun).toContain('echo "changed image $2"');
      // the scripts parse
      execFileSync("sh", ["-n", "-c", s.script]);
      execFileSync("sh", ["-n", "-c", s.dryRun!]);
    }
  });
});
