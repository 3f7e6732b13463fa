import { Address4 } from "ip-address";

/** IPv4 networks for preflight (route and address checks), read by the ip-address library. */
export interface Net {
  /** First and last address of the network, as integers. */
  first: bigint;
  last: bigint;
  prefix: number;
}

/** `10.0.0.0/8`, `10.0.2.15/24` (host bits dropped) or a bare address (/32); undefined when malformed. */
export function parseNet(text: string): Net | undefined {
  if (!Address4.isValid(text)) return undefined;
  const a = new Address4(text);
  return { first: a.startAddress().bigInt(), last: a.endAddress().bigInt(), prefix: a.subnetMask };
}

export function netsOverlap(a: Net, b: Net): boolean {
  return a.first <= b.last && b.first <= a.last;
}
