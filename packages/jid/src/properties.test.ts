import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JidError, parseJid, prepDomainpart, prepLocalpart, prepResourcepart } from './index.js';

/** The outcome of a call: its value, or the JidError reason (any other error fails the test). */
function outcome(fn: () => string): string {
  try {
    return `ok:${fn()}`;
  } catch (error) {
    if (error instanceof JidError) return `error:${error.reason}`;
    throw error;
  }
}

// Characters that exercise every branch: case, width, composition, sigma, spaces, separators, contexts.
const tricky = fc.constantFrom(
  ...[
    'a',
    'Z',
    '0',
    '-',
    '.',
    ' ',
    '@',
    '/',
    '"',
    '\\',
    '\t',
    '\u007f',
    'é',
    'E\u0301',
    '\u0301',
    'Σ',
    'ς',
    'ß',
    'İ',
    'ǅ',
  ],
  ...[
    'Ⅳ',
    'Ａ',
    'ｶ',
    'ﾞ',
    '＠',
    '\u00a0',
    '\u3000',
    '\u200c',
    '\u200d',
    '\u094d',
    'क',
    'ب',
    '·',
    'l',
    '͵',
    'α',
  ],
  ...[
    '・',
    'カ',
    '٣',
    '۳',
    '♚',
    '例',
    '。',
    '．',
    'xn--',
    'ü',
    '\ud800',
    '\uffff',
    '\u00ad',
    '🍺',
    '\u1100',
    '\u1161',
  ],
);
const text = (maxLength: number) =>
  fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: tricky },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 2 }) },
      ),
      {
        maxLength,
      },
    )
    .map((parts) => parts.join(''));
const domainText = fc
  .array(
    fc.oneof(
      fc.constantFrom('a', 'B', '0', '-', '.', 'ü', 'É', '例', '。', '．', 'xn--', 'ǅ', 'ⅳ', '_'),
      fc.string({ maxLength: 1 }),
    ),
    {
      maxLength: 12,
    },
  )
  .map((parts) => parts.join(''));
const printableAscii = fc.string({
  unit: fc.integer({ min: 0x00, max: 0x7f }).map((c) => String.fromCharCode(c)),
  maxLength: 20,
});

describe('normalization properties', () => {
  it.each([
    ['prepLocalpart', prepLocalpart, text(8)],
    ['prepResourcepart', prepResourcepart, text(8)],
    ['prepDomainpart', prepDomainpart, domainText],
  ] as const)('%s is idempotent: a normalized part normalizes to itself', (_name, prep, arbitrary) => {
    fc.assert(
      fc.property(arbitrary, (input) => {
        const once = outcome(() => prep(input));
        if (once.startsWith('ok:')) expect(outcome(() => prep(once.slice(3)))).toBe(once);
      }),
      { numRuns: 3000 },
    );
  });

  it('re-parses the string of a parsed JID to an equal JID with the same string', () => {
    const input = fc
      .tuple(fc.option(text(6), { nil: undefined }), domainText, fc.option(text(6), { nil: undefined }))
      .map(
        ([local, domain, resource]) =>
          `${local === undefined ? '' : `${local}@`}${domain}${resource === undefined ? '' : `/${resource}`}`,
      );
    let parsedCount = 0;
    fc.assert(
      fc.property(fc.oneof(input, text(12)), (raw) => {
        let parsed;
        try {
          parsed = parseJid(raw);
        } catch (error) {
          if (error instanceof JidError) return;
          throw error;
        }
        parsedCount++;
        const again = parseJid(parsed.toString());
        expect(again.equals(parsed)).toBe(true);
        expect(again.toString()).toBe(parsed.toString());
      }),
      { numRuns: 3000 },
    );
    // Guard against a generator that never produces a valid JID and so proves nothing.
    expect(parsedCount).toBeGreaterThan(100);
  });

  // The fast paths skip normalize() and the class check for plain ASCII. A valid non-ASCII prefix
  // forces the general path, so both paths must give the same answer for the ASCII rest.
  it('gives the same localpart result on the ASCII fast path as on the general path', () => {
    fc.assert(
      fc.property(printableAscii, (ascii) => {
        expect(outcome(() => prepLocalpart(`é${ascii}`))).toBe(
          outcome(() => prepLocalpart(ascii))
            .replace(/^ok:/, 'ok:é')
            .replace('error:empty', 'ok:é'),
        );
      }),
      { numRuns: 3000 },
    );
  });

  it('gives the same resourcepart result on the ASCII fast path as on the general path', () => {
    fc.assert(
      fc.property(printableAscii, (ascii) => {
        expect(outcome(() => prepResourcepart(`é${ascii}`))).toBe(
          outcome(() => prepResourcepart(ascii))
            .replace(/^ok:/, 'ok:é')
            .replace('error:empty', 'ok:é'),
        );
      }),
      { numRuns: 3000 },
    );
  });
});
