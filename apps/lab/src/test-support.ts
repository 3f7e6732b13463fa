/**
 * Helpers for end-to-end tests that run against a lab (`import … from "@khw/lab/test-support"`).
 */

export { findLeftovers, knownLabNames } from "./lab-down";
export { acquireLabLock, LAB_LOCK_FILE, type LabLockOptions } from "./lab-lock";
export { type LabExecResult, type LabTarget, labExec, labSshArgs, resolveLabHost } from "./lab-ssh";
export { missingPrerequisites } from "./preflight";

import { missingPrerequisites } from "./preflight";

/** Why the lab cannot run on this machine (to print when skipping tests), or undefined when it can. */
export function labUnavailableReason(): string | undefined {
  const missing = missingPrerequisites();
  return missing.length === 0
    ? undefined
    : `the lab needs ${missing.map((m) => m.what).join(", ")} (${missing.map((m) => m.install).join("; ")})`;
}
