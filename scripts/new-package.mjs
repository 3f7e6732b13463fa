#!/usr/bin/env node
// Scaffolds a workspace package: `node scripts/new-package.mjs packages/foo "One-line description"`.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

const [dir, description = ""] = process.argv.slice(2);
if (!dir || !/^(packages|apps)\/[a-z0-9-]+$/.test(dir)) {
  console.error('usage: node scripts/new-package.mjs packages/<name> "description"');
  process.exit(2);
}
if (existsSync(dir)) {
  console.error(`${dir} exists already`);
  process.exit(1);
}
const name = `@khw/${basename(dir)}`;
// Every published package carries the same repository metadata (scripts/check-pack.mjs checks it).
const cli = JSON.parse(readFileSync("apps/cli/package.json", "utf8"));
const repo = cli.repository.url.replace(/^git\+/, "").replace(/\.git$/, "");
const pkg = {
  name,
  version: "0.0.0",
  description,
  keywords: ["kubernetes", "kubernetes-the-hard-way"],
  homepage: `${repo}/tree/main/${dir}#readme`,
  bugs: cli.bugs,
  repository: { ...cli.repository, directory: dir },
  license: "Apache-2.0",
  type: "module",
  sideEffects: false,
  files: ["dist"],
  main: "./dist/index.cjs",
  module: "./dist/index.js",
  types: "./dist/index.d.cts",
  exports: {
    ".": {
      import: { types: "./dist/index.d.ts", default: "./dist/index.js" },
      require: { types: "./dist/index.d.cts", default: "./dist/index.cjs" },
    },
    "./package.json": "./package.json",
  },
  engines: { node: ">=20" },
  scripts: {
    build: "tsup",
    typecheck: "tsc -p tsconfig.json",
    test: "vitest run",
    "check:pack": "node ../../scripts/check-pack.mjs",
    prepack: "node ../../scripts/prepack.mjs",
  },
  publishConfig: { access: "public" },
};
const files = {
  "package.json": `${JSON.stringify(pkg, null, 2)}\n`,
  "tsconfig.json": `${JSON.stringify({ extends: "../../tsconfig.json", include: ["src", "test", "bench"] }, null, 2)}\n`,
  "tsconfig.build.json": `${JSON.stringify({ extends: "../../tsconfig.base.json", include: ["src"], exclude: ["src/**/*.test.ts"] }, null, 2)}\n`,
  "tsup.config.ts": `import { khwTsupConfig } from "../../tsup.shared";\n\nexport default khwTsupConfig();\n`,
  "vitest.config.ts": `import { khwVitestConfig } from "../../vitest.shared";\n\nexport default khwVitestConfig();\n`,
  "README.md": `# ${name}\n\n${description}\n`,
  "src/index.ts": `export {};\n`,
  LICENSE: readFileSync("LICENSE", "utf8"),
  [`../../.changeset/${basename(dir)}-initial.md`]: `---\n"${name}": minor\n---\n\n${description}\n`,
};
mkdirSync(join(dir, "src"), { recursive: true });
for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
console.log(`created ${dir} (${name})`);
