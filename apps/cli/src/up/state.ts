import { existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../fs-atomic";

/**
 * `.khw/state.json`: what `khw up` finished, and — the part that makes a resumed run converge — the
 * actions still owed on each host. A file that changed is uploaded before its service restarts; if
 * the run stops in between (failure, Ctrl-C), the next run finds the file unchanged but the restart
 * still pending here, and does it.
 */
export interface UpState {
  version: 1;
  /** Per phase: the last outcome. */
  phases: Record<
    string,
    { status: "done" | "failed" | "interrupted" | "not-run"; at: string; detail?: string }
  >;
  /** Per host: owed daemon-reload, service restarts and manifest applies. */
  pending: Record<string, { daemonReload?: boolean; restart?: string[]; apply?: string[] }>;
}

export function emptyState(): UpState {
  return { version: 1, phases: {}, pending: {} };
}

export function readState(path: string): UpState {
  if (!existsSync(path)) return emptyState();
  try {
    const data = JSON.parse(readFileSync(path, "utf8")) as UpState;
    if (data.version !== 1) return emptyState();
    return { version: 1, phases: data.phases ?? {}, pending: data.pending ?? {} };
  } catch {
    return emptyState();
  }
}

export function writeState(path: string, state: UpState): void {
  for (const [host, p] of Object.entries(state.pending)) {
    if (!p.daemonReload && !p.restart?.length && !p.apply?.length) delete state.pending[host];
  }
  writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, 0o644);
}

/** Actions owed on one host: a daemon-reload, service restarts, manifest applies. */
export type Owed = UpState["pending"][string];

/** Adds owed actions for a host (deduplicated, order kept). */
export function addPending(state: UpState, host: string, owed: Owed): void {
  state.pending[host] ??= {};
  const p = state.pending[host];
  if (owed.daemonReload) p.daemonReload = true;
  for (const key of ["restart", "apply"] as const) {
    const add = owed[key] ?? [];
    if (add.length) p[key] = [...new Set([...(p[key] ?? []), ...add])];
  }
}

export function clearPending(state: UpState, host: string, done: Owed): void {
  const p = state.pending[host];
  if (!p) return;
  if (done.daemonReload) delete p.daemonReload;
  for (const key of ["restart", "apply"] as const) {
    if (done[key]?.length) p[key] = (p[key] ?? []).filter((s) => !done[key]!.includes(s));
  }
}
