// src/_ip.ts against Node's own IPv4 code (net.BlockList, net.isIPv4) as the independent oracle.
import { BlockList, isIPv4 } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bigIntToIp, canonicalCidr, ipToBigInt, isIpv4, parseCidr } from "../src/_ip";

const octets = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
const dotted = (o: number[]) => o.join(".");

describe("IPv4 arithmetic", () => {
  it("reads and writes dotted quads (round trip, and the integer is the octets' big-endian value)", () => {
    fc.assert(
      fc.property(octets, (o) => {
        const n = ipToBigInt(dotted(o));
        expect(n).toBe(BigInt(((o[0]! * 256 + o[1]!) * 256 + o[2]!) * 256 + o[3]!));
        expect(bigIntToIp(n)).toBe(dotted(o));
      }),
    );
  });

  it("a CIDR's first and last address are in the network and their neighbours are not (as net.BlockList sees it)", () => {
    fc.assert(
      fc.property(octets, fc.integer({ min: 0, max: 32 }), (o, prefix) => {
        const net = parseCidr(`${dotted(o)}/${prefix}`)!;
        const list = new BlockList();
        list.addSubnet(dotted(o), prefix, "ipv4");
        expect(list.check(bigIntToIp(net.start), "ipv4")).toBe(true);
        expect(list.check(bigIntToIp(net.end), "ipv4")).toBe(true);
        if (net.start > 0n) expect(list.check(bigIntToIp(net.start - 1n), "ipv4")).toBe(false);
        if (net.end < 0xffffffffn) expect(list.check(bigIntToIp(net.end + 1n), "ipv4")).toBe(false);
        expect(net.end - net.start + 1n).toBe(1n << BigInt(32 - prefix));
        expect(canonicalCidr(net)).toBe(`${bigIntToIp(net.start)}/${prefix}`);
      }),
    );
  });

  it("accepts what net.isIPv4 accepts, without leading zeros, and nothing else", () => {
    for (const s of ["0.0.0.0", "255.255.255.255", "10.96.0.10"]) expect(isIpv4(s)).toBe(true);
    for (const s of ["256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.4/24", " 1.2.3.4", "a.b.c.d", ""])
      expect(isIpv4(s)).toBe(false);
    fc.assert(
      fc.property(fc.string({ maxLength: 16 }), (s) => {
        if (isIpv4(s)) expect(isIPv4(s)).toBe(true);
      }),
    );
    expect(parseCidr("10.0.0.0/33")).toBeUndefined();
    expect(parseCidr("10.0.0.0/8/8")).toBeUndefined();
    expect(() => ipToBigInt("1.2.3")).toThrow(/not an IPv4 address/);
  });
});
