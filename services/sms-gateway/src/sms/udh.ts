/** TS 23.040 §9.2.3.24.1 (IEI 0x00, 8-bit reference) and §9.2.3.24.8 (IEI 0x08, 16-bit reference). */
export interface Concatenation {
  readonly ref: number;
  readonly total: number;
  /** 1-based. */
  readonly seq: number;
}

/** The 6-octet UDH (UDHL included) for one part of a concatenated message, 8-bit reference. */
export function concatenationUdh(ref: number, total: number, seq: number): Uint8Array {
  return Uint8Array.of(0x05, 0x00, 0x03, ref & 0xff, total, seq);
}

/**
 * Finds the concatenation element in a user data header given as its
 * information elements (without UDHL), as the smpp package splits it.
 */
export function findConcatenation(elements: readonly Uint8Array[]): Concatenation | undefined {
  for (const ie of elements) {
    if (ie[0] === 0x00 && ie[1] === 3 && ie.length >= 5) {
      const c = { ref: ie[2]!, total: ie[3]!, seq: ie[4]! };
      if (valid(c)) return c;
    }
    if (ie[0] === 0x08 && ie[1] === 4 && ie.length >= 6) {
      const c = { ref: (ie[2]! << 8) | ie[3]!, total: ie[4]!, seq: ie[5]! };
      if (valid(c)) return c;
    }
  }
  return undefined;
}

// §9.2.3.24.1: a part with total 0, seq 0 or seq > total is to be ignored as a concatenation.
const valid = (c: Concatenation): boolean => c.total > 0 && c.seq > 0 && c.seq <= c.total;

/** Parses a whole UDH (UDHL first) into its information elements. */
export function splitUdh(udh: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const end = Math.min(udh.length, (udh[0] ?? 0) + 1);
  let i = 1;
  while (i + 1 < end) {
    const len = udh[i + 1]!;
    out.push(udh.subarray(i, i + 2 + len));
    i += 2 + len;
  }
  return out;
}
