import { binaryArtifacts, defaultClusterSpecInput, loadCluster } from "@khw/spec";
import { describe, expect, it } from "vitest";
import { bundleLayout, bundlePaths } from "../src/layout";

/** The install code reads `base + path` for the spec's artifacts: they must be exactly the bundle's paths. */
describe("the spec's binary catalogue and the bundle layout", () => {
  const { cluster } = loadCluster(defaultClusterSpecInput());
  const versions = {
    kubernetesVersion: cluster.spec.versions.kubernetes,
    etcdVersion: cluster.spec.versions.etcd,
  };
  const artifacts = binaryArtifacts(cluster);
  const layout = bundleLayout(versions);

  it("pins the versions whose real bundle this package builds and tests", () => {
    expect(versions).toEqual({ kubernetesVersion: "v1.34.4", etcdVersion: "v3.6.16" });
  });

  it("has every Kubernetes and etcd file of the spec, checksum files included", () => {
    const ours = new Set(bundlePaths(versions));
    const theirs = artifacts
      .filter((a) => a.path.startsWith("dl.k8s.io/") || a.path.startsWith("github.com/etcd-io/"))
      .flatMap((a) => [a.path, a.checksum.path]);
    expect(theirs.length).toBe(14);
    for (const path of theirs) expect(ours.has(path)).toBe(true);
  });

  it("names the same members inside the etcd tarball, under the name SHA256SUMS lists", () => {
    const etcd = artifacts.find((a) => a.id === "etcd")!;
    expect(etcd.checksum).toEqual({
      kind: "sums-file",
      path: layout.etcd.sha256sums,
      name: layout.etcd.tarballName,
    });
    expect(Object.values(etcd.archive!.members).sort()).toEqual(
      layout.etcd.members.map((m) => m.path).sort(),
    );
  });
});
