// The workspace as a stranger receives it: a copy of the tracked (and new, not ignored) files, no
// dist/, no node_modules; and the third-party packages its published packages need at run time.
import { type ExecFileSyncOptions, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, sep } from "node:path";

export const REPO_ROOT = join(dirname(new URL(import.meta.url).pathname), "..", "..");

export function run(
  cmd: string,
  args: string[],
  options: ExecFileSyncOptions & { timeoutS?: number } = {},
): string {
  const { timeoutS = 300, ...rest } = options;
  try {
    return String(
      execFileSync(cmd, args, {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: timeoutS * 1000,
        maxBuffer: 64 * 1024 * 1024,
        ...rest,
      }),
    );
  } catch (e) {
    const err = e as { status?: number; signal?: string; stdout?: string; stderr?: string };
    throw new Error(
      `${cmd} ${args.join(" ")} (in ${String(rest.cwd ?? ".")}) failed: ${err.signal ? `killed by ${err.signal}` : `exit ${err.status}`}\n${String(err.stdout ?? "").slice(-4000)}\n${String(err.stderr ?? "").slice(-4000)}`,
    );
  }
}

/** Copies the files git knows (tracked, or new and not ignored) into `dest`; returns it. */
export function copyWorkspace(dest: string): string {
  const files = run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: REPO_ROOT,
  })
    .split("\0")
    .filter(Boolean);
  for (const f of files) {
    const from = join(REPO_ROOT, f);
    if (!existsSync(from)) continue; // deleted in the work tree
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    cpSync(from, join(dest, f), { preserveTimestamps: true });
  }
  return dest;
}

export interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  publishConfig?: { registry?: string };
}

export const readPackageJson = (dir: string): PackageJson =>
  JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageJson;

/** The workspace packages that get published (not private), as directories of the copy. */
export function publishedPackageDirs(root: string): string[] {
  const dirs: string[] = [];
  for (const group of ["packages", "apps"]) {
    for (const name of run("ls", [join(root, group)])
      .split("\n")
      .filter(Boolean)) {
      const dir = join(root, group, name);
      if (existsSync(join(dir, "package.json")) && !readPackageJson(dir).private) dirs.push(dir);
    }
  }
  return dirs;
}

/** The node_modules directory a package's own dependencies resolve from (pnpm's layout). */
function resolutionRoot(realDir: string, isWorkspacePackage: boolean): string {
  if (isWorkspacePackage) return join(realDir, "node_modules");
  const i = realDir.lastIndexOf(`${sep}node_modules${sep}`);
  return realDir.slice(0, i + `${sep}node_modules`.length);
}

/**
 * Every third-party package (its installed directory) that the given workspace packages need at run
 * time, transitively: dependencies, optional dependencies that are installed, peer dependencies;
 * `extra` adds installed third-party packages (and their closure) a consumer needs too.
 */
export function runtimeClosure(workspaceDirs: string[], extra: string[] = []): string[] {
  const seen = new Set<string>(extra.map((d) => realpathSync(d)));
  const queue: { dir: string; workspace: boolean }[] = [
    ...workspaceDirs.map((dir) => ({ dir, workspace: true })),
    ...[...seen].map((dir) => ({ dir, workspace: false })),
  ];
  while (queue.length > 0) {
    const { dir, workspace } = queue.shift()!;
    const pkg = readPackageJson(dir);
    const names = [
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}),
    ];
    const root = resolutionRoot(dir, workspace);
    for (const name of new Set(names)) {
      if (name.startsWith("@khw/")) continue;
      const link = join(root, name);
      if (!existsSync(link)) continue; // an optional dependency not installed on this platform
      const real = realpathSync(link);
      if (seen.has(real)) continue;
      seen.add(real);
      queue.push({ dir: real, workspace: false });
    }
  }
  return [...seen].sort();
}
