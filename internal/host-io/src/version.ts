import { parse } from "semver";

/** A release version (`v1.34.4`, `v1.35.0-rc.1`, `2.1.4`), parsed by semver. */
export interface ReleaseVersion {
  major: number;
  minor: number;
  patch: number;
  /** The pre-release with its dash (`-rc.1`), or "". */
  pre: string;
}

/**
 * Parses a release version with an optional leading `v` (SemVer 2.0: pre-releases such as `-rc.1`
 * or `-alpha.0` are versions too; build metadata is refused). Undefined when it is not one.
 */
export function parseReleaseVersion(text: string): ReleaseVersion | undefined {
  if (text.includes("+") || /^\s|\s$/.test(text)) return undefined;
  const v = parse(text);
  if (!v) return undefined;
  return {
    major: v.major,
    minor: v.minor,
    patch: v.patch,
    pre: v.prerelease.length > 0 ? `-${v.prerelease.join(".")}` : "",
  };
}
