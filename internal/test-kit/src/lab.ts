// For tests that run against a lab: why the lab cannot run here (to print when skipping).
import { missingPrerequisites } from "@khw/lab";

/** Why the lab cannot run on this machine (to print when skipping tests), or undefined when it can. */
export function labUnavailableReason(): string | undefined {
  const missing = missingPrerequisites();
  return missing.length === 0
    ? undefined
    : `the lab needs ${missing.map((m) => m.what).join(", ")} (${missing.map((m) => m.install).join("; ")})`;
}
