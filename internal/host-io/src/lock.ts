import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { processAlive, sleep } from "./process";

/** What a lock file holds: the owner's pid and what it is doing (shown to whoever waits). */
export interface LockHolder {
  pid: number;
  purpose?: string;
}

export interface PidLockOptions {
  /** Shown to whoever waits for the lock. */
  purpose?: string;
  /** Called once with the holder, when the lock is taken by another live process. */
  onWait?: (holder: LockHolder) => void;
  /** Give up after this long: resolves to undefined (default: wait forever). */
  timeoutMs?: number;
  pollMs?: number;
}

/** Reads a lock file: JSON `{pid, purpose}`, or a bare pid (older lock files). */
export function readLockHolder(path: string): LockHolder | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
  if (/^\d+$/.test(text)) return { pid: Number(text) };
  try {
    const held = JSON.parse(text) as LockHolder;
    return Number.isInteger(held.pid) ? held : undefined;
  } catch {
    return undefined; // being written or removed
  }
}

/**
 * Takes an exclusive lock file across processes: created with O_EXCL and holding the owner's pid
 * (JSON `{pid, purpose}` when a purpose is given). A lock whose process is gone is taken over. Resolves to the release
 * function (which removes the file only while this process still owns it), or undefined when
 * `timeoutMs` passed first.
 */
export async function acquirePidLock(
  path: string,
  options: PidLockOptions = {},
): Promise<(() => void) | undefined> {
  mkdirSync(dirname(path), { recursive: true });
  const deadline =
    options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
  let told = false;
  for (;;) {
    try {
      const fd = openSync(path, "wx", 0o644);
      // with a purpose: JSON `{pid, purpose}`; without: the bare pid (the older format, still read everywhere)
      writeSync(
        fd,
        options.purpose === undefined
          ? `${process.pid}\n`
          : JSON.stringify({ pid: process.pid, purpose: options.purpose }),
      );
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (readLockHolder(path)?.pid === process.pid) rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readLockHolder(path);
    if (holder === undefined) {
      // being written by its owner, or garbage left by a crash between create and write
      await sleep(200);
      const again = readLockHolder(path);
      if (again === undefined) rmSync(path, { force: true });
      continue;
    }
    if (!processAlive(holder.pid)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) return undefined;
    if (!told) options.onWait?.(holder);
    told = true;
    await sleep(options.pollMs ?? 500);
  }
}
