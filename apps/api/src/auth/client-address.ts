import { isIPv4, isIPv6 } from 'node:net';

/**
 * The key under which a client address is throttled: IPv4 as is (also when IPv4-mapped, as Node
 * reports it on a dual-stack socket), IPv6 by its /64 — one subscriber usually holds a whole /64,
 * and counting each of its 2^64 addresses apart would make a per-address limit meaningless.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address.split('%')[0]).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, '::' expanded, lowercase, without leading zeros. */
function expandIPv6(address: string): string[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const groups = (part: string | undefined): string[] => (part === undefined || part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = groups(tail);
  // An embedded IPv4 tail (::1.2.3.4) stands for two groups; it never reaches the /64 prefix anyway.
  const rightLength = right.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const middle = tail === undefined ? [] : new Array<string>(8 - left.length - rightLength).fill('0');
  return [...left, ...middle, ...right].map((g) => (g.includes('.') ? g : Number.parseInt(g, 16).toString(16)));
}
