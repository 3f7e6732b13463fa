import { spawn } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
} from "node:fs";
import { join } from "node:path";
import type { ImageSpec } from "./image";

/**
 * Debian packages as image content: `apt-get download` (the machine's configured archive) into a cache of .deb
 * files named by exact version, `dpkg-deb -x` into a root directory, read back as the files and symlinks of a
 * single-layer image. No maintainer scripts run: what they would do (alternatives, users) the recipe states.
 */

export interface DebPackage {
  name: string;
  /** The exact version (with epoch), as apt-cache reports the candidate. */
  version: string;
  /** File name in the deb cache: `<name>_<version without epoch>_<arch>.deb`. */
  file: string;
}

function capture(cmd: string, args: string[], opts: { cwd?: string; hint: string }): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c;
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      err = (err + c).slice(-8_000);
    });
    child.on("error", (e) => rej(new Error(`${cmd} could not start: ${e.message} (${opts.hint})`)));
    child.on("close", (code) =>
      code === 0
        ? res(out)
        : rej(new Error(`${cmd} ${args.join(" ")} failed (exit ${code}): ${err.trim()} (${opts.hint})`)),
    );
  });
}

const APT_HINT = "needs Debian's apt with a reachable archive (apt-get update) and dpkg-deb";

/** The candidate version of each package (apt-cache, no network): the image's cache key names them. */
export async function resolveDebs(names: readonly string[]): Promise<DebPackage[]> {
  const out = await capture("apt-cache", ["show", "--no-all-versions", ...names], { hint: APT_HINT });
  const found = new Map<string, DebPackage>();
  for (const stanza of out.split(/\n\n+/)) {
    const field = (f: string) => new RegExp(`^${f}: (.+)$`, "m").exec(stanza)?.[1]?.trim();
    const name = field("Package");
    const version = field("Version");
    const arch = field("Architecture");
    if (!name || !version || !arch || found.has(name)) continue;
    found.set(name, { name, version, file: `${name}_${version.replace(/^\d+:/, "")}_${arch}.deb` });
  }
  return names.map((n) => {
    const p = found.get(n);
    if (!p) throw new Error(`apt-cache knows no package ${n} (${APT_HINT})`);
    return p;
  });
}

/** Downloads the packages missing from `debDir` (exact versions), then extracts them all into `root`. */
export async function extractDebs(debs: readonly DebPackage[], debDir: string, root: string): Promise<void> {
  mkdirSync(debDir, { recursive: true });
  const missing = debs.filter((d) => !existsSync(join(debDir, d.file)));
  if (missing.length > 0) {
    // apt-get download writes into the working directory; a private one, then rename (no half-written .deb)
    const tmp = join(debDir, `.download-${process.pid}`);
    mkdirSync(tmp, { recursive: true });
    await capture("apt-get", ["download", ...missing.map((d) => `${d.name}=${d.version}`)], {
      cwd: tmp,
      hint: APT_HINT,
    });
    for (const d of missing) {
      const got = readdirSync(tmp).find((f) => f.startsWith(`${d.name}_`) && f.endsWith(".deb"));
      if (!got) throw new Error(`apt-get download did not fetch ${d.name}=${d.version}`);
      renameSync(join(tmp, got), join(debDir, d.file));
    }
  }
  mkdirSync(root, { recursive: true });
  for (const d of debs) await capture("dpkg-deb", ["-x", join(debDir, d.file), root], { hint: APT_HINT });
}

/** Every directory, regular file and symlink under `root` (sorted, so the layer is byte-stable), as image content. */
export function treeContent(root: string, skip: (path: string) => boolean = () => false) {
  const files: ImageSpec["files"] = [];
  const symlinks: NonNullable<ImageSpec["symlinks"]> = [];
  const dirs: NonNullable<ImageSpec["dirs"]> = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = `${rel}/${name}`;
      if (skip(path)) continue;
      const st = lstatSync(join(root, path));
      if (st.isDirectory()) {
        dirs.push({ path, mode: st.mode & 0o7777 });
        walk(path);
      } else if (st.isSymbolicLink()) symlinks.push({ path, target: readlinkSync(join(root, path)) });
      else if (st.isFile())
        files.push({ path, data: readFileSync(join(root, path)), mode: st.mode & 0o7777 });
    }
  };
  walk("");
  return { files, symlinks, dirs };
}

/** Documentation, manuals and locales: never needed in an image. */
export const DOC_PATHS = (path: string) => /^\/usr\/share\/(doc|man|info|lintian|locale)(\/|$)/.test(path);
