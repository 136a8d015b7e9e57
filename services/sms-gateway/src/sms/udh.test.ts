import { describe, expect, it } from 'vitest';
import { Reassembler } from './reassembly.js';
import { concatenationUdh, findConcatenation, splitUdh } from './udh.js';

describe('concatenation UDH', () => {
  it('builds the TS 23.040 8-bit reference header and reads it back', () => {
    const udh = concatenationUdh(0x2a, 3, 2);
    expect([...udh]).toEqual([0x05, 0x00, 0x03, 0x2a, 0x03, 0x02]);
    expect(findConcatenation(splitUdh(udh))).toEqual({ ref: 0x2a, total: 3, seq: 2 });
  });

  it('reads the 16-bit reference form (IEI 0x08)', () => {
    const udh = Uint8Array.of(0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01);
    expect(findConcatenation(splitUdh(udh))).toEqual({ ref: 0x1234, total: 2, seq: 1 });
  });

  it('ignores a concatenation element whose sequence number is out of range', () => {
    expect(findConcatenation(splitUdh(Uint8Array.of(0x05, 0x00, 0x03, 0x01, 0x02, 0x03)))).toBeUndefined();
    expect(findConcatenation(splitUdh(Uint8Array.of(0x05, 0x00, 0x03, 0x01, 0x02, 0x00)))).toBeUndefined();
  });
});

describe('Reassembler', () => {
  it('returns the whole text only when the last part arrives, in any order, counting a repeated part once', () => {
    const r = new Reassembler(60_000, () => undefined);
    expect(r.add('a|b', { ref: 7, total: 3, seq: 3 }, 'C')).toBeUndefined();
    expect(r.add('a|b', { ref: 7, total: 3, seq: 1 }, 'A')).toBeUndefined();
    expect(r.add('a|b', { ref: 7, total: 3, seq: 1 }, 'A')).toBeUndefined();
    expect(r.add('a|b', { ref: 7, total: 3, seq: 2 }, 'B')).toBe('ABC');
    expect(r.size).toBe(0);
  });

  it('keeps messages from different senders with the same reference apart', () => {
    const r = new Reassembler(60_000, () => undefined);
    expect(r.add('x|b', { ref: 1, total: 2, seq: 1 }, 'x1')).toBeUndefined();
    expect(r.add('y|b', { ref: 1, total: 2, seq: 2 }, 'y2')).toBeUndefined();
    expect(r.add('x|b', { ref: 1, total: 2, seq: 2 }, 'x2')).toBe('x1x2');
    r.clear();
  });

  it('hands a message whose parts stop arriving to onIncomplete with the gaps marked', async () => {
    const incomplete = new Promise((resolve) => {
      const r = new Reassembler(20, resolve);
      r.add('+1555|+1666', { ref: 9, total: 3, seq: 1 }, 'first ');
      r.add('+1555|+1666', { ref: 9, total: 3, seq: 3 }, ' third');
    });
    await expect(incomplete).resolves.toEqual({ key: '+1555|+1666', text: 'first […] third', missing: [2] });
  });
});
