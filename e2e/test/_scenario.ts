/**
 * Named scenarios: each one a vitest test with its own bounded timeout, its wall time printed when it
 * ends and collected into a table printed at the end of the suite. Run one alone with
 * `pnpm test:e2e -- -t "<name>"` (the suite's lab still comes up around it).
 */
import { it } from "vitest";

interface Outcome {
  suite: string;
  name: string;
  seconds: number;
  limitSeconds: number;
  outcome: "pass" | "FAIL";
}

const results: Outcome[] = [];

/** A scenario of `suite`: fails when `fn` throws or when it runs longer than `minutes`. */
export function scenario(suite: string, name: string, minutes: number, fn: () => Promise<void>): void {
  it(
    name,
    async () => {
      const t0 = performance.now();
      let outcome: Outcome["outcome"] = "FAIL";
      try {
        await fn();
        outcome = "pass";
      } catch (e) {
        // said right away (vitest prints failures only at the end of the whole run)
        console.log(`[e2e] ${suite} › ${name}: ${e instanceof Error ? e.message : String(e)}`.slice(0, 4000));
        throw e;
      } finally {
        const seconds = (performance.now() - t0) / 1000;
        results.push({ suite, name, seconds, limitSeconds: minutes * 60, outcome });
        console.log(`[e2e] ${suite} › ${name}: ${outcome} in ${seconds.toFixed(1)} s (limit ${minutes} min)`);
      }
    },
    minutes * 60_000,
  );
}

/** Records a timed step that is not a scenario of its own (lab up, the first khw up, lab down). */
export function recordStep(suite: string, name: string, seconds: number, ok: boolean): void {
  results.push({ suite, name, seconds, limitSeconds: 0, outcome: ok ? "pass" : "FAIL" });
}

/** The table of every scenario and step run so far in this process, with the total wall time. */
export function summaryTable(): string {
  const w = Math.max(10, ...results.map((r) => r.suite.length + r.name.length + 3));
  const lines = [
    `${"scenario".padEnd(w)}  outcome  seconds  limit`,
    ...results.map(
      (r) =>
        `${`${r.suite} › ${r.name}`.padEnd(w)}  ${r.outcome.padEnd(7)}  ${r.seconds.toFixed(1).padStart(7)}  ${r.limitSeconds ? `${r.limitSeconds / 60} min` : ""}`,
    ),
    `${"total".padEnd(w)}           ${results
      .reduce((n, r) => n + r.seconds, 0)
      .toFixed(1)
      .padStart(7)}`,
  ];
  return lines.join("\n");
}
