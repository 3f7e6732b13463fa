import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { bundleCacheDir, bundleLayout, defaultBundlesDir, PINNED_VERSIONS } from "@khw/bundle";
import { khwCacheRoot } from "@khw/host-io";

export interface PinnedBinaries {
  /** The bundle directory (`${XDG_CACHE_HOME:-~/.cache}/khw/bundles/<key>`), or $KHW_BUNDLE_DIR. */
  bundleDir: string;
  kubectl: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  /** etcd and etcdctl, extracted once from the bundle's etcd release tarball into `<cache root>/pinned/`. */
  etcd: string;
  etcdctl: string;
  /** What is missing, each naming the file and the fix; empty when every binary is there. */
  missing: string[];
}

/**
 * The pinned Kubernetes and etcd binaries of the bundle `khw bundle build` fills, for tests that run real
 * tools (kubectl v1.34.4, etcd v3.6.16) instead of whatever a machine has on PATH. One place resolves the
 * bundle (honouring XDG_CACHE_HOME through @khw/bundle's cache root, or KHW_BUNDLE_DIR). Part of the test kit.
 */
export function pinnedBinaries(env: Record<string, string | undefined> = process.env): PinnedBinaries {
  const bundleDir = env["KHW_BUNDLE_DIR"] || bundleCacheDir(PINNED_VERSIONS, defaultBundlesDir(env));
  const layout = bundleLayout(PINNED_VERSIONS);
  const k8s = (name: string) => join(bundleDir, layout.kubernetes.find((b) => b.name === name)!.path);
  const missing: string[] = [];
  const fix = "run `pnpm khw bundle build` (or set KHW_BUNDLE_DIR)";
  const bins = {
    kubectl: k8s("kubectl"),
    kubeApiserver: k8s("kube-apiserver"),
    kubeControllerManager: k8s("kube-controller-manager"),
    kubeScheduler: k8s("kube-scheduler"),
  };
  for (const p of Object.values(bins)) if (!existsSync(p)) missing.push(`no ${p}: ${fix}`);
  const tarball = join(bundleDir, layout.etcd.tarball);
  const etcdDir = join(khwCacheRoot(env), "pinned", `etcd-${PINNED_VERSIONS.etcdVersion}`);
  if (!existsSync(join(etcdDir, "etcdctl"))) {
    if (!existsSync(tarball)) missing.push(`no ${tarball}: ${fix}`);
    else {
      const tmp = `${etcdDir}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      const r = spawnSync("tar", ["-xzf", tarball, "-C", tmp, "--strip-components=1"], { encoding: "utf8" });
      if (r.status === 0 && existsSync(join(tmp, "etcdctl"))) {
        rmSync(etcdDir, { recursive: true, force: true });
        renameSync(tmp, etcdDir);
      } else {
        rmSync(tmp, { recursive: true, force: true });
        missing.push(`cannot extract etcd from ${tarball}: ${r.stderr.trim() || "no etcdctl in it"}`);
      }
    }
  }
  return { bundleDir, ...bins, etcd: join(etcdDir, "etcd"), etcdctl: join(etcdDir, "etcdctl"), missing };
}

/**
 * A test's missing prerequisites → why it skips, or (when CI is set) an Error naming them: a test never skips
 * silently in CI. Returns undefined when nothing is missing.
 */
export function prerequisiteSkip(
  missing: readonly string[],
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  if (missing.length === 0) return undefined;
  const what = missing.join("; ");
  if (env["CI"]) throw new Error(`a test prerequisite is missing in CI: ${what}`);
  return what;
}
