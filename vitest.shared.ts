import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = dirname(fileURLToPath(import.meta.url));

/** Every workspace package resolves to its TypeScript sources: tests never need a build. */
function sourceAliases(): Record<string, string> {
  const aliases: Record<string, string> = {};
  for (const dir of ["packages", "apps"]) {
    for (const name of readdirSync(join(root, dir))) {
      aliases[`@khw/${name}`] = join(root, dir, name, "src", "index.ts");
    }
  }
  return aliases;
}

export function khwVitestConfig(options: { testTimeout?: number } = {}) {
  return defineConfig({
    resolve: { alias: sourceAliases() },
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: options.testTimeout ?? 20_000,
      hookTimeout: 60_000,
      passWithNoTests: false,
    },
  });
}
