import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "./_exec";
import { RUN_DIR } from "./_paths";
import { ipv4Addresses, isAlive } from "./_system";
import { LabError } from "./errors";
import { LAB_GATEWAY } from "./topology";

export const LAB_LOCK_FILE = join(RUN_DIR, "lock");

export interface LabLockOptions {
  /** Give up after this many seconds (default 600). */
  timeoutSeconds?: number;
  /** Who takes the lock (shown to whoever waits). */
  purpose?: string;
  onWait?: (holder: string) => void;
  /** After taking the lock, also wait until no lab holds the lab network (a lab left up by hand). */
  waitForNetwork?: boolean;
}

/**
 * Machine-wide exclusive use of the lab network (198.18.0.0/27 holds one lab at a time): test suites
 * that bring labs up and down take it, so parallel runs (turbo, several checkouts) wait instead of
 * colliding. A lock whose holder process died is taken over. Resolves to the release function.
 */
export async function acquireLabLock(options: LabLockOptions = {}): Promise<() => void> {
  mkdirSync(RUN_DIR, { recursive: true });
  const deadline = Date.now() + (options.timeoutSeconds ?? 600) * 1000;
  let told = false;
  for (;;) {
    try {
      const fd = openSync(LAB_LOCK_FILE, "wx", 0o644);
      writeSync(fd, JSON.stringify({ pid: process.pid, purpose: options.purpose ?? "lab" }));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        try {
          const held = JSON.parse(readFileSync(LAB_LOCK_FILE, "utf8")) as { pid: number };
          if (held.pid === process.pid) rmSync(LAB_LOCK_FILE, { force: true });
        } catch {
          // already gone
        }
      };
      if (options.waitForNetwork) {
        let toldNet = false;
        for (;;) {
          const holder = (await ipv4Addresses()).find((a) => a.address === LAB_GATEWAY);
          if (!holder) break;
          if (Date.now() > deadline) {
            release();
            throw new LabError(
              "LAB_CONFLICT",
              `${LAB_GATEWAY} stays on ${holder.ifname}: another lab is up.`,
              {
                step: "lock",
                hint: `stop it: khw lab down${holder.ifname.startsWith("khw-") ? ` --name ${holder.ifname.slice(4)}` : ""}`,
              },
            );
          }
          if (!toldNet) options.onWait?.(`a lab on ${holder.ifname}`);
          toldNet = true;
          await sleep(1000);
        }
      }
      return release;
    } catch (err) {
      if (err instanceof LabError) throw err;
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let holder: { pid: number; purpose?: string } | undefined;
    try {
      holder = JSON.parse(readFileSync(LAB_LOCK_FILE, "utf8")) as { pid: number; purpose?: string };
    } catch {
      holder = undefined; // being written or removed: retry
    }
    if (holder && !isAlive(holder.pid)) {
      rmSync(LAB_LOCK_FILE, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new LabError(
        "LAB_CONFLICT",
        `the lab network is in use by process ${holder?.pid} (${holder?.purpose}).`,
        {
          step: "lock",
          hint: `wait for it to finish, or remove ${LAB_LOCK_FILE} if that process is not a lab user`,
        },
      );
    }
    if (!told && holder) {
      options.onWait?.(`process ${holder.pid} (${holder.purpose ?? "lab"})`);
      told = true;
    }
    await sleep(500);
  }
}
