/**
 * Builds (or reuses) the bundle of the versions the spec pins and prints what it cost:
 *   node --import tsx apps/bundle/bench/build-pinned.ts [--force]
 * Wrap it in `/usr/bin/time -v` for the peak memory. A cold build takes about an hour on 2 cores.
 */
import { buildBundle, formatBundleIssues, verifyBundle } from "../src/index";

const versions = { kubernetesVersion: "v1.34.4", etcdVersion: "v3.6.16" };
const force = process.argv.includes("--force");
const result = await buildBundle({ ...versions, force, onLog: (line) => console.error(line) });
console.log(
  `bundle: ${result.dir} (${result.cached ? "cache hit" : "built"} in ${result.seconds.toFixed(1)} s)`,
);
const check = await verifyBundle(result.dir, versions, { requireManifest: true });
for (const b of check.binaries) console.log(`  ${b.ok ? "ok " : "BAD"} ${b.binary}: ${b.output}`);
if (!check.ok) {
  console.error(formatBundleIssues(check.issues));
  process.exit(1);
}
