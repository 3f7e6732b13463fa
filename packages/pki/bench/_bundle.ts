import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "tsup";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, "..");
const repo = join(pkgDir, "../..");

/** Every workspace package from its sources (what `pnpm khw` runs, without tsx's start-up cost). */
const WORKSPACE_ALIASES: Record<string, string> = {
  "@khw/pki": join(pkgDir, "src/index.ts"),
  "@khw/spec": join(repo, "packages/spec/src/index.ts"),
  "@khw/addons": join(repo, "packages/addons/src/index.ts"),
  "@khw/haproxy-config": join(repo, "packages/haproxy-config/src/index.ts"),
  "@khw/kubeconfig": join(repo, "packages/kubeconfig/src/index.ts"),
  "@khw/remote-exec": join(repo, "packages/remote-exec/src/index.ts"),
  "@khw/systemd-units": join(repo, "packages/systemd-units/src/index.ts"),
  "@khw/bundle": join(repo, "apps/bundle/src/index.ts"),
  "@khw/lab": join(repo, "apps/lab/src/index.ts"),
};

async function bundle(name: string, entry: string, outDir: string): Promise<string> {
  await build({
    entry: { [name]: entry },
    format: ["esm"],
    platform: "node",
    target: "node20",
    outDir,
    // Everything inlined but ssh2's optional native bindings (loaded in a try/catch: absent is fine).
    noExternal: [/^(?!cpu-features$)(?!.*\.node$)/],
    external: ["cpu-features", /\.node$/],
    splitting: false,
    dts: false,
    silent: true,
    config: false,
    clean: false,
    treeshake: true,
    shims: true,
    outExtension: () => ({ js: ".mjs" }),
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    esbuildOptions(options) {
      options.alias = WORKSPACE_ALIASES;
    },
  });
  return join(outDir, `${name}.mjs`);
}

/** Bundles the bench entry point (with @khw/pki and @khw/spec from source) into one ESM file. */
export function bundleEntry(outDir: string): Promise<string> {
  return bundle("khw-gen", join(here, "_khw-gen.ts"), outDir);
}

/**
 * The CLI users run: apps/cli/dist/bin.js, built by turbo with the CLI's own build configuration (a
 * no-op when neither it nor a workspace package it bundles changed since the last build).
 */
export function builtCli(): string {
  execFileSync(
    "pnpm",
    ["exec", "turbo", "run", "build", "--filter=@khw/cli...", "--output-logs=errors-only"],
    {
      cwd: repo,
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const bin = join(repo, "apps/cli/dist/bin.js");
  if (!existsSync(bin)) throw new Error(`the build did not produce ${bin}`);
  return bin;
}
