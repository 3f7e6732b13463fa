import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { commitPartial, failureMessage, run as hostRun, sha256File, startPartial } from "@khw/host-io";
import { defaultCacheRoot, defaultImagesCacheDir, imagesCacheKey } from "./cache";
import { type DebPackage, DOC_PATHS, extractDebs, resolveDebs, treeContent } from "./debian";
import { type ImageSpec, imageArchive } from "./image";
import {
  BUSYBOX_DEBS,
  DEFAULT_LAB_IMAGE_VERSIONS,
  FLANNEL_DEBS,
  type LabImage,
  type LabImageVersions,
  labImages,
  NGINX_DEBS,
} from "./images";

export interface BuildLabImagesOptions {
  /** Where the image tarballs (and `khw-images.json`) are written. */
  outDir: string;
  /** Cache of built image sets; default `${XDG_CACHE_HOME:-~/.cache}/khw/images`. */
  cacheDir?: string;
  /** khw's cache root for the Go module/build caches (`<root>/go/{mod,build}`); default `~/.cache/khw`. */
  cacheRoot?: string;
  versions?: Partial<LabImageVersions>;
  /** Progress lines, prefixed `[images]`. */
  onLog?: (line: string) => void;
  /** Passed to the Go and gcc builds (default: GOMAXPROCS=2, nice 19). */
  goMaxProcs?: number;
  /** Only look: report whether the set is cached (and where), build and copy nothing. */
  cachedOnly?: boolean;
}

export interface BuiltLabImage extends LabImage {
  /** Absolute path of the tarball in outDir. */
  path: string;
  /** SHA-256 of the tarball. */
  sha256: string;
  /** The image ID (config digest) containerd shows after import. */
  configDigest: string;
}

export interface BuildLabImagesResult {
  images: BuiltLabImage[];
  /** Whether the set came from the cache (no build). */
  cached: boolean;
  cacheDir: string;
  seconds: number;
}

export const IMAGES_MANIFEST = "khw-images.json";

export class ImagesBuildError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = "ImagesBuildError";
  }
}

/** Runs a program; its stdout, or an ImagesBuildError naming it with its last stderr lines. */
async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; hint: string },
) {
  const r = await hostRun(cmd, args, opts).catch((e: Error) => {
    throw new ImagesBuildError(`${cmd} could not start: ${e.message}`, opts.hint);
  });
  if (r.code !== 0) throw new ImagesBuildError(failureMessage(cmd, args, r, 8), opts.hint);
  return r.stdout;
}

interface CacheManifest {
  versions: LabImageVersions;
  goVersion: string;
  images: Array<LabImage & { sha256: string; configDigest: string }>;
}

async function readCache(dir: string, wanted: LabImage[]): Promise<CacheManifest | undefined> {
  try {
    const m = JSON.parse(readFileSync(join(dir, IMAGES_MANIFEST), "utf8")) as CacheManifest;
    for (const w of wanted) {
      const e = m.images.find((i) => i.name === w.name && i.ref === w.ref && i.file === w.file);
      if (!e || !existsSync(join(dir, e.file))) return undefined;
      if ((await sha256File(join(dir, e.file))) !== e.sha256) return undefined;
    }
    return m;
  } catch {
    return undefined;
  }
}

/**
 * Builds the lab's images offline (pause from k8s.io/kubernetes' pause.c with gcc; the HTTP and toolbox stand-ins
 * and CoreDNS with Go from the module proxy) as docker-archive tarballs `ctr -n k8s.io images import` accepts,
 * cached per version set under `<cacheDir>/<key>/`, then copied to outDir. Needs `go` and `gcc`.
 */
