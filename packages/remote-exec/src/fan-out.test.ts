import { describe, expect, it } from "vitest";
import { RemoteExecError } from "./errors.js";
import { allOk, FanOutError, fanOut } from "./fan-out.js";

const hosts = Array.from({ length: 9 }, (_, i) => ({ name: `h${i}` }));
const tick = () => new Promise<void>((r) => setImmediate(r));

describe("fanOut", () => {
  it("returns one result per host in input order, whatever order they finish in", async () => {
    const results = await fanOut(hosts, async (h, i) => {
      for (let k = 0; k < 9 - i; k++) await tick();
      return h.name.toUpperCase();
    });
    expect(results.map((r) => (r.ok ? r.value : r.error))).toEqual(hosts.map((h) => h.name.toUpperCase()));
  });

  it("never runs more than `concurrency` at once, and reaches it", async () => {
    let running = 0;
    let max = 0;
    await fanOut(
      hosts,
      async () => {
        running++;
        max = Math.max(max, running);
        await tick();
        await tick();
        running--;
      },
      { concurrency: 3 },
    );
    expect(max).toBe(3);
  });

  it("keeps every host's own failure and finishes the others", async () => {
    const results = await fanOut(hosts, async (h, i) => {
      if (i % 3 === 0) throw new RemoteExecError("COMMAND_FAILED", `boom ${i}`, { host: h.name });
      return i;
    });
    expect(results.filter((r) => !r.ok).map((r) => r.host)).toEqual(["h0", "h3", "h6"]);
    expect(results.filter((r) => r.ok)).toHaveLength(6);
    try {
      allOk(results);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(FanOutError);
      const e = err as FanOutError;
      expect(e.failures.map((f) => f.host)).toEqual(["h0", "h3", "h6"]);
      expect(e.message).toContain("3 of 9 host(s) failed");
      expect(e.message).toContain("h3: [h3] boom 3");
    }
  });

  it("with failFast, starts nothing after the first failure but lets running hosts finish", async () => {
    const started: string[] = [];
    const results = await fanOut(
      hosts,
      async (h, i) => {
        started.push(h.name);
        await tick();
        if (i === 1) throw new Error("first failure");
        await tick();
        return i;
      },
      { concurrency: 2, failFast: true },
    );
    expect(started).toEqual(["h0", "h1"]);
    expect(results[0]).toEqual({ host: "h0", ok: true, value: 0 });
    expect(results[1]!.ok).toBe(false);
    for (const r of results.slice(2)) {
      expect(r.ok).toBe(false);
      expect(!r.ok && (r.error as RemoteExecError).code).toBe("SKIPPED");
    }
  });

  it("wraps non-Error throws and rejects bad options and duplicate names", async () => {
    const [r] = await fanOut([{ name: "x" }], async () => {
      throw "text";
    });
    expect(!r!.ok && r!.error.message).toBe("text");
    await expect(fanOut(hosts, async () => 1, { concurrency: 0 })).rejects.toThrow(/concurrency/);
    await expect(fanOut([{ name: "a" }, { name: "a" }], async () => 1)).rejects.toThrow(/appears twice/);
    expect(await fanOut([], async () => 1)).toEqual([]);
  });
});
