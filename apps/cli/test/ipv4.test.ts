import { BlockList } from "node:net";
import { describe, expect, it } from "vitest";
import { netsOverlap, parseNet } from "../src/up/ipv4";

describe("preflight's IPv4 networks", () => {
  it("reads CIDRs and bare addresses, dropping host bits; refuses malformed text", () => {
    expect(parseNet("10.0.2.15/24")).toEqual({ first: 0x0a000200n, last: 0x0a0002ffn, prefix: 24 });
    expect(parseNet("198.18.0.11")).toEqual({ first: 0xc612000bn, last: 0xc612000bn, prefix: 32 });
    for (const bad of ["", "10.0.0/8", "10.0.0.0/33", "256.0.0.1", "default"])
      expect(parseNet(bad)).toBeUndefined();
  });

  it("overlap agrees with net.BlockList on every pair of a mixed set", () => {
    const cidrs = [
      "10.0.0.0/8",
      "10.96.0.0/24",
      "10.200.0.0/16",
      "10.200.1.0/24",
      "198.18.0.0/24",
      "198.18.0.11",
      "0.0.0.0/0",
      "172.16.0.0/12",
    ];
    for (const a of cidrs)
      for (const b of cidrs) {
        const [na, nb] = [parseNet(a)!, parseNet(b)!];
        const list = new BlockList();
        const [ip, bits] = a.split("/");
        list.addSubnet(ip!, Number(bits ?? 32), "ipv4");
        const [ipB] = b.split("/");
        // b's first address inside a, or a's first inside b, is what overlapping means for CIDRs
        const bFirstInA = list.check(ipB!.split(".").length === 4 ? firstOf(b) : ipB!, "ipv4");
        const listB = new BlockList();
        listB.addSubnet(ipB!, Number(b.split("/")[1] ?? 32), "ipv4");
        const aFirstInB = listB.check(firstOf(a), "ipv4");
        expect(netsOverlap(na, nb), `${a} ~ ${b}`).toBe(bFirstInA || aFirstInB);
      }
  });
});

function firstOf(cidr: string): string {
  const n = parseNet(cidr)!.first;
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join(".");
}
