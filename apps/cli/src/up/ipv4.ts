/** Minimal IPv4/CIDR arithmetic for preflight (route and address checks). */
export interface Net {
  base: number;
  prefix: number;
}

export function ipToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** `10.0.0.0/8`, `10.0.2.15/24` (host bits dropped) or a bare address (/32). */
export function parseNet(text: string): Net | undefined {
  const [ip, p] = text.split("/");
  const n = ipToInt(ip ?? "");
  const prefix = p === undefined ? 32 : Number(p);
  if (n === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (n & mask) >>> 0, prefix };
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function netsOverlap(a: Net, b: Net): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.base & mask(p)) >>> 0 === (b.base & mask(p)) >>> 0;
}

export function netContains(net: Net, ip: string): boolean {
  const n = ipToInt(ip);
  return n !== undefined && (n & mask(net.prefix)) >>> 0 === net.base;
}
