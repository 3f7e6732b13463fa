#!/usr/bin/env node
import * as nodeModule from "node:module";
import { VERSION } from "./version";

// Node ≥ 22.1 caches compiled code between runs (start-up); Node 20 has no such API.
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === "--version") {
  // The one line scripts call most: no command tree to load for it.
  process.stdout.write(`${VERSION}\n`);
} else {
  const [{ processIo }, { main }] = await Promise.all([import("./io"), import("./main")]);
  process.exitCode = await main(argv, processIo());
}
