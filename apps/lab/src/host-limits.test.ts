import { describe, expect, it } from "vitest";
import { hostLimitNeeds, hostLimitsError, inotifyInstancesInUse } from "./host-limits";

describe("host limits", () => {
  const roles = (cp: number, w: number) => [
    ...Array<"controlplane">(cp).fill("controlplane"),
    ...Array<"worker">(w).fill("worker"),
    "loadbalancer" as const,
  ];

  it("the default lab fits the machine's default of 128 inotify instances; 3 control planes + 10 workers do not", () => {
    const machine = { instances: 128, watches: 192530, instancesInUse: 10 };
    const small = hostLimitNeeds(roles(2, 2), machine);
    expect(small.filter((l) => l.current < l.needed)).toEqual([]);
    // the 3 control planes + 3 workers + LB came up with 128
    expect(hostLimitNeeds(roles(3, 3), machine).filter((l) => l.current < l.needed)).toEqual([]);
    const large = hostLimitNeeds(roles(3, 10), machine);
    const short = large.filter((l) => l.current < l.needed);
    expect(short.map((l) => l.sysctl)).toEqual(["fs.inotify.max_user_instances"]);
    expect(short[0]!.needed).toBeGreaterThanOrEqual(256);
  });

  it("says which limit, the value needed and both ways to raise it", () => {
    const [instances] = hostLimitNeeds(roles(3, 20), { instances: 128, watches: 1e6, instancesInUse: 4 });
    const e = hostLimitsError([instances!], 24);
    expect(e.code).toBe("LAB_HOST_LIMITS");
    expect(e.message).toContain(
      `fs.inotify.max_user_instances is 128, a lab of 24 hosts needs ${instances!.needed}`,
    );
    expect(e.hint).toContain(`sysctl -w fs.inotify.max_user_instances=${instances!.needed}`);
    expect(e.hint).toContain("--raise-limits");
  });

  it("counts this machine's open inotify instances (one opened here is seen)", async () => {
    const { watch } = await import("node:fs");
    const before = inotifyInstancesInUse();
    const w = watch("/tmp");
    try {
      expect(inotifyInstancesInUse()).toBeGreaterThan(before);
    } finally {
      w.close();
    }
  });
});
