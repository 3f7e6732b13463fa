import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "tsup";

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, "..");

/** Bundles the bench entry point (with @khw/pki and @khw/spec from source) into one ESM file. */
export async function bundleEntry(outDir: string): Promise<string> {
  await build({
    entry: { "khw-gen": join(here, "_khw-gen.ts") },
    format: ["esm"],
    platform: "node",
    target: "node20",
    outDir,
    noExternal: [/.*/],
    splitting: false,
    dts: false,
    silent: true,
    config: false,
    clean: false,
    treeshake: true,
    outExtension: () => ({ js: ".mjs" }),
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    esbuildOptions(options) {
      options.alias = {
        "@khw/pki": join(pkgDir, "src/index.ts"),
        "@khw/spec": join(pkgDir, "../spec/src/index.ts"),
      };
    },
  });
  return join(outDir, "khw-gen.mjs");
}
