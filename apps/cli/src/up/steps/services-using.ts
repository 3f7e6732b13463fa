import type { Artifacts } from "../../artifacts";

/**
 * Services on a host that run one of these executables (restart them when a binary changed): the
 * units that name the path. One place, so that a catalogue lookup can replace it.
 */
export function servicesUsing(artifacts: Artifacts, host: string, binaries: string[]): string[] {
  const units = artifacts.files.filter((f) => f.host === host && f.path.startsWith("/etc/systemd/system/"));
  return units
    .filter((u) => binaries.some((b) => u.contents.includes(b)))
    .map((u) => u.path.replace(/^.*\//, "").replace(/\.service$/, ""));
}
