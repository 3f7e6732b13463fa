import { createHash, randomBytes } from "node:crypto";
import { type KeyProvider, nativeKeyProvider } from "@khw/pki";
import type { Executor } from "@khw/remote-exec";

/**
 * What makes generated output vary between runs: the clock, randomness (certificate serials, the
 * encryption key, the bootstrap token) and private keys. Commands read them through `currentSeams()`;
 * tests replace them with `setSeamsForTests` (an in-process seam, deliberately not a CLI flag).
 */
export interface Seams {
  now: () => Date;
  random: (n: number) => Uint8Array;
  keys: KeyProvider;
  /** `khw up`: the executor for changes (default: SSH from the spec). Tests pass a RecordingExecutor. */
  executor?: () => Executor;
  /** `khw up`: how to wait between readiness polls. */
  sleep?: (ms: number) => Promise<void>;
  /** `khw up`: aborting it acts like Ctrl-C (SIGINT). */
  interrupt?: AbortSignal;
}

const DEFAULT_SEAMS: Seams = {
  now: () => new Date(),
  random: (n) => randomBytes(n),
  keys: nativeKeyProvider,
};

let overrides: Partial<Seams> = {};

export function currentSeams(): Seams {
  return { ...DEFAULT_SEAMS, ...overrides };
}

/** Tests only: fixed clock/randomness/keys for every command run in this process until reset. */
export function setSeamsForTests(seams: Partial<Seams>): void {
  overrides = { ...seams };
}

export function resetSeamsForTests(): void {
  overrides = {};
}

/** A deterministic byte stream (SHA-256 in counter mode over a seed), for byte-stable tests. */
export function seededRandom(seed: string): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const out = Buffer.alloc(n);
    let filled = 0;
    while (filled < n) {
      const block = createHash("sha256").update(`${seed}:${counter++}`).digest();
      filled += block.copy(out, filled);
    }
    return out;
  };
}
