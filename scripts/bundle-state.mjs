#!/usr/bin/env node
// Prints what the tests' pinned binaries depend on — the bundle of the pinned versions (its manifest and
// runtime checksums) or "absent" — so turbo's cache key (KHW_BUNDLE_STATE, turbo.json) changes when the
// bundle appears, disappears or is rebuilt: a test run cached while it was missing is never replayed.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const cache = process.env.XDG_CACHE_HOME || join(process.env.HOME || homedir(), ".cache");
const dir = process.env.KHW_BUNDLE_DIR || join(cache, "khw", "bundles", "k8s-v1.34.4_etcd-v3.6.16-amd64");
const manifest = join(dir, "khw-bundle.json");
if (!existsSync(manifest)) {
  process.stdout.write("absent");
} else {
  const h = createHash("sha256").update(readFileSync(manifest));
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.sha256(sum)?$/.test(e.name)) h.update(readFileSync(p));
    }
  };
  walk(join(dir, "github.com"));
  process.stdout.write(h.digest("hex").slice(0, 16));
}
