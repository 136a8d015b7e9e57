import { describe, expect, it } from 'vitest';
import {
  GSM7_BASIC_TABLE,
  Gsm7EncodingError,
  SegmentCapError,
  decodeGsm7,
  decodeUcs2,
  encodeGsm7,
  encodeUcs2,
  gsm7Cost,
  isGsm7,
  planSegments,
} from './encoding.js';

describe('GSM-7 alphabet', () => {
  it('has 128 basic characters at the TS 23.038 positions', () => {
    expect(GSM7_BASIC_TABLE).toHaveLength(128);
    expect(GSM7_BASIC_TABLE[0x00]).toBe('@');
    expect(GSM7_BASIC_TABLE[0x02]).toBe('$');
    expect(GSM7_BASIC_TABLE[0x10]).toBe('Δ');
    expect(GSM7_BASIC_TABLE[0x24]).toBe('¤');
    expect(GSM7_BASIC_TABLE[0x40]).toBe('¡');
    expect(GSM7_BASIC_TABLE[0x5f]).toBe('§');
    expect(GSM7_BASIC_TABLE[0x60]).toBe('¿');
    expect(GSM7_BASIC_TABLE[0x7f]).toBe('à');
  });

  it('encodes unpacked septets, one per octet, with extension characters escaped by 0x1B', () => {
    expect([...encodeGsm7('@A€[')]).toEqual([0x00, 0x41, 0x1b, 0x65, 0x1b, 0x3c]);
    expect([...encodeGsm7('hello')]).toEqual([0x68, 0x65, 0x6c, 0x6c, 0x6f]);
  });

  it('round-trips every basic and extension character', () => {
    const all = [...GSM7_BASIC_TABLE].filter((c) => c !== '\x1b').join('') + '\f^{}\\[~]|€';
    expect(decodeGsm7(encodeGsm7(all))).toBe(all);
  });

  it('refuses characters outside the alphabet, including a literal ESC', () => {
    expect(() => encodeGsm7('ok ü ç')).toThrow(Gsm7EncodingError);
    expect(() => encodeGsm7('\x1b')).toThrow(Gsm7EncodingError);
    // The default table has capital Ç but no lowercase ç.
    expect(isGsm7('façade')).toBe(false);
    expect(isGsm7('Ça va? ¿Qué?')).toBe(true);
  });

  it('counts extension characters as two septets', () => {
    expect(gsm7Cost('a')).toBe(1);
    expect(gsm7Cost('€')).toBe(2);
    expect(gsm7Cost('😀')).toBeUndefined();
  });
});

describe('UCS-2', () => {
  it('encodes UTF-16BE with astral characters as surrogate pairs', () => {
    expect([...encodeUcs2('Aж😀')]).toEqual([0x00, 0x41, 0x04, 0x36, 0xd8, 0x3d, 0xde, 0x00]);
    expect(decodeUcs2(encodeUcs2('Aж😀'))).toBe('Aж😀');
  });
});

describe('planSegments', () => {
  it('fits 160 GSM-7 characters in one segment and splits 161 into 153 + 8', () => {
    const one = planSegments('a'.repeat(160));
    expect(one).toMatchObject({ encoding: 'gsm7', count: 1 });
    const two = planSegments('a'.repeat(161));
    expect(two.count).toBe(2);
    expect(two.segments.map((s) => s.length)).toEqual([153, 8]);
    expect(two.segments.join('')).toBe('a'.repeat(161));
  });

  it('counts € as two septets: 80 of them fill one segment, 81 need two', () => {
    expect(planSegments('€'.repeat(80)).count).toBe(1);
    const plan = planSegments('€'.repeat(81));
    expect(plan.encoding).toBe('gsm7');
    expect(plan.count).toBe(2);
    // 153 septets hold 76 escapes; the 77th would be split, so it starts the next segment.
    expect(plan.segments.map((s) => s.length)).toEqual([76, 5]);
  });

  it('never splits an escape sequence at the 153-septet boundary', () => {
    const text = 'a'.repeat(152) + '€' + 'b'.repeat(10);
    const plan = planSegments(text);
    expect(plan.segments[0]).toBe('a'.repeat(152));
    expect(plan.segments[1]).toBe('€' + 'b'.repeat(10));
  });

  it('switches to UCS-2 for one non-GSM character: 70 fit, 71 split into 67 + 4', () => {
    expect(planSegments('ж'.repeat(70))).toMatchObject({ encoding: 'ucs2', count: 1 });
    const plan = planSegments('ж'.repeat(71));
    expect(plan).toMatchObject({ encoding: 'ucs2', count: 2 });
    expect(plan.segments.map((s) => s.length)).toEqual([67, 4]);
  });

  it('counts an emoji as two UCS-2 units and never splits its surrogate pair', () => {
    expect(planSegments('😀'.repeat(35)).count).toBe(1);
    const plan = planSegments('a' + '😀'.repeat(35)); // 71 units
    expect(plan.count).toBe(2);
    // 1 + 33 pairs = 67 units; the 34th pair would straddle the boundary.
    expect(plan.segments[0]).toBe('a' + '😀'.repeat(33));
    expect(plan.segments[1]).toBe('😀'.repeat(2));
    const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
    for (const s of plan.segments) expect(s).not.toMatch(loneSurrogate);
  });

  it('throws SegmentCapError naming the count and the cap when over the cap', () => {
    expect(planSegments('a'.repeat(306), 2).count).toBe(2);
    const err = (() => {
      try {
        planSegments('a'.repeat(307), 2);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(SegmentCapError);
    expect(err).toMatchObject({ name: 'SegmentCapError', count: 3, cap: 2, encoding: 'gsm7' });
    expect((err as Error).message).toContain('3 GSM-7 segments');
  });

  it('sends an empty text as one empty segment', () => {
    expect(planSegments('')).toEqual({ encoding: 'gsm7', segments: [''], count: 1 });
  });
});
