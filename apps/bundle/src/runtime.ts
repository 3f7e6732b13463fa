import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { readTar, sha256File, type TarInput, writeFileAtomic, writeTar } from "@khw/host-io";
import { exists } from "./_fs";
import { run } from "./_run";
import { BundleError } from "./errors";

/**
 * The container runtime of the workers — containerd, runc and the CNI plugins — built from the Go
 * module proxy into the same official layout as the Kubernetes binaries, so `khw up` installs and
 * verifies them with the same code whether they came from GitHub releases, a mirror or this bundle.
 */
export interface RuntimeVersions {
  /** e.g. `2.1.4` (no v) */
  containerdVersion: string;
  /** e.g. `1.3.3` */
  runcVersion: string;
  /** e.g. `1.8.0` */
  cniPluginsVersion: string;
}

export interface RuntimeFile {
  /** Bundle-relative path of the release file. */
  path: string;
  /** Bundle-relative path of its checksum file (`<hex>  <name>` lines). */
  checksumPath: string;
}

/**
 * The CNI plugins khw's workers use (bridge-routes and kubelet's loopback; portmap for hostPort; flannel for
 * `podNetwork: flannel` with `addons.images.flannelCniPlugin: null`). flannel is not in containernetworking/plugins
 * since v1.0 (it moved to flannel-io/cni-plugin, which the Go module proxy does not serve): it is built from
 * {@link FLANNEL_CNI_PLUGIN_MODULE}, the last release holding it.
 */
export const CNI_PLUGINS = ["bridge", "host-local", "loopback", "portmap", "flannel"] as const;
export const FLANNEL_CNI_PLUGIN_MODULE = "github.com/containernetworking/plugins@v0.9.1";

type RuntimeComponent = "containerd" | "runc" | "cni";

const VERSION = /^\d+\.\d+\.\d+$/;

/** Where each runtime release file lives in the official layout (paths of @khw/spec's binaryArtifacts). */
export function runtimeLayout(
  v: RuntimeVersions,
  arch = "amd64",
): Record<"containerd" | "runc" | "cni", RuntimeFile> {
  for (const field of ["containerdVersion", "runcVersion", "cniPluginsVersion"] as const) {
    const value = v[field];
    if (!VERSION.test(value)) {
      throw new BundleError(
        "BAD_VERSION",
        `${field} "${value}" is not a version like 1.2.3`,
        "pass versions without a leading v",
      );
    }
  }
  const ctr = `github.com/containerd/containerd/releases/download/v${v.containerdVersion}`;
  const ctrName = `containerd-${v.containerdVersion}-linux-${arch}.tar.gz`;
  const runc = `github.com/opencontainers/runc/releases/download/v${v.runcVersion}`;
  const cni = `github.com/containernetworking/plugins/releases/download/v${v.cniPluginsVersion}`;
  const cniName = `cni-plugins-linux-${arch}-v${v.cniPluginsVersion}.tgz`;
  return {
    containerd: { path: `${ctr}/${ctrName}`, checksumPath: `${ctr}/${ctrName}.sha256sum` },
    runc: { path: `${runc}/runc.${arch}`, checksumPath: `${runc}/runc.sha256sum` },
    cni: { path: `${cni}/${cniName}`, checksumPath: `${cni}/${cniName}.sha256` },
  };
}

export interface BuildRuntimeOptions extends RuntimeVersions {
  /** The bundle directory to add the runtime to. */
  dir: string;
  goModCache: string;
  goBuildCache: string;
  go?: string;
  force?: boolean;
  onLog?: (line: string) => void;
}

/** Whether one runtime file is there, matches its checksum file and (the CNI archive) holds every plugin. */
async function componentPresent(dir: string, c: RuntimeComponent, f: RuntimeFile): Promise<boolean> {
  if (!(await exists(join(dir, f.path))) || !(await exists(join(dir, f.checksumPath)))) return false;
  const want = (await readFile(join(dir, f.checksumPath), "utf8")).split(/\s+/)[0];
  if (want !== (await sha256File(join(dir, f.path)))) return false;
  if (c !== "cni") return true;
  try {
    const names = new Set((await readTar(join(dir, f.path), { gzip: true, data: false })).map((e) => e.path));
    return CNI_PLUGINS.every((p) => names.has(`./${p}`));
  } catch {
    return false;
  }
}

/** The runtime components missing from `dir` (absent, not matching their checksum, or a CNI archive without a plugin). */
export async function runtimeMissing(dir: string, v: RuntimeVersions): Promise<RuntimeComponent[]> {
  const missing: RuntimeComponent[] = [];
  for (const [c, f] of Object.entries(runtimeLayout(v)) as [RuntimeComponent, RuntimeFile][]) {
    if (!(await componentPresent(dir, c, f))) missing.push(c);
  }
  return missing;
}

/** True when every runtime file is there and matches its checksum file (and the CNI archive has every plugin). */
export async function runtimePresent(dir: string, v: RuntimeVersions): Promise<boolean> {
  return (await runtimeMissing(dir, v)).length === 0;
}

/**
 * Builds containerd (+ shim, ctr), runc and the CNI plugins with the machine's Go from the module proxy
 * and writes the release files + checksum files into `dir`. Builds only the components that are missing or
 * do not verify (a CNI archive without a newly listed plugin is rebuilt alone). Returns whether it built.
 */
