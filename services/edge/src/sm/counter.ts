/**
 * XEP-0198 §4: `h` is a count of handled stanzas modulo 2^32. Counters are kept unwrapped on our
 * side (a JS number is exact far past 2^32) and wrapped only on the wire.
 */
export const SM_NS = 'urn:xmpp:sm:3';

const WRAP = 2 ** 32;

/** The wire value of an unwrapped count. */
export function wireCount(count: number): number {
  return count % WRAP;
}

/** Parses an `h` attribute: an xs:unsignedInt; null when it is not one. */
export function parseH(value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return null;
  const n = Number(value);
  return n < WRAP ? n : null;
}

/**
 * How many of the stanzas after `acked` the peer's `h` acknowledges, counting across the
 * wrap-around; null when `h` acknowledges more than were sent (XEP-0198 §4, handled-count-too-high).
 */
export function newlyAcked(h: number, acked: number, sent: number): number | null {
  const delta = (h - wireCount(acked) + WRAP) % WRAP;
  return delta > sent - acked ? null : delta;
}

/** How far the peer's `h` is past `acked`, counting across the wrap-around. */
export function aheadOf(h: number, acked: number): number {
  return (h - wireCount(acked) + WRAP) % WRAP;
}
