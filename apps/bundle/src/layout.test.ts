import { parseVersion } from "@khw/systemd-units";
import { describe, expect, it } from "vitest";
import { BundleError } from "./errors";
import { bundleCacheKey, bundleLayout, bundlePaths, bundleUrl, parseKubernetesVersion } from "./layout";

const pinned = { kubernetesVersion: "v1.34.4", etcdVersion: "v3.6.16" };

describe("bundleLayout", () => {
  it("is the official download URLs without the scheme", () => {
    expect(bundlePaths(pinned)).toEqual([
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kube-apiserver",
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kube-apiserver.sha256",
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kube-controller-manager",
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kube-controller-manager.sha256",
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kube-proxy",
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kube-proxy.sha256",
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kube-scheduler",
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kube-scheduler.sha256",
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubectl",
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubectl.sha256",
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubelet",
      "dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubelet.sha256",
      "github.com/etcd-io/etcd/releases/download/v3.6.16/SHA256SUMS",
      "github.com/etcd-io/etcd/releases/download/v3.6.16/etcd-v3.6.16-linux-amd64.tar.gz",
    ]);
  });

  it("names the etcd tarball's members as the official tarball does", () => {
    const { etcd } = bundleLayout(pinned);
    expect(etcd.tarballName).toBe("etcd-v3.6.16-linux-amd64.tar.gz");
    expect(etcd.members.map((m) => m.path)).toEqual([
      "etcd-v3.6.16-linux-amd64/etcd",
      "etcd-v3.6.16-linux-amd64/etcdctl",
      "etcd-v3.6.16-linux-amd64/etcdutl",
    ]);
  });

  it("turns a path into the official URL or a mirror URL", () => {
    const path = bundleLayout(pinned).kubernetes[3]!.path;
    expect(bundleUrl("https://", path)).toBe("https://dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubelet");
    expect(bundleUrl("http://198.18.0.1:8080", path)).toBe(
      "http://198.18.0.1:8080/dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubelet",
    );
    expect(bundleUrl("http://198.18.0.1:8080/", path)).toBe(
      "http://198.18.0.1:8080/dl.k8s.io/release/v1.34.4/bin/linux/amd64/kubelet",
    );
  });

  it("keys the cache by both versions and the arch", () => {
    expect(bundleCacheKey(pinned)).toBe("k8s-v1.34.4_etcd-v3.6.16-amd64");
  });

  it("refuses versions that are not release tags, with a hint", () => {
    for (const bad of [
      { kubernetesVersion: "1.34.4", etcdVersion: "v3.6.16" },
      { kubernetesVersion: "v1.34", etcdVersion: "v3.6.16" },
      { kubernetesVersion: "v1.34.4", etcdVersion: "3.6.16" },
      { kubernetesVersion: "v1.34.4", etcdVersion: "v3.4.30" },
      { kubernetesVersion: "v1.34.4/../x", etcdVersion: "v3.6.16" },
    ]) {
      const error = (() => {
        try {
          bundleLayout(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(BundleError);
      expect((error as BundleError).code).toBe("BAD_VERSION");
      expect((error as BundleError).hint).not.toBe("");
    }
  });

  it("refuses other architectures", () => {
    expect(() => bundleLayout({ ...pinned, arch: "arm64" as "amd64" })).toThrow(/architecture "arm64"/);
  });
});

describe("versions are read the same way everywhere (semver)", () => {
  it("a pre-release such as v1.35.0-rc.1 is a version to @khw/bundle and to @khw/systemd-units alike", () => {
    for (const tag of ["v1.34.4", "v1.35.0-rc.1", "v1.36.0-alpha.0", "v1.33.10"]) {
      const bundle = parseKubernetesVersion(tag);
      const units = parseVersion(tag);
      expect([units.major, units.minor, units.patch], tag).toEqual([1, bundle.minor, bundle.patch]);
    }
    expect(parseKubernetesVersion("v1.35.0-rc.1").pre).toBe("-rc.1");
    for (const bad of ["v1.35", "v1.35.0+build.1", "v1.35.x"]) {
      expect(() => parseKubernetesVersion(bad), bad).toThrow(/not of the form/);
      expect(() => parseVersion(bad), bad).toThrow(/is not a version/);
    }
  });
});
