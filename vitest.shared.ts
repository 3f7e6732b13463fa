import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = dirname(fileURLToPath(import.meta.url));

/**
 * Every workspace package resolves to its TypeScript sources, so tests never need a build:
 * `@khw/x` → `<dir>/x/src/index.ts`, a subpath `@khw/x/y` → `<dir>/x/src/y.ts`.
 */
function sourceAliases(): { find: RegExp; replacement: string }[] {
  const aliases: { find: RegExp; replacement: string }[] = [];
  for (const dir of ["packages", "apps"]) {
    for (const name of readdirSync(join(root, dir))) {
      const src = join(root, dir, name, "src");
      if (!existsSync(join(src, "index.ts"))) continue;
      aliases.push({ find: new RegExp(`^@khw/${name}$`), replacement: join(src, "index.ts") });
      aliases.push({ find: new RegExp(`^@khw/${name}/(.+)$`), replacement: `${src}/$1.ts` });
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
