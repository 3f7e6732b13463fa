/**
 * @khw/host-io: khw's shared host IO, private to the workspace. The apps that use it bundle it (tsup
 * `noExternal`) and declare its third-party dependencies themselves; no published package depends on it.
 */
export { writeFileAtomic, writeFileAtomicSync } from "./atomic-write";
export { khwCacheRoot } from "./cache-root";
export { commitPartial, removeStalePartials, startPartial } from "./cached-dir";
export { sha256, sha256File } from "./hash";
export { acquirePidLock, type LockHolder, type PidLockOptions, readLockHolder } from "./lock";
export { failureMessage, processAlive, type RunOptions, type RunResult, run, sleep } from "./process";
export { shellJoin, shellQuote } from "./shell-quote";
export {
  readTar,
  type TarEntry,
  TarError,
  type TarInput,
  type TarReadOptions,
  type TarWriteOptions,
  tarBuffer,
  tarStream,
  writeTar,
} from "./tar";
export { parseReleaseVersion, type ReleaseVersion } from "./version";
