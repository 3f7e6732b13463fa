#!/usr/bin/env node
import * as nodeModule from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";
import { VERSION } from "./version";

// Node ≥ 22.1 keeps the compiled code of khw's modules between runs (start-up); Node 20 has no such API.
// The cache lives under khw's cache root, `${XDG_CACHE_HOME:-~/.cache}/khw/node-compile-cache` (Node's
// own NODE_COMPILE_CACHE=dir moves it, NODE_DISABLE_COMPILE_CACHE=1 turns it off); Node keys it by its
// version and each file's content, so an upgrade of khw or Node never reads a stale entry.
const enableCompileCache = (nodeModule as { enableCompileCache?: (dir: string) => unknown })
  .enableCompileCache;
if (enableCompileCache) {
  const { NODE_COMPILE_CACHE, XDG_CACHE_HOME, HOME } = process.env;
  const cacheHome = XDG_CACHE_HOME || join(HOME || homedir(), ".cache");
  enableCompileCache(NODE_COMPILE_CACHE || join(cacheHome, "khw", "node-compile-cache"));
}

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === "--version") {
  // The one line scripts call most: no command tree to load for it.
  process.stdout.write(`${VERSION}\n`);
} else {
  const [{ processIo }, { main }] = await Promise.all([import("./io"), import("./main")]);
  process.exitCode = await main(argv, processIo());
}
