import { Buffer } from 'node:buffer';

/** RFC 7622 §3.2–3.4: each part is at most 1023 octets of UTF-8, counted after normalization. */
export const MAX_PART_OCTETS = 1023;

export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
