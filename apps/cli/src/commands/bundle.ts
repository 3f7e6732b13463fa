import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  BundleError,
  buildBundle,
  buildRuntime,
  bundleCacheDir,
  defaultBundlesDir,
  defaultCacheRoot,
  fetchBundle,
  formatBundleIssues,
  runtimeLayout,
  verifyBundle,
} from "@khw/bundle";
import type { Command } from "commander";
import { CliError } from "../errors";
import { colors, type Io } from "../io";
import { loadSpecFile } from "../spec-file";

interface VersionOpts {
  file?: string;
  kubernetes?: string;
  etcd?: string;
  out?: string;
  force: boolean;
}

/** The versions to bundle: flags win, else the spec's (./cluster.yaml or the built-in default). */
async function versionsOf(io: Io, opts: VersionOpts) {
  return (await versionsAndRuntimeOf(io, opts)).versions;
}

/** The versions to bundle (flags win, else the spec's) and the workers' runtime versions from the spec. */
async function versionsAndRuntimeOf(io: Io, opts: VersionOpts) {
  const spec = (await loadSpecFile(io.cwd, opts.file, { allowDefault: true })).spec;
  if (spec.binaries.arch !== "amd64") {
    throw new CliError(
      "BUNDLE_ARCH",
      `bundles are built for amd64 only, the spec says ${spec.binaries.arch}`,
      "set binaries.arch: amd64",
    );
  }
  return {
    versions: {
      kubernetesVersion: opts.kubernetes ?? spec.versions.kubernetes,
      etcdVersion: opts.etcd ?? spec.versions.etcd,
      arch: "amd64" as const,
    },
    runtime: {
      containerdVersion: spec.versions.containerd,
      runcVersion: spec.versions.runc,
      cniPluginsVersion: spec.versions.cniPlugins,
    },
  };
}

async function bundleAction<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof BundleError) throw new CliError(e.code, e.message, (e as { hint?: string }).hint);
    throw e;
  }
}

export function registerBundle(program: Command, io: Io): void {
  const bundle = program
    .command("bundle")
    .description(
      "Kubernetes and etcd binaries in the official download layout, for air-gapped installs (binaries.source: bundle or mirror)",
    );
  const versionOptions = (cmd: Command) =>
    cmd
      .option(
        "-f, --file <spec>",
        "take the versions from this spec (default: ./cluster.yaml or the built-in default)",
      )
      .option(
        "--kubernetes <version>",
        "Kubernetes version, e.g. v1.34.4 (default: the spec's; another version reuses the Go module and build caches)",
      )
      .option("--etcd <version>", "etcd version, e.g. v3.6.16")
      .option(
        "-o, --out <dir>",
        "also hard-link (or copy) the bundle here; bundles of several versions can share one directory (default: only the cache)",
      )
      .option("--force", "rebuild/re-download even when the cache verifies", false);

  versionOptions(bundle.command("build"))
    .description(
      "Build the binaries from source through the Go module proxy (no other internet needed); cached per version",
    )
    .action(async (opts: VersionOpts) => {
      const c = colors(io);
      const { versions: v, runtime } = await versionsAndRuntimeOf(io, opts);
      const onLog = (l: string) => io.stderr(`${c.dim(l)}\n`);
      const t0 = performance.now();
      const r = await bundleAction(() =>
        buildBundle({ ...v, ...(opts.out ? { out: opts.out } : {}), force: opts.force, onLog }),
      );
      // The workers' container runtime goes into the same bundle (cache first, then any --out copy).
      const root = defaultCacheRoot(io.env);
      const built = await bundleAction(() =>
        buildRuntime({
          ...runtime,
          dir: r.cacheDir,
          goModCache: join(root, "go", "mod"),
          goBuildCache: join(root, "go", "build"),
          force: opts.force,
          onLog,
        }),
      );
      if (r.dir !== r.cacheDir) {
        for (const f of Object.values(runtimeLayout(runtime))) {
          for (const p of [f.path, f.checksumPath]) {
            await mkdir(dirname(join(r.dir, p)), { recursive: true });
            await copyFile(join(r.cacheDir, p), join(r.dir, p));
          }
        }
      }
      const cached = r.cached && !built;
      io.stdout(
        `${c.green("✓")} bundle ${cached ? "(cached) " : ""}in ${r.dir} (${((performance.now() - t0) / 1000).toFixed(0)} s): Kubernetes ${v.kubernetesVersion}, etcd ${v.etcdVersion}, containerd ${runtime.containerdVersion}, runc ${runtime.runcVersion}, CNI plugins ${runtime.cniPluginsVersion}\n`,
      );
    });

  versionOptions(bundle.command("fetch"))
    .description("Download the official release binaries and verify their SHA-256 (needs internet)")
    .option("--base-url <url>", "a mirror serving the official layout")
    .action(async (opts: VersionOpts & { baseUrl?: string }) => {
      const c = colors(io);
      const v = await versionsOf(io, opts);
      const r = await bundleAction(() =>
        fetchBundle({
          ...v,
          ...(opts.out ? { out: opts.out } : {}),
          ...(opts.baseUrl ? { baseUrl: opts.baseUrl } : {}),
          force: opts.force,
          onLog: (l) => io.stderr(`${c.dim(l)}\n`),
        }),
      );
      io.stdout(`${c.green("✓")} bundle ${r.cached ? "(cached) " : ""}in ${r.dir}\n`);
    });

  bundle
    .command("verify")
    .description("Check a bundle directory: every file present, every SHA-256 right, every binary's version")
    .argument("[dir]", "the bundle directory (default: the cache of the spec's versions)")
    .option("-f, --file <spec>", "take the versions from this spec")
    .option("--kubernetes <version>", "Kubernetes version")
    .option("--etcd <version>", "etcd version")
    .action(async (dir: string | undefined, opts: VersionOpts) => {
      const v = await versionsOf(io, { ...opts, force: false });
      const target = dir ?? bundleCacheDir(v, defaultBundlesDir(io.env));
      const r = await bundleAction(() => verifyBundle(target, v));
      if (!r.ok) throw new CliError("BUNDLE_INVALID", `${target}:\n${formatBundleIssues(r.issues)}`);
      io.stdout(`✓ ${target} is complete and verified\n`);
    });
}