export async function buildLabImages(options: BuildLabImagesOptions): Promise<BuildLabImagesResult> {
  const t0 = performance.now();
  const log = options.onLog ?? (() => {});
  const versions: LabImageVersions = { ...DEFAULT_LAB_IMAGE_VERSIONS, ...options.versions };
  const wanted = labImages(versions);
  const cacheRoot = options.cacheRoot ?? defaultCacheRoot();
  const goEnv: NodeJS.ProcessEnv = {
    ...process.env,
    GOMODCACHE: join(cacheRoot, "go", "mod"),
    GOCACHE: join(cacheRoot, "go", "build"),
    GOMAXPROCS: String(options.goMaxProcs ?? 2),
    GOFLAGS: "-trimpath",
    GOTOOLCHAIN: "local",
    GO111MODULE: "on",
  };
  const goHint = "install Go (https://go.dev/dl) and make the Go module proxy reachable (GOPROXY)";
  const goVersion = (await run("go", ["env", "GOVERSION"], { env: goEnv, hint: goHint })).trim();
  const debs = await resolveDebs([...new Set([...FLANNEL_DEBS, ...NGINX_DEBS, ...BUSYBOX_DEBS])]).catch(
    (e: Error) => {
      throw new ImagesBuildError(e.message, "install apt and dpkg (Debian/Ubuntu) and run apt-get update");
    },
  );
  const dir = join(
    options.cacheDir ?? defaultImagesCacheDir(),
    imagesCacheKey(
      versions,
      goVersion,
      debs.map((d) => d.file),
    ),
  );
  const outDir = resolve(options.outDir);
  if (options.cachedOnly) {
    return { images: [], cached: (await readCache(dir, wanted)) !== undefined, cacheDir: dir, seconds: 0 };
  }
  let manifest = await readCache(dir, wanted);
  const cached = manifest !== undefined;
  if (manifest) log(`[images] cached in ${dir}`);
  else {
    manifest = await buildInto(dir, versions, goVersion, goEnv, wanted, log, {
      debs,
      debDir: join(cacheRoot, "debs"),
    });
  }
  mkdirSync(outDir, { recursive: true });
  const images: BuiltLabImage[] = [];
  for (const w of wanted) {
    const e = manifest.images.find((i) => i.name === w.name);
    if (!e)
      throw new ImagesBuildError(
        `image ${w.name} missing from ${dir}`,
        "delete the cache directory and rebuild",
      );
    const path = join(outDir, e.file);
    if (resolve(dir) !== outDir) copyFileSync(join(dir, e.file), path);
    images.push({ ...w, path, sha256: e.sha256, configDigest: e.configDigest });
  }
  if (resolve(dir) !== outDir)
    writeFileSync(join(outDir, IMAGES_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return { images, cached, cacheDir: dir, seconds: (performance.now() - t0) / 1000 };
}

async function buildInto(
  dir: string,
  versions: LabImageVersions,
  goVersion: string,
  goEnv: NodeJS.ProcessEnv,
  wanted: LabImage[],
  log: (l: string) => void,
  deb: { debs: DebPackage[]; debDir: string },
): Promise<CacheManifest> {
  // assembled in <dir>.partial-<pid> (dead runs' partials removed), committed by a rename
  const work = await startPartial(dir);
  const src = join(work, "src");
  const bin = join(work, "bin");
  mkdirSync(src, { recursive: true });
  mkdirSync(bin, { recursive: true });
  const nice = (cmd: string, args: string[]) => ["-n", "19", cmd, ...args];
  const goHint = "check that `go` works and the Go module proxy is reachable (GOPROXY)";
  const staticEnv = { ...goEnv, CGO_ENABLED: "0" };

  // pause: the real pause.c of the Kubernetes release, static.
  log(`[images] pause: k8s.io/kubernetes@${versions.kubernetes} build/pause/linux/pause.c`);
  const dl = JSON.parse(
    await run("nice", nice("go", ["mod", "download", "-json", `k8s.io/kubernetes@${versions.kubernetes}`]), {
      cwd: work,
      env: goEnv,
      hint: goHint,
    }),
  ) as { Dir?: string };
  const pauseC = join(dl.Dir ?? "", "build", "pause", "linux", "pause.c");
  if (!dl.Dir || !existsSync(pauseC)) {
    throw new ImagesBuildError(
      `no build/pause/linux/pause.c in k8s.io/kubernetes@${versions.kubernetes}`,
      goHint,
    );
  }
  await run(
    "nice",
    nice("gcc", [
      "-Os",
      "-Wall",
      "-Werror",
      "-static",
      `-DVERSION=v${versions.pauseTag}-khw`,
      "-o",
      join(bin, "pause"),
      pauseC,
    ]),
    { env: goEnv, hint: "install gcc and the static C library (apt-get install -y gcc libc6-dev)" },
  );
  await run("strip", [join(bin, "pause")], { hint: "install binutils" });

  // CoreDNS from its module.
  log(`[images] coredns: go install github.com/coredns/coredns@v${versions.coredns} (cold: minutes)`);
  await run(
    "nice",
    nice("go", ["install", "-ldflags=-s -w", `github.com/coredns/coredns@v${versions.coredns}`]),
    { cwd: work, env: { ...staticEnv, GOBIN: bin }, hint: goHint },
  );

  const flannel = await buildFlannel(work, bin, versions.flannel, goEnv, log);

  // Debian packages: a root per image, read back as the image's one layer.
  const debRoot = async (name: string, names: readonly string[]) => {
    const picked = deb.debs.filter((d) => names.includes(d.name));
    log(`[images] ${name}: Debian ${picked.map((d) => `${d.name} ${d.version}`).join(", ")}`);
    const root = join(work, `${name}-root`);
    await extractDebs(picked, deb.debDir, root).catch((e: Error) => {
      throw new ImagesBuildError(e.message, "install apt and dpkg (Debian/Ubuntu) and run apt-get update");
    });
    return { root, picked };
  };
  const upstreamOf = (picked: DebPackage[], pkg: string, want: string) => {
    const v = picked.find((d) => d.name === pkg)!.version;
    if (v.replace(/^\d+:/, "").replace(/-[^-]*$/, "") !== want) {
      throw new ImagesBuildError(
        `the archive's ${pkg} is ${v}, not upstream version ${want}`,
        `set versions.${pkg === "nginx" ? "nginx" : "busybox"} to the archive's upstream version (apt-cache policy ${pkg})`,
      );
    }
  };
  const fl = await debRoot("flannel", FLANNEL_DEBS);
  const iptables = treeContent(fl.root, DOC_PATHS);
  const ng = await debRoot("nginx", NGINX_DEBS);
  upstreamOf(ng.picked, "nginx", versions.nginx);
  const nginxTree = treeContent(ng.root, DOC_PATHS);
  const nginxIndex = readFileSync(join(ng.root, "usr/share/nginx/html/index.html"));
  const bb = await debRoot("busybox", BUSYBOX_DEBS);
  upstreamOf(bb.picked, "busybox-static", versions.busybox);
  const busyboxTree = treeContent(bb.root, DOC_PATHS);
  const applets = (
    await run(join(bb.root, "bin/busybox"), ["--list-full"], { hint: "busybox-static must run here" })
  )
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && l !== "bin/busybox" && l !== "linuxrc")
    .sort();
  for (const r of [fl.root, ng.root, bb.root]) rmSync(r, { recursive: true, force: true });

  const file = (p: string) => readFileSync(join(bin, p));
  const specs: Record<string, Omit<ImageSpec, "ref">> = {
    pause: { files: [{ path: "/pause", data: file("pause") }], entrypoint: ["/pause"], user: "65535:65535" },
    // what the packages' maintainer scripts and the official nginx image do: users, the default site, logs to the pod log
    nginx: {
      files: [
        ...nginxTree.files,
        { path: "/etc/passwd", data: Buffer.from(PASSWD), mode: 0o644 },
        { path: "/etc/group", data: Buffer.from(GROUP), mode: 0o644 },
        { path: "/var/www/html/index.nginx-debian.html", data: nginxIndex, mode: 0o644 },
      ],
      symlinks: [
        ...nginxTree.symlinks,
        { path: "/etc/nginx/sites-enabled/default", target: "/etc/nginx/sites-available/default" },
        { path: "/var/log/nginx/access.log", target: "/dev/stdout" },
        { path: "/var/log/nginx/error.log", target: "/dev/stderr" },
      ],
      dirs: [...nginxTree.dirs, { path: "/run", mode: 0o755 }],
      entrypoint: ["nginx", "-g", "daemon off;"],
      exposedPorts: ["80/tcp"],
    },
    busybox: {
      files: busyboxTree.files,
      symlinks: [...busyboxTree.symlinks, ...applets.map((a) => ({ path: `/${a}`, target: "/bin/busybox" }))],
      dirs: busyboxTree.dirs,
      cmd: ["sh"],
    },
    coredns: {
      files: [{ path: "/coredns", data: file("coredns") }],
      entrypoint: ["/coredns"],
      exposedPorts: ["53/tcp", "53/udp", "9153/tcp"],
    },
    flannel: {
      files: [
        ...iptables.files,
        { path: "/opt/bin/flanneld", data: flannel.flanneld },
        { path: "/opt/bin/install-conf", data: flannel.installConf },
      ],
      // what update-alternatives does in iptables' postinst: the nft backend, Debian's default
      dirs: [...iptables.dirs, { path: "/run/flannel", mode: 0o755 }],
      symlinks: [
        ...iptables.symlinks,
        ...["iptables", "ip6tables"].flatMap((t) =>
          ["", "-save", "-restore"].map((s) => ({ path: `/usr/sbin/${t}${s}`, target: `${t}-nft${s}` })),
        ),
      ],
      entrypoint: ["/opt/bin/flanneld"],
    },
  };
  const manifest: CacheManifest = { versions, goVersion, images: [] };
  for (const w of wanted) {
    const spec = specs[w.name];
    if (!spec) throw new ImagesBuildError(`no recipe for image ${w.name}`, "this is a bug in @khw/images");
    const a = await imageArchive({ ...spec, ref: w.ref }, join(work, w.file));
    manifest.images.push({ ...w, sha256: a.sha256, configDigest: a.configDigest });
    log(`[images] ${w.ref} → ${w.file} (${(a.size / 1e6).toFixed(1)} MB)`);
  }
  writeFileSync(join(work, IMAGES_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  rmSync(src, { recursive: true, force: true });
  rmSync(bin, { recursive: true, force: true });
  await commitPartial(work, dir);
  return manifest;
}

/**
 * flanneld and install-conf from the flannel module, as its Makefile builds them but with CGO_ENABLED=0: the module's
 * source copied out of the module cache and two backend imports dropped from main.go — udp (cgo only) and
 * tencentvpc (its SDK module is refused by the Go module proxy). Cold ~3 min, warm ~6 s.
 */
async function buildFlannel(
  work: string,
  bin: string,
  version: string,
  goEnv: NodeJS.ProcessEnv,
  log: (l: string) => void,
): Promise<{ flanneld: Buffer; installConf: Buffer }> {
  const t0 = performance.now();
  const goHint = "check that `go` works and the Go module proxy is reachable (GOPROXY)";
  const mod = `github.com/flannel-io/flannel@${version}`;
  log(`[images] flannel: ${mod} (CGO_ENABLED=0; cold: minutes)`);
  const dl = JSON.parse(
    await run("nice", ["-n", "19", "go", "mod", "download", "-json", mod], {
      cwd: work,
      env: goEnv,
      hint: goHint,
    }),
  ) as { Dir?: string };
  if (!dl.Dir || !existsSync(join(dl.Dir, "main.go"))) {
    throw new ImagesBuildError(`no main.go in ${mod}`, goHint);
  }
  const src = join(work, "flannel-src");
  await run("cp", ["-r", "--no-preserve=mode", dl.Dir, src], { hint: "needs GNU cp" });
  const dropped = ["udp", "tencentvpc"].map((b) => `_ "github.com/flannel-io/flannel/pkg/backend/${b}"`);
  const main = readFileSync(join(src, "main.go"), "utf8").split("\n");
  const kept = main.filter((l) => !dropped.includes(l.trim()));
  if (main.length - kept.length !== dropped.length) {
    throw new ImagesBuildError(
      `${mod}'s main.go does not import the udp and tencentvpc backends as expected`,
      "update buildFlannel in @khw/images for this flannel version",
    );
  }
  writeFileSync(join(src, "main.go"), kept.join("\n"));
  await run(
    "nice",
    [
      "-n",
      "19",
      "go",
      "build",
      "-ldflags",
      `-s -w -X github.com/flannel-io/flannel/pkg/version.Version=${version}`,
      "-o",
      `${bin}/`,
      ".",
      "./cmd/install_conf",
    ],
    { cwd: src, env: { ...goEnv, CGO_ENABLED: "0", GOFLAGS: "-trimpath -mod=mod" }, hint: goHint },
  );
  rmSync(src, { recursive: true, force: true });
  log(`[images] flannel: built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return {
    flanneld: readFileSync(join(bin, "flannel")),
    installConf: readFileSync(join(bin, "install_conf")),
  };
}

const PASSWD =
  "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP = "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n";
