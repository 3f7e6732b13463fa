#!/usr/bin/env node
// Packs the package in the current directory and checks the tarball with publint and
// arethetypeswrong, offline — the same bytes a user would install from npm — and what npm users
// expect of it: the LICENSE, repository/homepage/bugs/keywords, `^` ranges for internal
// dependencies, a changeset (or a changelog) for the next release.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const problems = [];

for (const field of ["repository", "homepage", "bugs", "keywords", "license"])
  if (!pkg[field] || (Array.isArray(pkg[field]) && pkg[field].length === 0))
    problems.push(`package.json has no ${field}`);
if (!pkg.scripts?.prepack)
  problems.push("package.json has no prepack script (a pack without a build ships no dist/)");
for (const [dep, range] of Object.entries(pkg.dependencies ?? {}))
  if (dep.startsWith("@khw/") && range !== "workspace:^")
    problems.push(
      `dependency ${dep} is '${range}': use 'workspace:^' (an exact pin forces a release of every dependent)`,
    );

const changesets = readdirSync(join(root, ".changeset")).filter(
  (f) => f.endsWith(".md") && f !== "README.md",
);
const named = changesets.some((f) =>
  readFileSync(join(root, ".changeset", f), "utf8")
    .split("---")[1]
    ?.includes(`"${pkg.name}"`),
);
if (!named && !existsSync("CHANGELOG.md")) problems.push("no changeset names this package (pnpm changeset)");

// Every package the built code imports must be declared (a strict install, pnpm's, has nothing else).
const declared = new Set([
  ...Object.keys(pkg.dependencies ?? {}),
  ...Object.keys(pkg.peerDependencies ?? {}),
]);
const builtins = new Set(builtinModules);
if (existsSync("dist")) {
  for (const f of readdirSync("dist").filter((x) => /\.(c|m)?js$/.test(x))) {
    const code = readFileSync(join("dist", f), "utf8");
    const pkgName = `(@[a-z0-9][\\w.~-]*/)?[a-z0-9][\\w.~-]*(/[\\w.~/-]*)?`;
    const importRe = new RegExp(
      `(?:^\\s*(?:import|export)\\b[^;"']*?\\bfrom\\s*|^\\s*import\\s*|\\bimport\\(\\s*|\\brequire\\(\\s*)["'](${pkgName})["']`,
      "gm",
    );
    for (const m of code.matchAll(importRe)) {
      const spec = m[1];
      if (spec.startsWith("node:") || builtins.has(spec) || builtins.has(spec.split("/")[0])) continue;
      const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
      if (!declared.has(name))
        problems.push(`dist/${f} imports '${spec}', which package.json does not declare`);
    }
  }
}

// An ES module has no __filename or __dirname: CommonJS code bundled into one that uses them fails only when
// that code runs (write-file-atomic did, in `khw lab up` and `khw bundle build` of the built CLI).
if (existsSync("dist")) {
  const esm = (f) => f.endsWith(".mjs") || (f.endsWith(".js") && pkg.type === "module");
  for (const f of readdirSync("dist").filter(esm)) {
    const code = readFileSync(join("dist", f), "utf8").replace(/^\s*(?:import|export)\s*\{[^}]*\}/gm, "");
    const free = /(?<![\w$.])__(?:file|dir)name(?![\w$])/.exec(code);
    if (free && !/\b(?:var|let|const)\s+__(?:file|dir)name\b/.test(code))
      problems.push(
        `dist/${f} uses ${free[0]}, which an ES module does not have (tsup's \`shims: true\` defines it from import.meta.url)`,
      );
  }
}

const dir = mkdtempSync(join(tmpdir(), "khw-pack-"));
try {
  execFileSync("pnpm", ["pack", "--pack-destination", dir], { stdio: ["ignore", "ignore", "inherit"] });
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error("pnpm pack produced no tarball");
  const file = join(dir, tarball);
  const files = execFileSync("tar", ["tzf", file], { encoding: "utf8" }).split("\n").filter(Boolean);
  if (!files.includes("package/LICENSE")) problems.push("the tarball has no LICENSE");
  else {
    execFileSync("tar", ["xzf", file, "-C", dir, "package/LICENSE"]);
    if (readFileSync(join(dir, "package/LICENSE"), "utf8") !== readFileSync(join(root, "LICENSE"), "utf8"))
      problems.push("the tarball's LICENSE differs from the repository's");
  }
  if (!files.some((f) => f.startsWith("package/dist/"))) problems.push("the tarball has no dist/");
  execFileSync("publint", ["run", file, "--strict"], { stdio: "inherit" });
  // An ESM-only package (no "require" condition anywhere) is checked as one.
  const esmOnly = !JSON.stringify(pkg.exports ?? {}).includes('"require"');
  execFileSync("attw", [file, "--format", "table-flipped", ...(esmOnly ? ["--profile", "esm-only"] : [])], {
    stdio: "inherit",
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (problems.length) {
  process.stderr.write(
    `${pkg.name}: ${problems.length} packaging problem(s):\n${problems.map((p) => `  - ${p}`).join("\n")}\n`,
  );
  process.exit(1);
}
