#!/usr/bin/env node
// Packs the package in the current directory and checks the tarball with publint and
// arethetypeswrong, offline — the same bytes a user would install from npm.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "khw-pack-"));
try {
  execFileSync("pnpm", ["pack", "--pack-destination", dir], { stdio: ["ignore", "ignore", "inherit"] });
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error("pnpm pack produced no tarball");
  const file = join(dir, tarball);
  execFileSync("publint", ["run", file, "--strict"], { stdio: "inherit" });
  execFileSync("attw", [file, "--format", "table-flipped"], { stdio: "inherit" });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
