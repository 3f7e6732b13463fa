/**
 * Scale bench, on demand (`pnpm --filter @khw/e2e bench:scale`, not in CI): a lab of 3 control planes, a
 * load balancer and N workers for each N in KHW_SCALE_WORKERS (default 2,5,10,20), brought up by `khw up`;
 * the wall time of the first run and of a converged (no-op) run are printed for each N, with the ratio to
 * the smallest N. `khw lab up --raise-limits` raises the machine's inotify limits the kubelets share.
 */
import { afterAll, beforeAll, describe, expect } from "vitest";
import { holdLabLock, labSkipReason, startLab, stopLab } from "./_lab";
import { scenario, summaryTable } from "./_scenario";
import { khw } from "./_support";

const SUITE = "scale";
const unavailable = labSkipReason(SUITE);
const SIZES = (process.env["KHW_SCALE_WORKERS"] ?? "2,5,10,20").split(",").map(Number);
/** `khw up --concurrency` (hosts of a phase at once; khw's default is 5). */
const CONCURRENCY = process.env["KHW_SCALE_CONCURRENCY"];
const UP = ["up", ...(CONCURRENCY ? ["--concurrency", CONCURRENCY] : [])];

/** 3 control planes, an LB and `workers` workers (half by certificate, half by TLS bootstrap). */
function specOf(workers: number): string {
  const nodes = [
    ...[1, 2, 3].map(
      (i) => `  - name: master-${i}\n    role: controlplane\n    address: 192.168.56.${10 + i}`,
    ),
    ...Array.from(
      { length: workers },
      (_, i) =>
        `  - name: worker-${i + 1}\n    role: worker\n    address: 192.168.56.${21 + i}` +
        (i % 2 === 1 ? "\n    kubelet:\n      credentials: tls-bootstrap" : ""),
    ),
    "  - name: loadbalancer\n    role: loadbalancer\n    address: 192.168.56.100",
  ];
  return `apiVersion: khw/v1alpha1\nkind: Cluster\nname: scale-${workers}\nnodes:\n${nodes.join("\n")}\n`;
}

const rows: { workers: number; first: number; noop: number; smoke: string }[] = [];

describe.skipIf(unavailable !== undefined)("khw up at scale (3 control planes + N workers)", () => {
  let releaseLock: () => void = () => {};
  beforeAll(async () => {
    releaseLock = await holdLabLock(SUITE);
  });
  afterAll(() => {
    releaseLock();
    const base = rows[0];
    console.log(
      [
        `scale bench (wall seconds; khw up --concurrency ${CONCURRENCY ?? "5 (default)"}):`,
        "workers  first khw up  ×smallest  no-op khw up  smoke",
        ...rows.map(
          (r) =>
            `${String(r.workers).padStart(7)}  ${r.first.toFixed(1).padStart(12)}  ${(base ? r.first / base.first : 1).toFixed(2).padStart(9)}  ${r.noop.toFixed(1).padStart(12)}  ${r.smoke}`,
        ),
      ].join("\n"),
    );
    console.log(summaryTable());
  });

  for (const n of SIZES) {
    scenario(SUITE, `3 control planes + ${n} workers: khw up, a no-op khw up, smoke`, 30, async () => {
      const { lab, release } = await startLab({
        suite: SUITE,
        spec: specOf(n),
        labUpArgs: ["--raise-limits"],
        lockHeld: true,
        up: false,
      });
      try {
        const up = await khw(lab.workdir, UP);
        expect(up.code, `${up.stdout}\n${up.stderr}`).toBe(0);
        const noop = await khw(lab.workdir, UP);
        expect(noop.code, noop.stderr).toBe(0);
        expect(noop.stdout).toContain("converged: no changes");
        const smoke = await khw(lab.workdir, ["smoke", "--json"]);
        const report = JSON.parse(smoke.stdout) as { passed: number; failed: number };
        rows.push({
          workers: n,
          first: up.seconds,
          noop: noop.seconds,
          smoke: `${report.passed} passed, ${report.failed} failed`,
        });
        expect(report.failed).toBe(0);
      } finally {
        await stopLab(SUITE, lab.workdir, release);
      }
    });
  }
});
