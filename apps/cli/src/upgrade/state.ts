import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../fs-atomic";

/**
 * `.khw/upgrade.json`: the steps of `khw upgrade apply --to V` already done, so a run stopped by a
 * failure or Ctrl-C resumes where it stopped (the snapshot is not taken twice, a finished worker is not
 * drained again). Each step is idempotent anyway; this saves the time. Removed when the upgrade is done.
 */
export interface UpgradeState {
  version: 1;
  from: string;
  to: string;
  /** `kind host` of every finished step. */
  done: string[];
  snapshot?: { file: string; sha256: string; revision?: number };
}

export function upgradeStatePath(upStatePath: string): string {
  return join(dirname(upStatePath), "upgrade.json");
}

export function readUpgradeState(path: string, from: string, to: string): UpgradeState {
  const s = readUnfinishedUpgrade(path);
  // Another target (or a finished upgrade's leftovers): start over.
  return s && s.to === to ? s : { version: 1, from, to, done: [] };
}

export function writeUpgradeState(path: string, state: UpgradeState): void {
  writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

/** The upgrade `.khw/upgrade.json` records as under way (any target), or undefined when there is none or it is unreadable. */
export function readUnfinishedUpgrade(path: string): UpgradeState | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const s = JSON.parse(readFileSync(path, "utf8")) as UpgradeState;
    return s.version === 1 && typeof s.to === "string" && Array.isArray(s.done) ? s : undefined;
  } catch {
    return undefined;
  }
}
