import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareStreamIds, formatStreamId, nextStreamId, parseStreamId } from './stream-id.js';

describe('stream ids', () => {
  it('parse `ms-seq` and bare `ms` as Redis does', () => {
    expect(parseStreamId('1526919030474-55')).toEqual({ ms: 1526919030474, seq: 55 });
    expect(parseStreamId('1526919030474')).toEqual({ ms: 1526919030474, seq: 0 });
  });

  it('reject what is not an id', () => {
    for (const bad of ['', '-', 'a-1', '1-b', '1--2', '-1-0', '1.5-0']) {
      expect(() => parseStreamId(bad), bad).toThrow(TypeError);
    }
  });

  it('order by ms, then seq, and the next id is the smallest greater one', () => {
    fc.assert(
      fc.property(
        fc.nat(2 ** 40),
        fc.nat(2 ** 30),
        fc.nat(2 ** 40),
        fc.nat(2 ** 30),
        (ms1, seq1, ms2, seq2) => {
          const a = { ms: ms1, seq: seq1 };
          const b = { ms: ms2, seq: seq2 };
          expect(Math.sign(compareStreamIds(a, b))).toBe(-Math.sign(compareStreamIds(b, a)));
          expect(parseStreamId(formatStreamId(a))).toEqual(a);
          expect(compareStreamIds(nextStreamId(a), a)).toBeGreaterThan(0);
          if (compareStreamIds(b, a) > 0)
            expect(compareStreamIds(b, nextStreamId(a))).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });
});
