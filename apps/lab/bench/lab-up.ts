/**
 * `pnpm --filter @khw/lab bench`: labUp/labDown of the default 5-host lab with a cached base,
 * N times (KHW_BENCH_RUNS, default 3), plus memory per idle host. Needs root; prints why not otherwise.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labUnavailableReason } from "@khw/test-kit/lab";
import { acquireLabLock, ensureBaseImage, labDown, labStatus, labUp } from "../src/index";

const reason = labUnavailableReason();
if (reason) {
  console.log(`lab bench skipped: ${reason}`);
  process.exit(0);
}
const runs = Number(process.env.KHW_BENCH_RUNS ?? 3);
const labName = "bench";
const workdir = mkdtempSync(join(tmpdir(), "khw-lab-bench-"));
const release = await acquireLabLock({ purpose: "lab bench", waitForNetwork: true });
try {
  const base = await ensureBaseImage({ onLog: (l) => l.startsWith("[base] built") && console.log(l) });
  if (base.buildSeconds > 0) console.log(`base build (cold): ${base.buildSeconds.toFixed(1)} s`);
  for (let i = 1; i <= runs; i++) {
    const load = (await import("node:os")).loadavg()[0]!.toFixed(1);
    const up = await labUp({ workdir, labName, force: true });
    const status = await labStatus({ labName });
    const mem = status.hosts.map((h) => (h.memoryBytes / 1e6).toFixed(1)).join("/");
    const down = await labDown({ labName });
    console.log(
      `run ${i}: ready ${up.timings.bootSeconds.toFixed(1)} s, labUp ${up.timings.totalSeconds.toFixed(1)} s, ` +
        `labDown ${down.seconds.toFixed(1)} s, PSS per host ${mem} MB (load ${load})`,
    );
  }
} finally {
  await labDown({ labName }).catch(() => {});
  release();
  rmSync(workdir, { recursive: true, force: true });
}
