// Golden files: one file per generated artifact (`goldenFile`) or a whole generated tree (`goldenChecker`).
// `UPDATE_GOLDEN=1` rewrites them; in CI a missing golden file fails instead of being written.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { GeneratedFile } from "@khw/spec";
import { expect } from "vitest";

/** A checker comparing text with `<goldenDir>/<name>`; a missing file is written (outside CI). */
export function goldenFile(goldenDir: string): (name: string, actual: string) => void {
  return (name, actual) => {
    const file = join(goldenDir, name);
    if (process.env["UPDATE_GOLDEN"] === "1" || !existsSync(file)) {
      if (process.env["UPDATE_GOLDEN"] !== "1" && process.env["CI"]) {
        throw new Error(`golden file ${name} is missing; run with UPDATE_GOLDEN=1 and commit it`);
      }
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, actual);
    }
    expect(actual).toBe(readFileSync(file, "utf8"));
  };
}

function walk(dir: string): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  for (const n of names) {
    const p = join(dir, n);
    out = statSync(p).isDirectory() ? out.concat(walk(p)) : out.concat(p);
  }
  return out;
}

/** A checker comparing every file with <golden dir>/<spec>/<host>/<path> (UPDATE_GOLDEN=1 rewrites them), and flags stale ones. */
export function goldenChecker(goldenDir: string): (spec: string, files: GeneratedFile[]) => void {
  const GOLDEN = goldenDir;
  return (spec, files) => {
    const root = join(GOLDEN, spec);
    const update = process.env["UPDATE_GOLDEN"] === "1";
    if (update) rmSync(root, { recursive: true, force: true });
    const expected = new Set<string>();
    for (const f of files) {
      const p = join(root, f.host, f.path);
      expected.add(p);
      if (update) {
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, f.contents);
      } else {
        let golden: string;
        try {
          golden = readFileSync(p, "utf8");
        } catch {
          throw new Error(
            `no golden file ${relative(GOLDEN, p)}: run with UPDATE_GOLDEN=1 and review the diff`,
          );
        }
        expect(f.contents, relative(GOLDEN, p)).toBe(golden);
      }
    }
    const stale = walk(root).filter((p) => !expected.has(p));
    expect(
      stale.map((p) => relative(GOLDEN, p)),
      "golden files nobody generates",
    ).toEqual([]);
  };
}
