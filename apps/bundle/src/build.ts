import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  commitPartial,
  sha256File,
  startPartial,
  type TarInput,
  writeFileAtomic,
  writeTar,
} from "@khw/host-io";
import { cachedBundle, lockBundle, materialize } from "./_commit";
import { run } from "./_run";
import { bundleCacheDir, defaultBundlesDir, defaultCacheRoot } from "./cache";
import { BundleError } from "./errors";
import { kubernetesBuildModule, parseGoMod } from "./go-mod";
import {
  type BundleArch,
  type BundleLayout,
  type BundleVersions,
  bundleLayout,
  parseKubernetesVersion,
} from "./layout";
import { type BundleManifest, createManifest, MANIFEST_FILE, renderManifest } from "./manifest";
import { formatBundleIssues, verifyBundle } from "./verify";

/** Options of `buildBundle`. Only `kubernetesVersion` and `etcdVersion` are required. */
export interface BuildBundleOptions extends BundleVersions {
  arch?: BundleArch;
  /**
   * Where the caller wants the bundle. Omitted, or equal to the cache directory: the cache itself is
   * the bundle. Otherwise its files are hard-linked (copied across file systems) into `out`.
   */
  out?: string;
  /** The directory of cached bundles (default `${XDG_CACHE_HOME:-$HOME/.cache}/khw/bundles`); the bundle is `<cacheDir>/<key>`. */
  cacheDir?: string;
  /** Progress lines, `[bundle] …`, and the Go tool's own output, `[go] …`. */
  onLog?: (line: string) => void;
  /** Rebuild even when the cached bundle verifies. */
  force?: boolean;
  /** The Go command (default `go` on PATH). */
  go?: string;
  /** GOMODCACHE of the build (default `<khw cache root>/go/mod`). */
  goModCache?: string;
  /** GOCACHE of the build (default `<khw cache root>/go/build`). */
  goBuildCache?: string;
  /** GOMAXPROCS of the Go tool, which also bounds parallel compiles (default 2). */
  goMaxProcs?: number;
  /** Niceness of the build (default 19); false runs it at normal priority. */
  nice?: number | false;
  /** The environment the Go tool starts from (default process.env; GOPROXY etc. come from here). */
  env?: Record<string, string | undefined>;
}

/** What `buildBundle` and `fetchBundle` return. */
export interface BundleResult {
  /** The bundle directory to use: `out`, or the cache directory. */
  dir: string;
  /** The cache directory of this version set. */
  cacheDir: string;
  /** True when the cache was used and nothing was built or downloaded. */
  cached: boolean;
  layout: BundleLayout;
  manifest: BundleManifest;
  /** Wall time of the call. */
  seconds: number;
}

interface GoTool {
  command: string;
  prefix: string[];
  env: Record<string, string>;
  log: (line: string) => void;
}

async function go(tool: GoTool, args: string[], cwd: string, lowPriority = true): Promise<string> {
  const [command, argv] =
    lowPriority && tool.prefix.length > 0
      ? [tool.prefix[0]!, [...tool.prefix.slice(1), tool.command, ...args]]
      : [tool.command, args];
  const { stdout } = await run(command, argv, {
    cwd,
    env: tool.env,
    onLine: (line) => tool.log(`[go] ${line}`),
    code: "GO_FAILED",
    hint:
      "The Go module proxy must be reachable (GOPROXY) and the Go toolchain new enough for the module's go line; " +
      "rerun with the same versions, the module and build caches keep what was done.",
  });
  return stdout;
}

interface Downloaded {
  GoMod?: string;
  Info?: string;
  Error?: string;
}

async function download(
  tool: GoTool,
  moduleAtVersion: string,
  cwd: string,
): Promise<{ goMod: string; time: Date }> {
  const out = await go(tool, ["mod", "download", "-json", moduleAtVersion], cwd, false);
  const info = JSON.parse(out) as Downloaded;
  if (info.Error || !info.GoMod || !info.Info) {
    throw new BundleError(
      "GO_FAILED",
      `go mod download ${moduleAtVersion}: ${info.Error ?? "no go.mod in the answer"}`,
      "Check that the version exists on the Go module proxy (GOPROXY).",
    );
  }
  const goMod = await readFile(info.GoMod, "utf8");
  const time = new Date((JSON.parse(await readFile(info.Info, "utf8")) as { Time: string }).Time);
  return { goMod, time };
}

