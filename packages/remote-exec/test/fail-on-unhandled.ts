// Vitest setup file (remote-exec and the CLI): an unhandled promise rejection or an uncaught
// exception while a test runs fails that test, naming the error — a crash a user would see as a
// Node stack trace is never a passing test. Registered once per worker process.
import { afterEach } from "vitest";

const KEY = Symbol.for("khw.failOnUnhandled");
type Seen = { errors: unknown[] };
const g = globalThis as typeof globalThis & { [KEY]?: Seen };

if (!g[KEY]) {
  const seen: Seen = { errors: [] };
  g[KEY] = seen;
  process.on("unhandledRejection", (reason) => {
    seen.errors.push(reason);
  });
  process.on("uncaughtException", (error) => {
    seen.errors.push(error);
  });
}
const seen = g[KEY]!;

afterEach(async () => {
  // Rejections are reported after the microtask queue drains: give them a turn to arrive.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 0));
  const errors = seen.errors.splice(0);
  if (errors.length === 0) return;
  const describe = (e: unknown) => (e instanceof Error ? (e.stack ?? e.message) : String(e));
  throw new Error(
    `${errors.length} unhandled rejection(s) / uncaught exception(s) during this test:\n${errors.map(describe).join("\n---\n")}`,
  );
});
