import type { Io } from "../io";
import { colors } from "../io";
import type { EventSink, UpEvent } from "./events";

/** `--json`: one event per line on stdout. */
export function jsonProgress(io: Io): EventSink {
  return (e) => io.stdout(`${JSON.stringify(e)}\n`);
}

/** Not a TTY: plain prefixed lines, `[etcd] master-1: started`. */
export function plainProgress(io: Io): EventSink {
  const c = colors(io);
  return (e) => {
    const line = plainLine(e, c);
    if (line === undefined) return;
    if (e.type === "host-failed" || e.type === "phase-not-run") io.stderr(`${line}\n`);
    else io.stdout(`${line}\n`);
  };
}

type Colors = ReturnType<typeof colors>;

function plainLine(e: UpEvent, c: Colors): string | undefined {
  switch (e.type) {
    case "run-start":
      return `${e.dryRun ? "dry run: " : ""}phases ${e.phases.join(", ")}`;
    case "phase-start":
      return `[${e.phase}] ${e.hosts.join(", ")}`;
    case "host-start":
      return `[${e.phase}] ${e.host}: started`;
    case "step":
      return e.status === "changed" ? `[${e.phase}] ${e.host}: ${e.step} ${c.yellow("changed")}` : undefined;
    case "host-done":
      return `[${e.phase}] ${e.host}: ${c.green("done")} (${e.changes} change${e.changes === 1 ? "" : "s"})`;
    case "host-failed":
      return `[${e.phase}] ${e.host}: ${c.red("failed")}: ${e.message}${e.hint ? `\n  ${c.dim("fix:")} ${e.hint}` : ""}`;
    case "phase-done":
      return `[${e.phase}] ${c.green("✓")} ${e.changes} change${e.changes === 1 ? "" : "s"}`;
    case "phase-skipped":
      return `[${e.phase}] skipped: ${e.reason}`;
    case "phase-not-run":
      return `[${e.phase}] ${c.red("could not run")}: ${e.reason}\n  ${c.dim("fix:")} ${e.hint}`;
    case "warning":
      return `[${e.phase}] ${e.host ? `${e.host}: ` : ""}${c.yellow("warning:")} ${e.message}${e.fix ? `\n  ${c.dim("fix:")} ${e.fix}` : ""}`;
    case "run-done":
      return undefined;
  }
}

/**
 * A TTY: a live table, one row per host, one column per phase (· waiting, ▸ running, ✓ done,
 * ✗ failed, – not this host), redrawn in place with log-update; warnings and failures are printed
 * above it as they happen.
 */
export async function ttyProgress(
  io: Io,
  phases: string[],
  hosts: string[],
): Promise<{ sink: EventSink; done: () => void }> {
  const { createLogUpdate } = await import("log-update");
  const c = colors(io);
  const stream = {
    write: (t: string) => io.stdout(t),
    isTTY: true,
    columns: 200,
    rows: 100,
  } as unknown as NodeJS.WriteStream;
  const update = createLogUpdate(stream);
  const cell = new Map<string, string>();
  const key = (p: string, h: string) => `${p}\u0000${h}`;
  const short = (p: string) => p.slice(0, 5).padEnd(5);
  const width = Math.max(...hosts.map((h) => h.length), 4);
  const render = () => {
    const head = `${"".padEnd(width)}  ${phases.map(short).join(" ")}`;
    const rows = hosts.map(
      (h) =>
        `${h.padEnd(width)}  ${phases.map((p) => (cell.get(key(p, h)) ?? c.dim("  –  ")).padEnd(5)).join(" ")}`,
    );
    update([head, ...rows].join("\n"));
  };
  const sink: EventSink = (e) => {
    switch (e.type) {
      case "phase-start":
        for (const h of e.hosts) cell.set(key(e.phase, h), c.dim("  ·  "));
        break;
      case "host-start":
        cell.set(key(e.phase, e.host), c.cyan("  ▸  "));
        break;
      case "host-done":
        cell.set(key(e.phase, e.host), c.green(e.changes ? ` ✓${String(e.changes).padStart(2)} ` : "  ✓  "));
        break;
      case "host-failed":
      case "warning":
      case "phase-not-run": {
        if (e.type === "host-failed") cell.set(key(e.phase, e.host), c.red("  ✗  "));
        update.clear();
        const line = plainLine(e, c);
        if (line) io.stderr(`${line}\n`);
        break;
      }
      default:
        break;
    }
    render();
  };
  return { sink, done: () => update.done() };
}
