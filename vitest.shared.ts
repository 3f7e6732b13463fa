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
  for (const dir of ["packages", "apps", "internal"]) {
    for (const name of readdirSync(join(root, dir))) {
      const src = join(root, dir, name, "src");
      if (!existsSync(src)) continue;
      if (existsSync(join(src, "index.ts"))) {
        aliases.push({ find: new RegExp(`^@khw/${name}$`), replacement: join(src, "index.ts") });
      }
      aliases.push({ find: new RegExp(`^@khw/${name}/(.+)$`), replacement: `${src}/$1.ts` });
    }
  }
  return aliases;
}

interface TestModuleLike {
  moduleId: string;
  children: { allTests(): Iterable<{ fullName: string; result(): { state: string } }> };
}

/**
 * Prints one line per run — how many tests ran and how many were skipped — and under CI (CI set) fails
 * the run when any test was skipped: a test that skips in CI proves nothing.
 */
class SkipSummary {
  onTestRunEnd(modules: ReadonlyArray<TestModuleLike>): void {
    let total = 0;
    const skipped: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        total++;
        if (t.result().state === "skipped") skipped.push(`${relativeToRoot(m.moduleId)} › ${t.fullName}`);
      }
    }
    console.log(`khw: ${total} tests, ${skipped.length} skipped`);
    if (skipped.length > 0 && process.env["CI"]) {
      throw new Error(`skipped under CI (a skipped test is a failure here):\n  ${skipped.join("\n  ")}`);
    }
  }
}

const relativeToRoot = (path: string) => (path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path);

export function khwVitestConfig(options: { testTimeout?: number } = {}) {
  return defineConfig({
    resolve: { alias: sourceAliases() },
    test: {
      reporters: ["default", new SkipSummary()],
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: options.testTimeout ?? 20_000,
      hookTimeout: 60_000,
      passWithNoTests: false,
    },
  });
}