/** The `-X` flags the official Kubernetes build sets (hack/lib/version.sh), so `--version` is right. */
export function kubernetesLdflags(kubernetesVersion: string, buildDate: Date): string {
  const { minor } = parseKubernetesVersion(kubernetesVersion);
  const date = buildDate.toISOString().replace(/\.\d{3}Z$/, "Z");
  const flags = ["-s", "-w"];
  for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]) {
    flags.push(
      `-X ${pkg}.gitVersion=${kubernetesVersion}`,
      `-X ${pkg}.gitMajor=1`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=archive`,
      `-X ${pkg}.buildDate=${date}`,
    );
  }
  return flags.join(" ");
}

/** The `-X` flags of the etcd build: its version is compiled in; only the commit is unknown from a module. */
export function etcdLdflags(etcdVersion: string): string {
  return `-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-${etcdVersion}`;
}

/** The Go packages of the etcd binaries: the server module's root is the etcd main package. */
export const ETCD_PACKAGES = {
  etcd: "go.etcd.io/etcd/server/v3",
  etcdctl: "go.etcd.io/etcd/etcdctl/v3",
  etcdutl: "go.etcd.io/etcd/etcdutl/v3",
} as const;

async function buildKubernetes(
  tool: GoTool,
  layout: BundleLayout,
  work: string,
  partial: string,
): Promise<void> {
  const kv = layout.kubernetesVersion;
  const dir = join(work, "kubernetes");
  await mkdir(dir, { recursive: true });
  tool.log(`[bundle] resolving k8s.io/kubernetes@${kv} on the module proxy`);
  const { goMod, time } = await download(tool, `k8s.io/kubernetes@${kv}`, dir);
  const module = kubernetesBuildModule(goMod, kv);
  await writeFile(join(dir, "go.mod"), module.goMod);
  tool.log(
    `[bundle] pinned ${module.staging.length} staging modules k8s.io/* to ${kv.replace(/^v1\./, "v0.")}`,
  );
  const binDir = dirname(join(partial, layout.kubernetes[0]!.path));
  await mkdir(binDir, { recursive: true });
  tool.log(`[bundle] building ${layout.kubernetes.map((b) => b.name).join(", ")} (a cold build takes long)`);
  await go(
    tool,
    [
      "build",
      "-trimpath",
      "-ldflags",
      kubernetesLdflags(kv, time),
      "-o",
      `${binDir}/`,
      ...layout.kubernetes.map((b) => `k8s.io/kubernetes/cmd/${b.name}`),
    ],
    dir,
  );
  for (const bin of layout.kubernetes) {
    const file = join(partial, bin.path);
    await chmod(file, 0o755);
    await writeFile(join(partial, bin.sha256Path), await sha256File(file));
  }
}

async function buildEtcd(tool: GoTool, layout: BundleLayout, work: string, partial: string): Promise<void> {
  const ev = layout.etcdVersion;
  const dir = join(work, "etcd");
  const out = join(work, "etcd-out");
  await mkdir(dir, { recursive: true });
  tool.log(`[bundle] resolving go.etcd.io/etcd/server/v3@${ev} on the module proxy`);
  const { goMod, time } = await download(tool, `${ETCD_PACKAGES.etcd}@${ev}`, dir);
  const server = parseGoMod(goMod);
  const lines = ["module khw.local/bundle/etcd", ""];
  if (server.go) lines.push(`go ${server.go}`, "");
  lines.push("require (", ...Object.values(ETCD_PACKAGES).map((p) => `\t${p} ${ev}`), ")", "");
  await writeFile(join(dir, "go.mod"), lines.join("\n"));
  const entries: TarInput[] = [{ path: `${layout.etcd.topDir}/`, mode: 0o755, type: "dir" }];
  for (const member of layout.etcd.members) {
    tool.log(`[bundle] building ${member.name} ${ev}`);
    const file = join(out, member.name);
    await go(
      tool,
      ["build", "-trimpath", "-ldflags", etcdLdflags(ev), "-o", file, ETCD_PACKAGES[member.name]],
      dir,
    );
    entries.push({ path: member.path, mode: 0o755, type: "file", file, size: (await stat(file)).size });
  }
  const tarball = await writeTar(join(partial, layout.etcd.tarball), entries, {
    gzip: true,
    mtime: Math.floor(time.getTime() / 1000),
  });
  await writeFile(join(partial, layout.etcd.sha256sums), `${tarball.sha256}  ${layout.etcd.tarballName}\n`);
}

/** The environment of the Go tool: module mode, no cgo, the target platform, the bundle's own caches. */
function goEnvironment(options: BuildBundleOptions, arch: BundleArch): Record<string, string> {
  const base = options.env ?? process.env;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  const root = defaultCacheRoot(base);
  Object.assign(env, {
    GOMODCACHE: options.goModCache ?? join(root, "go", "mod"),
    GOCACHE: options.goBuildCache ?? join(root, "go", "build"),
    GOFLAGS: "-mod=mod -buildvcs=false",
    GOWORK: "off",
    GOTOOLCHAIN: "local",
    CGO_ENABLED: "0",
    GOOS: "linux",
    GOARCH: arch,
    GOMAXPROCS: String(options.goMaxProcs ?? 2),
  });
  return env;
}

/**
 * Builds the Kubernetes server binaries, kubectl and etcd of the given versions from the Go module
 * proxy with the machine's Go, into the official download layout with SHA-256 files, cached under
 * `<cacheDir>/k8s-<v>_etcd-<v>-<arch>`. A cached bundle that passes its checksums is reused as is.
 */
export async function buildBundle(options: BuildBundleOptions): Promise<BundleResult> {
  const started = Date.now();
  const layout = bundleLayout(options);
  const log = options.onLog ?? (() => undefined);
  const cacheDir = bundleCacheDir(layout, options.cacheDir ?? defaultBundlesDir(options.env));
  const done = async (cached: boolean): Promise<BundleResult> => {
    const manifest = JSON.parse(await readFile(join(cacheDir, MANIFEST_FILE), "utf8")) as BundleManifest;
    const dir = await materialize(cacheDir, options.out, layout);
    return { dir, cacheDir, cached, layout, manifest, seconds: (Date.now() - started) / 1000 };
  };

  if (!options.force && (await cachedBundle(cacheDir, layout))) {
    log(`[bundle] cache hit: ${cacheDir}`);
    return done(true);
  }

  const unlock = await lockBundle(cacheDir, log);
  try {
    if (!options.force && (await cachedBundle(cacheDir, layout))) {
      log(`[bundle] cache hit (built meanwhile by another process): ${cacheDir}`);
      return await done(true);
    }
    const nice = options.nice ?? 19;
    const tool: GoTool = {
      command: options.go ?? "go",
      prefix: nice === false ? [] : ["nice", "-n", String(nice)],
      env: goEnvironment(options, layout.arch),
      log,
    };
    const goVersion = (
      await run(tool.command, ["env", "GOVERSION"], {
        env: tool.env,
        code: "GO_NOT_FOUND",
        hint: "Install Go (1.24 or newer for Kubernetes v1.34) and put `go` on PATH, or pass the `go` option.",
      })
    ).stdout.trim();
    log(
      `[bundle] building Kubernetes ${layout.kubernetesVersion} and etcd ${layout.etcdVersion} with ${goVersion}`,
    );
    log(`[bundle] GOMODCACHE=${tool.env["GOMODCACHE"]} GOCACHE=${tool.env["GOCACHE"]}`);

    const partial = await startPartial(cacheDir);
    const work = await mkdtemp(join(tmpdir(), "khw-bundle-build-"));
    try {
      await buildKubernetes(tool, layout, work, partial);
      await buildEtcd(tool, layout, work, partial);
      const digests: Record<string, string> = {};
      for (const bin of layout.kubernetes) digests[bin.path] = await sha256File(join(partial, bin.path));
      digests[layout.etcd.tarball] = await sha256File(join(partial, layout.etcd.tarball));
      const manifest = createManifest(layout, "go-modules", digests, goVersion);
      await writeFileAtomic(join(partial, MANIFEST_FILE), renderManifest(manifest));
      log("[bundle] checking every binary's checksum and version");
      const check = await verifyBundle(partial, layout, { requireManifest: true });
      if (!check.ok) {
        throw new BundleError(
          "BUNDLE_INVALID",
          `the freshly built bundle does not verify:\n${formatBundleIssues(check.issues)}`,
          "This is a bug in the build (ldflags or layout); the cache was left untouched.",
        );
      }
      await commitPartial(partial, cacheDir);
      log(`[bundle] built into ${cacheDir} in ${Math.round((Date.now() - started) / 1000)} s`);
    } finally {
      await rm(work, { recursive: true, force: true });
      await rm(partial, { recursive: true, force: true });
    }
  } finally {
    await unlock();
  }
  return done(false);
}
