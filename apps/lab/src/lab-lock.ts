import { join } from "node:path";
import { acquirePidLock } from "@khw/host-io";
import { sleep } from "./_exec";
import { RUN_DIR } from "./_paths";
import { ipv4Addresses } from "./_system";
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
  const timeoutMs = (options.timeoutSeconds ?? 600) * 1000;
  const deadline = Date.now() + timeoutMs;
  let last: { pid: number; purpose?: string } | undefined;
  const release = await acquirePidLock(LAB_LOCK_FILE, {
    purpose: options.purpose ?? "lab",
    timeoutMs,
    onWait: (holder) => {
      last = holder;
      options.onWait?.(`process ${holder.pid} (${holder.purpose ?? "lab"})`);
    },
  });
  if (release === undefined) {
    throw new LabError(
      "LAB_CONFLICT",
      `the lab network is in use by process ${last?.pid} (${last?.purpose}).`,
      {
        step: "lock",
        hint: `wait for it to finish, or remove ${LAB_LOCK_FILE} if that process is not a lab user`,
      },
    );
  }
  if (options.waitForNetwork) {
    let toldNet = false;
    for (;;) {
      const holder = (await ipv4Addresses()).find((a) => a.address === LAB_GATEWAY);
      if (!holder) break;
      if (Date.now() > deadline) {
        release();
        throw new LabError("LAB_CONFLICT", `${LAB_GATEWAY} stays on ${holder.ifname}: another lab is up.`, {
          step: "lock",
          hint: `stop it: khw lab down${holder.ifname.startsWith("khw-") ? ` --name ${holder.ifname.slice(4)}` : ""}`,
        });
      }
      if (!toldNet) options.onWait?.(`a lab on ${holder.ifname}`);
      toldNet = true;
      await sleep(1000);
    }
  }
  return release;
}