export async function buildRuntime(o: BuildRuntimeOptions): Promise<boolean> {
  const log = o.onLog ?? (() => {});
  const missing: RuntimeComponent[] = o.force
    ? ["containerd", "runc", "cni"]
    : await runtimeMissing(o.dir, o);
  if (missing.length === 0) {
    log("[runtime] containerd, runc and CNI plugins already in the bundle");
    return false;
  }
  const go = o.go ?? "go";
  const work = await mkdtemp(join(tmpdir(), "khw-runtime-"));
  try {
    const env = {
      ...process.env,
      GOMODCACHE: o.goModCache,
      GOCACHE: o.goBuildCache,
      GOFLAGS: "-mod=mod",
      GOTOOLCHAIN: "local",
      GOMAXPROCS: "2",
      GOWORK: "off",
    };
    const goRun = (args: string[], extra: Record<string, string> = {}) =>
      run("nice", ["-n", "19", go, ...args], {
        cwd: work,
        env: { ...env, ...extra },
        onLine: (l) => log(`[runtime] ${l}`),
        code: "GO_FAILED",
        hint: "check that the Go module proxy is reachable (go env GOPROXY) and that gcc and libseccomp-dev are installed (runc needs cgo and libseccomp.a)",
      });
    await writeFile(join(work, "go.mod"), "module khw.local/runtime\n\ngo 1.24\n");
    const modules = {
      containerd: `github.com/containerd/containerd/v2@v${o.containerdVersion}`,
      runc: `github.com/opencontainers/runc@v${o.runcVersion}`,
      cni: `github.com/containernetworking/plugins@v${o.cniPluginsVersion}`,
    };
    log(`[runtime] building ${missing.map((c) => modules[c]).join(", ")}`);
    await goRun(["get", ...missing.map((c) => modules[c])]);
    const out = join(work, "out");
    await mkdir(join(out, "cni"), { recursive: true });
    const layout = runtimeLayout(o);
    const file = async (name: string) => ({
      file: join(out, name),
      size: (await stat(join(out, name))).size,
      mode: 0o755,
    });
    const archive = async (name: string, entries: TarInput[]) => {
      await writeTar(join(work, name), entries, { gzip: true });
      return join(work, name);
    };
    const written: Array<readonly [RuntimeFile, string, number]> = [];
    if (missing.includes("containerd")) {
      log("[runtime] building containerd, containerd-shim-runc-v2, ctr");
      await goRun(
        [
          "build",
          "-trimpath",
          "-ldflags",
          `-s -w -X github.com/containerd/containerd/v2/version.Version=v${o.containerdVersion}`,
          "-o",
          `${out}/`,
          "github.com/containerd/containerd/v2/cmd/containerd",
          "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
          "github.com/containerd/containerd/v2/cmd/ctr",
        ],
        { CGO_ENABLED: "0" },
      );
      const containerdTar = await archive("containerd.tar.gz", [
        { path: "bin/", mode: 0o755, type: "dir" },
        ...(await Promise.all(
          ["containerd", "containerd-shim-runc-v2", "ctr"].map(async (n) => ({
            path: `bin/${n}`,
            ...(await file(n)),
            type: "file" as const,
          })),
        )),
      ]);
      written.push([layout.containerd, containerdTar, 0o644]);
    }
    if (missing.includes("cni")) {
      const t0 = performance.now();
      log("[runtime] building the CNI plugins");
      const fromModule = CNI_PLUGINS.filter((p) => p !== "flannel");
      await goRun(
        [
          "build",
          "-trimpath",
          "-ldflags",
          "-s -w",
          "-o",
          `${out}/cni/`,
          ...fromModule.map((p) =>
            p === "host-local"
              ? "github.com/containernetworking/plugins/plugins/ipam/host-local"
              : p === "portmap"
                ? "github.com/containernetworking/plugins/plugins/meta/portmap"
                : `github.com/containernetworking/plugins/plugins/main/${p}`,
          ),
        ],
        { CGO_ENABLED: "0" },
      );
      const [mod, version] = FLANNEL_CNI_PLUGIN_MODULE.split("@") as [string, string];
      log(`[runtime] building the flannel CNI plugin (${FLANNEL_CNI_PLUGIN_MODULE})`);
      // its own module graph (go install pkg@version), so it never moves the other plugins' version
      await goRun(["install", "-trimpath", "-ldflags", "-s -w", `${mod}/plugins/meta/flannel@${version}`], {
        CGO_ENABLED: "0",
        GOFLAGS: "",
        GOBIN: join(out, "cni"),
      });
      log(`[runtime] CNI plugins built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const cniTar = await archive(
        "cni.tar.gz",
        await Promise.all(
          CNI_PLUGINS.map(async (n) => ({
            path: `./${n}`,
            ...(await file(`cni/${n}`)),
            type: "file" as const,
          })),
        ),
      );
      written.push([layout.cni, cniTar, 0o644]);
    }
    if (missing.includes("runc")) {
      log("[runtime] building runc (cgo, seccomp, static)");
      await goRun(
        [
          "build",
          "-trimpath",
          "-tags",
          "seccomp urfave_cli_no_docs netgo osusergo",
          "-ldflags",
          `-s -w -X main.version=${o.runcVersion} -extldflags "-static"`,
          "-o",
          `${out}/runc`,
          "github.com/opencontainers/runc",
        ],
        { CGO_ENABLED: "1" },
      );
      written.push([layout.runc, join(out, "runc"), 0o755]);
    }
    for (const [f, built, mode] of written) {
      const target = join(o.dir, f.path);
      await mkdir(dirname(target), { recursive: true });
      const tmp = `${target}.tmp-${process.pid}`;
      await copyFile(built, tmp);
      await chmod(tmp, mode);
      await rename(tmp, target);
      await writeFileAtomic(
        join(o.dir, f.checksumPath),
        `${await sha256File(target)}  ${basename(f.path)}\n`,
      );
    }
    log(`[runtime] ${missing.join(", ")} added to the bundle`);
    return true;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
