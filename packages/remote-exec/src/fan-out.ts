import { RemoteExecError } from "./errors.js";

/** One host's outcome. A failure is always reported with its own host, never folded into another. */
export type HostResult<T> = { host: string; ok: true; value: T } | { host: string; ok: false; error: Error };

export interface FanOutOptions {
  /** At most this many `fn` calls run at once. Default 10. */
  concurrency?: number | undefined;
  /**
   * After the first failure, start no further hosts: they are reported as failed with code SKIPPED.
   * Hosts already running finish normally (nothing is cancelled half-way). Default false.
   */
  failFast?: boolean | undefined;
}

/**
 * Runs `fn` for every host with a concurrency bound and returns one result per host, in the order
 * of `hosts`. Never rejects because of a host's failure: every host gets its own `ok` / `error`.
 */
export async function fanOut<H extends { name: string }, T>(
  hosts: readonly H[],
  fn: (host: H, index: number) => Promise<T>,
  options: FanOutOptions = {},
): Promise<HostResult<T>[]> {
  const concurrency = options.concurrency ?? 10;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`fanOut: concurrency must be an integer ≥ 1, got ${concurrency}`);
  }
  const names = new Set<string>();
  for (const h of hosts) {
    if (names.has(h.name)) throw new RangeError(`fanOut: host name ${JSON.stringify(h.name)} appears twice`);
    names.add(h.name);
  }
  const results: HostResult<T>[] = new Array(hosts.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < hosts.length) {
      const index = next++;
      const host = hosts[index]!;
      if (failed && options.failFast) {
        results[index] = {
          host: host.name,
          ok: false,
          error: new RemoteExecError("SKIPPED", "not started: another host failed first (failFast)", {
            host: host.name,
          }),
        };
        continue;
      }
      try {
        results[index] = { host: host.name, ok: true, value: await fn(host, index) };
      } catch (err) {
        failed = true;
        results[index] = {
          host: host.name,
          ok: false,
          error: err instanceof Error ? err : new Error(String(err)),
        };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, hosts.length) }, worker));
  return results;
}

/** Thrown by `allOk`: lists every failed host with its own message. */
export class FanOutError extends Error {
  override readonly name = "FanOutError";
  readonly code = "HOSTS_FAILED";
  readonly failures: ReadonlyArray<{ host: string; error: Error }>;
  constructor(failures: ReadonlyArray<{ host: string; error: Error }>, total: number) {
    const lines = failures.map((f) => `  - ${f.host}: ${f.error.message.split("\n").join("\n    ")}`);
    super(`${failures.length} of ${total} host(s) failed:\n${lines.join("\n")}`);
    this.failures = failures;
  }
}

/** The values in host order, or a FanOutError naming every host that failed. */
export function allOk<T>(results: readonly HostResult<T>[]): T[] {
  const failures = results.flatMap((r) => (r.ok ? [] : [{ host: r.host, error: r.error }]));
  if (failures.length > 0) throw new FanOutError(failures, results.length);
  return results.map((r) => (r as { value: T }).value);
}
