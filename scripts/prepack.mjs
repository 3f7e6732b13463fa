#!/usr/bin/env node
// `prepack` of every published package: a tarball is never packed from a missing or stale build.
// Builds (turbo: the package and its workspace dependencies) when dist/ is absent or older than any source or config file, then checks
// that every file package.json points at (main, module, types, exports, bin) exists — so `pnpm pack`
// or `changeset publish` straight after a clone builds first instead of shipping README + package.json.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));

function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(path)) m = Math.max(m, newest(join(path, e)));
  return m;
}
function oldest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = Number.POSITIVE_INFINITY;
  for (const e of readdirSync(path)) m = Math.min(m, oldest(join(path, e)));
  return m === Number.POSITIVE_INFINITY ? 0 : m;
}

/** Every relative file the manifest points at. */
function pointedAt(p) {
  const out = new Set();
  const walk = (v) => {
    if (typeof v === "string") {
      if (v.startsWith("./") && !v.includes("*")) out.add(v);
    } else if (v && typeof v === "object") for (const x of Object.values(v)) walk(x);
  };
  walk([p.main, p.module, p.types, p.exports, typeof p.bin === "string" ? p.bin : p.bin]);
  return [...out].map((f) => (f.startsWith("./") ? f : `./${f}`));
}

const sources = Math.max(
  newest("src"),
  newest("package.json"),
  newest("tsup.config.ts"),
  newest("tsconfig.build.json"),
  newest("../../tsup.shared.ts"),
);
const built = oldest("dist");
const missing = pointedAt(pkg).filter((f) => !existsSync(f));
if (built === 0 || built < sources || missing.length > 0) {
  process.stderr.write(`${pkg.name}: building before packing (dist/ is missing or older than src/)\n`);
  // The package and the workspace packages it depends on (their .d.ts feed its own), through turbo.
  execFileSync(
    "pnpm",
    ["exec", "turbo", "run", "build", `--filter=${pkg.name}...`, "--output-logs=errors-only"],
    {
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
}
const still = pointedAt(pkg).filter((f) => !existsSync(f));
if (still.length > 0) {
  process.stderr.write(`${pkg.name}: the build did not produce ${still.join(", ")}; refusing to pack\n`);
  process.exit(1);
}
if (!existsSync("LICENSE")) {
  process.stderr.write(`${pkg.name}: no LICENSE in the package directory (copy the repository's LICENSE)\n`);
  process.exit(1);
}
