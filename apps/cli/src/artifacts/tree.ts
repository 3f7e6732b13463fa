import {
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { dirname, isAbsolute, join, sep } from "node:path";
import type { GeneratedFile } from "@khw/spec/core";
import { CliError, fsErrorToCliError } from "../errors";
import {
  assertNoLinkInside,
  ensureDirInside,
  lstatIfAny,
  removeStaleTempsBelow,
  symlinkRefusal,
  writeFileAtomic,
} from "../fs-atomic";

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

const ROOT_NAME = "the output directory";

/** A relative path the index may name: plain components only (anything else is ignored). */
function plainRelative(rel: string): boolean {
  return (
    rel.length > 0 && !isAbsolute(rel) && rel.split("/").every((p) => p !== "" && p !== "." && p !== "..")
  );
}

function readIndex(dir: string): string[] {
  const p = join(dir, TREE_INDEX);
  const st = lstatIfAny(p);
  if (st === undefined) return [];
  if (st.isSymbolicLink()) throw symlinkRefusal(p, dir, ROOT_NAME);
  if (!st.isFile()) return [];
  try {
    const data = JSON.parse(readFileSync(p, "utf8")) as { files?: unknown };
    return Array.isArray(data.files)
      ? data.files.filter((f): f is string => typeof f === "string" && plainRelative(f))
      : [];
  } catch {
    return [];
  }
}

/** True if `path`'s real location is inside `root`'s real location (no link led elsewhere). */
function reallyInside(root: string, path: string): boolean {
  try {
    const r = realpathSync(root);
    const p = realpathSync(path);
    return p.startsWith(r + sep);
  } catch {
    return false;
  }
}

/**
 * Writes files into `DIR/<host>/<path>` atomically, skipping those whose content and mode already
 * match, and removes files that the previous run wrote but that no longer belong (only those: other
 * files in DIR are never touched). No symbolic link inside DIR is ever followed, for writing or for
 * removing: one found on the way is refused with an error naming it, before anything is written.
 * Temp files a killed earlier run left in DIR are removed. Returns what changed.
 */
export function writeArtifactTree(dir: string, files: readonly GeneratedFile[]): TreeWriteResult {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new CliError("OUTPUT_NOT_DIR", `${dir} exists and is not a directory`, "pass another -o DIR");
  }
  ensureDirInside(dir, dir, ROOT_NAME);
  const result: TreeWriteResult = { written: [], unchanged: [], removed: [] };
  const now = new Set<string>();
  for (const f of files) now.add(treePath(f));
  const stale = readIndex(dir).filter((rel) => !now.has(rel));
  // Check every path first: a link anywhere refuses the whole run before a byte is written.
  for (const rel of [...now, ...stale, TREE_INDEX]) assertNoLinkInside(dir, join(dir, rel), ROOT_NAME);
  removeStaleTempsBelow(dir);
  const checkedDirs = new Set<string>();
  for (const f of files) {
    const rel = treePath(f);
    const abs = join(dir, rel);
    const want = Buffer.from(f.contents);
    const st = lstatIfAny(abs);
    if (st?.isFile() && (st.mode & 0o777) === f.mode && readFileSync(abs).equals(want)) {
      result.unchanged.push(rel);
      continue;
    }
    // A render of pki/ and the spec: atomic, not fsynced (the next gen compares and rewrites it).
    writeFileAtomic(abs, want, f.mode, { root: dir, rootName: ROOT_NAME, durable: false, checkedDirs });
    result.written.push(rel);
  }
  for (const rel of stale) {
    const abs = join(dir, rel);
    assertNoLinkInside(dir, abs, ROOT_NAME);
    const st = lstatIfAny(abs);
    if (!st?.isFile() || !reallyInside(dir, abs)) continue;
    try {
      unlinkSync(abs);
    } catch (e) {
      throw fsErrorToCliError(e) ?? e;
    }
    result.removed.push(rel);
    pruneEmptyDirs(dir, dirname(abs));
  }
  const index = `${JSON.stringify({ generatedBy: "khw gen", files: [...now].sort() }, null, 2)}\n`;
  const indexPath = join(dir, TREE_INDEX);
  const indexStat = lstatIfAny(indexPath);
  if (!indexStat?.isFile() || readFileSync(indexPath, "utf8") !== index)
    writeFileAtomic(indexPath, index, 0o644, { root: dir, rootName: ROOT_NAME });
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
