import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { exists, sha256, sha256File, writeFileAtomic } from "./_fs";
import { run } from "./_run";
import { createTarGz } from "./_tar";
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

/** The CNI plugins khw's workers use (bridge-routes and kubelet's loopback; portmap for hostPort). */
export const CNI_PLUGINS = ["bridge", "host-local", "loopback", "portmap"] as const;

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

/** True when every runtime file is there and matches its checksum file. */
export async function runtimePresent(dir: string, v: RuntimeVersions): Promise<boolean> {
  for (const f of Object.values(runtimeLayout(v))) {
    if (!(await exists(join(dir, f.path))) || !(await exists(join(dir, f.checksumPath)))) return false;
    const want = (await readFile(join(dir, f.checksumPath), "utf8")).split(/\s+/)[0];
    if (want !== (await sha256File(join(dir, f.path)))) return false;
  }
  return true;
}

/**
 * Builds containerd (+ shim, ctr), runc and the CNI plugins with the machine's Go from the module proxy
 * and writes the release files + checksum files into `dir`. Skips when they are already there and verify.
 * Returns whether it built.
 */
export async function buildRuntime(o: BuildRuntimeOptions): Promise<boolean> {
  const log = o.onLog ?? (() => {});
  if (!o.force && (await runtimePresent(o.dir, o))) {
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
    log(
      `[runtime] resolving containerd v${o.containerdVersion}, runc v${o.runcVersion}, CNI plugins v${o.cniPluginsVersion}`,
    );
    await goRun([
      "get",
      `github.com/containerd/containerd/v2@v${o.containerdVersion}`,
      `github.com/opencontainers/runc@v${o.runcVersion}`,
      `github.com/containernetworking/plugins@v${o.cniPluginsVersion}`,
    ]);
    const out = join(work, "out");
    await mkdir(join(out, "cni"), { recursive: true });
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
    log("[runtime] building the CNI plugins");
    await goRun(
      [
        "build",
        "-trimpath",
        "-ldflags",
        "-s -w",
        "-o",
        `${out}/cni/`,
        ...CNI_PLUGINS.map((p) =>
          p === "host-local"
            ? "github.com/containernetworking/plugins/plugins/ipam/host-local"
            : p === "portmap"
              ? "github.com/containernetworking/plugins/plugins/meta/portmap"
              : `github.com/containernetworking/plugins/plugins/main/${p}`,
        ),
      ],
      { CGO_ENABLED: "0" },
    );
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
    const layout = runtimeLayout(o);
    const file = async (name: string) => ({ data: await readFile(join(out, name)), mode: 0o755 });
    const containerdTar = createTarGz([
      { path: "bin/", mode: 0o755, data: Buffer.alloc(0), type: "dir" },
      ...(await Promise.all(
        ["containerd", "containerd-shim-runc-v2", "ctr"].map(async (n) => ({
          path: `bin/${n}`,
          ...(await file(n)),
          type: "file" as const,
        })),
      )),
    ]);
    const cniTar = createTarGz(
      await Promise.all(
        CNI_PLUGINS.map(async (n) => ({
          path: `./${n}`,
          ...(await file(`cni/${n}`)),
          type: "file" as const,
        })),
      ),
    );
    const runc = await readFile(join(out, "runc"));
    for (const [f, data, mode] of [
      [layout.containerd, containerdTar, 0o644],
      [layout.cni, cniTar, 0o644],
      [layout.runc, runc, 0o755],
    ] as const) {
      await mkdir(dirname(join(o.dir, f.path)), { recursive: true });
      await writeFileAtomic(join(o.dir, f.path), data, mode);
      await writeFileAtomic(join(o.dir, f.checksumPath), `${sha256(data)}  ${basename(f.path)}\n`);
    }
    log("[runtime] containerd, runc and CNI plugins added to the bundle");
    return true;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
