/**
 * IPv4 arithmetic for the cluster definition: CIDRs, `A-B` ranges and ID ranges, as plain
 * numbers so that overlap and containment checks are exact.
 */
import ipaddr from "ipaddr.js";

/** An inclusive range of IPv4 addresses as 32-bit unsigned integers. */
export interface Ipv4Range {
  readonly first: number;
  readonly last: number;
}

/** An IPv4 network in CIDR form. */
export interface Ipv4Cidr extends Ipv4Range {
  readonly prefix: number;
  readonly text: string;
}

/** An inclusive range of integers (VM IDs). */
export interface IdRange {
  readonly first: number;
  readonly last: number;
}

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for a plain dotted-quad IPv4 address (no leading zeros, no shorthand). */
export function isIpv4(text: string): boolean {
  return DOTTED_QUAD.test(text);
}

export function ipToInt(text: string): number {
  if (!isIpv4(text)) throw new Error(`not an IPv4 address: ${text}`);
  const bytes = ipaddr.IPv4.parse(text).toByteArray();
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}

export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

/** Parses `a.b.c.d/n`; returns undefined when it is not a valid IPv4 CIDR. */
export function parseCidr(text: string): Ipv4Cidr | undefined {
  const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!match || !isIpv4(match[1])) return undefined;
  const prefix = Number(match[2]);
  if (prefix > 32) return undefined;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const first = (ipToInt(match[1]) & mask) >>> 0;
  const last = (first | (~mask >>> 0)) >>> 0;
  return { first, last, prefix, text };
}

/** True when the CIDR's address part is its network address (no host bits set). */
export function isNetworkAddress(text: string): boolean {
  const cidr = parseCidr(text);
  return cidr !== undefined && ipToInt(text.split("/")[0]) === cidr.first;
}

/**
 * Parses an address range as users write it: `A-B`, a single address `A`, or a CIDR.
 * Returns undefined when malformed; `first > last` is checked by `isOrdered`.
 */
export function parseIpRange(text: string): Ipv4Range | undefined {
  if (text.includes("/")) return parseCidr(text);
  const parts = text.split("-").map((p) => p.trim());
  if (parts.length === 1 && isIpv4(parts[0])) {
    const ip = ipToInt(parts[0]);
    return { first: ip, last: ip };
  }
  if (parts.length === 2 && isIpv4(parts[0]) && isIpv4(parts[1])) {
    return { first: ipToInt(parts[0]), last: ipToInt(parts[1]) };
  }
  return undefined;
}

/** Parses an ID range `N-M` or a single ID `N`. */
export function parseIdRange(text: string | number): IdRange | undefined {
  if (typeof text === "number")
    return Number.isInteger(text) ? { first: text, last: text } : undefined;
  const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (!match) return undefined;
  const first = Number(match[1]);
  return { first, last: match[2] === undefined ? first : Number(match[2]) };
}

/** True for a range whose bounds are in order, and for no range at all (said elsewhere). */
export function isOrdered(range: IdRange | Ipv4Range | undefined): boolean {
  return range === undefined || range.first <= range.last;
}

export function overlaps(a: IdRange | Ipv4Range, b: IdRange | Ipv4Range): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function contains(outer: Ipv4Range, inner: Ipv4Range): boolean {
  return outer.first <= inner.first && inner.last <= outer.last;
}

/** Number of addresses in a range. */
export function size(range: Ipv4Range | IdRange): number {
  return range.last - range.first + 1;
}

/** Renders a range back to `A-B` (or a single address). */
export function formatIpRange(range: Ipv4Range): string {
  return range.first === range.last
    ? intToIp(range.first)
    : `${intToIp(range.first)}-${intToIp(range.last)}`;
}
