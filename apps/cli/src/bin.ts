#!/usr/bin/env node
import { mkdirSync, statSync } from "node:fs";
import * as nodeModule from "node:module";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { VERSION } from "./version";

// Node ≥ 22.1 keeps the compiled code of khw's modules between runs (start-up); Node 20 has no such API.
// The cache lives under khw's cache root, `${XDG_CACHE_HOME:-~/.cache}/khw/node-compile-cache`; Node keys
// it by its version and each file's content, so an upgrade of khw or Node never reads a stale entry.
// Node's own NODE_COMPILE_CACHE=dir (Node enables that one itself) and NODE_DISABLE_COMPILE_CACHE=1 win.
const enableCompileCache = (nodeModule as { enableCompileCache?: (dir: string) => unknown })
  .enableCompileCache;
const { NODE_COMPILE_CACHE, NODE_DISABLE_COMPILE_CACHE, XDG_CACHE_HOME, HOME } = process.env;
if (enableCompileCache && !NODE_COMPILE_CACHE && !NODE_DISABLE_COMPILE_CACHE) {
  const dir = compileCacheDir(XDG_CACHE_HOME || join(HOME || homedir(), ".cache"));
  if (dir) enableCompileCache(dir);
}

/**
 * `<cache home>/khw/node-compile-cache`, made one directory at a time when missing, or undefined when it
 * cannot be made: Node's recursive mkdir (enableCompileCache's too) never returns for a path under /proc,
 * so khw makes the directories itself and leaves the cache off rather than hang.
 */
function compileCacheDir(cacheHome: string): string | undefined {
  const target = resolve(cacheHome, "khw", "node-compile-cache");
  const isDir = (p: string) => statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;
  try {
    if (isDir(target)) return target;
    let dir = "/";
    for (const part of target.split("/").filter(Boolean)) {
      dir = join(dir, part);
      if (isDir(dir)) continue;
      mkdirSync(dir); // one level: an error (ENOENT under /proc, ENOTDIR, EACCES) ends it
    }
    return target;
  } catch {
    return undefined;
  }
}

// A reader that goes away (`khw --help | head -3`, a closed pager) is not an error of khw's: what is
// left of the output is dropped and the command still finishes (a `khw up` is never cut short half-way
// through a host because its output has no reader). Any other stream error still ends the run.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED") return;
    throw e;
  });
}

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === "--version") {
  // The one line scripts call most: no command tree to load for it.
  process.stdout.write(`${VERSION}\n`);
} else {
  const [{ processIo }, { main }] = await Promise.all([import("./io"), import("./main")]);
  process.exitCode = await main(argv, processIo());
}
