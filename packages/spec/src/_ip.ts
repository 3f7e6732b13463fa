import { Address4 } from "ip-address";

/** An IPv4 network: first and last address as integers, prefix length. */
export interface Ipv4Net {
  cidr: string;
  start: bigint;
  end: bigint;
  prefix: number;
}

const DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
  return DOTTED.test(text) && Address4.isValid(text);
}

/** Parses "a.b.c.d/n"; undefined when malformed. */
export function parseCidr(text: string): Ipv4Net | undefined {
  const [addr, bits, ...rest] = text.split("/");
  if (rest.length > 0 || addr === undefined || bits === undefined || !/^\d{1,2}$/.test(bits))
    return undefined;
  if (!isIpv4(addr) || Number(bits) > 32) return undefined;
  const a = new Address4(text);
  return { cidr: text, start: a.startAddress().bigInt(), end: a.endAddress().bigInt(), prefix: a.subnetMask };
}

/** The canonical network address of a CIDR ("10.96.0.5/16" → "10.96.0.0/16"). */
export function canonicalCidr(net: Ipv4Net): string {
  return `${Address4.fromBigInt(net.start).correctForm()}/${net.prefix}`;
}

/** "10.96.0.1" → 174063617n. Throws for anything but a dotted quad. */
export function ipToBigInt(ip: string): bigint {
  if (!isIpv4(ip)) throw new Error(`'${ip}' is not an IPv4 address`);
  return new Address4(ip).bigInt();
}

export function bigIntToIp(n: bigint): string {
  return Address4.fromBigInt(n).correctForm();
}

export function overlaps(a: Ipv4Net, b: Ipv4Net): boolean {
  return a.start <= b.end && b.start <= a.end;
}

export function contains(net: Ipv4Net, ip: string): boolean {
  const n = ipToBigInt(ip);
  return n >= net.start && n <= net.end;
}

/** The n-th address of a network (0 = the network address). */
export function nthAddress(net: Ipv4Net, n: number): string | undefined {
  const v = net.start + BigInt(n);
  return v <= net.end ? bigIntToIp(v) : undefined;
}

/** The i-th subnet of size /mask inside net. */
export function nthSubnet(net: Ipv4Net, mask: number, i: number): string | undefined {
  if (mask < net.prefix || mask > 32) return undefined;
  const size = 1n << BigInt(32 - mask);
  const start = net.start + size * BigInt(i);
  if (start + size - 1n > net.end) return undefined;
  return `${bigIntToIp(start)}/${mask}`;
}

export function subnetCount(net: Ipv4Net, mask: number): number {
  if (mask < net.prefix) return 0;
  return 2 ** (mask - net.prefix);
}

/** IPv4 ranges that are no host's unicast address (RFC 6890), with what they are. */
export const SPECIAL_RANGES: readonly { cidr: string; what: string; node: "error" | "warning" | "ok" }[] = [
  {
    cidr: "0.0.0.0/8",
    what: "the 'this network' range 0.0.0.0/8 (0.0.0.0 means any address)",
    node: "error",
  },
  { cidr: "127.0.0.0/8", what: "the loopback range 127.0.0.0/8", node: "warning" },
  { cidr: "169.254.0.0/16", what: "the link-local range 169.254.0.0/16", node: "ok" },
  { cidr: "224.0.0.0/4", what: "the multicast range 224.0.0.0/4", node: "error" },
  {
    cidr: "240.0.0.0/4",
    what: "the reserved range 240.0.0.0/4 (with the broadcast address 255.255.255.255)",
    node: "error",
  },
];
