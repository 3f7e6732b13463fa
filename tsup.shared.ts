import { defineConfig } from "tsup";

/** Every package: ESM + CJS + .d.ts from src/index.ts, dependencies left external. */
export function khwTsupConfig(entry: string[] = ["src/index.ts"]) {
  return defineConfig({
    entry,
    format: ["esm", "cjs"],
    dts: { compilerOptions: { paths: {} } },
    tsconfig: "tsconfig.build.json",
    sourcemap: false,
    clean: true,
    target: "node20",
    platform: "node",
    splitting: false,
    treeshake: true,
  });
}
