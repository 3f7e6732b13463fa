import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import type { GeneratedFile } from "@khw/spec";
import { CliError } from "../errors";
import { writeFileAtomic } from "../fs-atomic";

/** The list of files the last `khw gen` wrote into an output directory (so stale ones can be removed). */
export const TREE_INDEX = ".khw-gen.json";

export interface TreeWriteResult {
  /** Relative paths written (new or changed content or mode). */
  written: string[];
  unchanged: string[];
  /** Relative paths of files from the previous gen that no longer belong, removed. */
  removed: string[];
}

/** `DIR/<host>/<absolute path on that host>` as a path relative to DIR. */
export function treePath(file: Pick<GeneratedFile, "host" | "path">): string {
  const rel = file.path.replace(/^\/+/, "");
  if (rel.split("/").some((part) => part === ".." || part === "")) {
    throw new Error(`refusing to write ${file.host}:${file.path} (not a plain path)`);
  }
  return `${file.host}/${rel}`;
}

function readIndex(dir: string): string[] {
  const p = join(dir, TREE_INDEX);
  if (!existsSync(p)) return [];
  try {
    const data = JSON.parse(readFileSync(p, "utf8")) as { files?: unknown };
    return Array.isArray(data.files) ? data.files.filter((f): f is string => typeof f === "string") : [];
  } catch {
    return [];
  }
}

/**
 * Writes files into `DIR/<host>/<path>` atomically, skipping those whose content and mode already
 * match, and removes files that the previous run wrote but that no longer belong (only those: other
 * files in DIR are never touched). Returns what changed.
 */
export function writeArtifactTree(dir: string, files: readonly GeneratedFile[]): TreeWriteResult {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new CliError("OUTPUT_NOT_DIR", `${dir} exists and is not a directory`, "pass another -o DIR");
  }
  const result: TreeWriteResult = { written: [], unchanged: [], removed: [] };
  const now = new Set<string>();
  for (const f of files) {
    const rel = treePath(f);
    now.add(rel);
    const abs = join(dir, rel);
    const want = Buffer.from(f.contents);
    if (existsSync(abs)) {
      const st = statSync(abs);
      if (st.isFile() && (st.mode & 0o777) === f.mode && readFileSync(abs).equals(want)) {
        result.unchanged.push(rel);
        continue;
      }
    }
    writeFileAtomic(abs, want, f.mode);
    result.written.push(rel);
  }
  for (const rel of readIndex(dir)) {
    if (now.has(rel)) continue;
    const abs = join(dir, rel);
    if (relative(dir, abs).startsWith("..")) continue;
    if (existsSync(abs)) {
      rmSync(abs, { force: true });
      result.removed.push(rel);
      pruneEmptyDirs(dir, dirname(abs));
    }
  }
  const index = `${JSON.stringify({ generatedBy: "khw gen", files: [...now].sort() }, null, 2)}\n`;
  const indexPath = join(dir, TREE_INDEX);
  if (!existsSync(indexPath) || readFileSync(indexPath, "utf8") !== index)
    writeFileAtomic(indexPath, index, 0o644);
  return result;
}

function pruneEmptyDirs(root: string, from: string): void {
  let d = from;
  while (d.startsWith(root + sep) && d !== root) {
    try {
      if (readdirSync(d).length > 0) return;
      rmdirSync(d);
    } catch {
      return;
    }
    d = dirname(d);
  }
}
