import { sha256, type TarInput, tarBuffer, writeTar } from "@khw/host-io";

/** What goes into a single-layer linux/amd64 image. */
export interface ImageSpec {
  /** Full reference the image is tagged with, e.g. `registry.k8s.io/pause:3.10`. */
  ref: string;
  /** Files of the one layer (parent directories are added). */
  files: Array<{ path: string; data: Buffer; mode?: number }>;
  symlinks?: Array<{ path: string; target: string }>;
  /** Directories that must exist even when empty (e.g. /run, a log directory), with their mode. */
  dirs?: Array<{ path: string; mode: number }>;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  exposedPorts?: string[];
  user?: string;
  workingDir?: string;
}

/** The layer tar of an image: its files under their parent directories, plus /etc and /tmp (mount points). */
export function imageLayer(spec: Pick<ImageSpec, "files" | "symlinks" | "dirs">): Promise<Buffer> {
  const dirs = new Set<string>(["etc/", "tmp/"]);
  const rel = (p: string) => p.replace(/^\/+/, "");
  const addParents = (p: string) => {
    const parts = rel(p).split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(`${parts.slice(0, i).join("/")}/`);
  };
  for (const f of spec.files) addParents(f.path);
  for (const l of spec.symlinks ?? []) addParents(l.path);
  const modes = new Map<string, number>([["tmp/", 0o1777]]);
  for (const d of spec.dirs ?? []) {
    addParents(`${d.path}/x`);
    modes.set(`${rel(d.path)}/`, d.mode);
  }
  const entries: TarInput[] = [...dirs]
    .sort()
    .map((d) => ({ path: d, mode: modes.get(d) ?? 0o755, type: "dir" as const }));
  for (const f of spec.files)
    entries.push({ path: rel(f.path), mode: f.mode ?? 0o755, type: "file", data: f.data });
  for (const l of spec.symlinks ?? [])
    entries.push({ path: rel(l.path), mode: 0o777, type: "symlink", linkname: l.target });
  return tarBuffer(entries);
}

/** The image config (OCI image config / Docker v2 config JSON). */
export function imageConfig(spec: ImageSpec, layer: Buffer): Record<string, unknown> {
  const config: Record<string, unknown> = {
    Env: spec.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
  };
  if (spec.entrypoint) config.Entrypoint = spec.entrypoint;
  if (spec.cmd) config.Cmd = spec.cmd;
  if (spec.user) config.User = spec.user;
  if (spec.workingDir) config.WorkingDir = spec.workingDir;
  if (spec.exposedPorts) config.ExposedPorts = Object.fromEntries(spec.exposedPorts.map((p) => [p, {}]));
  return {
    architecture: "amd64",
    os: "linux",
    created: "1970-01-01T00:00:00Z",
    config,
    rootfs: { type: "layers", diff_ids: [`sha256:${sha256(layer)}`] },
    history: [{ created: "1970-01-01T00:00:00Z", created_by: "khw images (built offline from source)" }],
  };
}

export interface ImageArchive {
  /** Where the docker-archive tarball was written (`ctr -n k8s.io images import` and `docker load` accept it). */
  file: string;
  /** SHA-256 (hex) and size of the tarball. */
  sha256: string;
  size: number;
  /** `sha256:…` of the config JSON: the image ID containerd shows. */
  configDigest: string;
  layerDigest: string;
}

/**
 * Writes a single-layer image as a docker-archive tarball to `file` (streamed, through a temporary name):
 * `manifest.json` (RepoTags = the reference), the config JSON named by its digest, and the uncompressed
 * layer, all written deterministically (same input, same bytes).
 */
export async function imageArchive(spec: ImageSpec, file: string): Promise<ImageArchive> {
  if (!/^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+:[\w.-]+$/.test(spec.ref)) {
    throw new Error(`image reference must be fully qualified with a tag: ${spec.ref}`);
  }
  const layer = await imageLayer(spec);
  const layerHex = sha256(layer);
  const configJson = Buffer.from(JSON.stringify(imageConfig(spec, layer)));
  const configHex = sha256(configJson);
  const manifest = [{ Config: `${configHex}.json`, RepoTags: [spec.ref], Layers: [`${layerHex}/layer.tar`] }];
  const repositories = {
    [spec.ref.slice(0, spec.ref.lastIndexOf(":"))]: {
      [spec.ref.slice(spec.ref.lastIndexOf(":") + 1)]: layerHex,
    },
  };
  const tarball = await writeTar(file, [
    { path: `${layerHex}/`, mode: 0o755, type: "dir" },
    { path: `${layerHex}/layer.tar`, mode: 0o644, type: "file", data: layer },
    { path: `${configHex}.json`, mode: 0o644, type: "file", data: configJson },
    { path: "manifest.json", mode: 0o644, type: "file", data: Buffer.from(JSON.stringify(manifest)) },
    { path: "repositories", mode: 0o644, type: "file", data: Buffer.from(JSON.stringify(repositories)) },
  ]);
  return {
    file,
    sha256: tarball.sha256,
    size: tarball.size,
    configDigest: `sha256:${configHex}`,
    layerDigest: `sha256:${layerHex}`,
  };
}
