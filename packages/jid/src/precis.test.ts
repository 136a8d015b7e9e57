import { describe, expect, it } from 'vitest';
import { JidError, prepLocalpart, prepResourcepart, type JidErrorReason } from './index.js';

function reasonOf(fn: () => unknown): JidErrorReason | 'accepted' {
  try {
    fn();
    return 'accepted';
  } catch (error) {
    if (error instanceof JidError) return error.reason;
    throw error;
  }
}

describe('prepLocalpart: UsernameCaseMapped (RFC 8265 §3.3) and RFC 7622 §3.3', () => {
  it.each([
    ['juliet', 'juliet'],
    ['JULIET', 'juliet'],
    ['ÉLODIE', 'élodie'],
    ['ＪＵＬＩＥＴ', 'juliet'], // fullwidth → ASCII (width mapping)
    ['ｶﾞ', 'ガ'], // halfwidth katakana + halfwidth voiced mark → one composed character
    ['e\u0301', 'é'], // NFC
    ['ΟΔΥΣΣΕΥΣ', 'οδυσσευς'], // toLowerCase, with final sigma in word-final position
    ['foo\\20bar', 'foo\\20bar'], // XEP-0106 escapes are left alone
    ['user+tag_x.y-z!#$%', 'user+tag_x.y-z!#$%'],
    ['例え', '例え'],
    ['ß', 'ß'],
    ['\u1100\u1161', '가'], // conjoining jamo compose before the class check
  ])('maps %j to %j', (input, expected) => {
    expect(prepLocalpart(input)).toBe(expected);
  });

  it.each(['"', '&', "'", '/', ':', '<', '>', '@'])('forbids %j (RFC 7622 §3.3.1)', (ch) => {
    expect(reasonOf(() => prepLocalpart(`a${ch}b`))).toBe('forbidden-character');
  });

  it('forbids a fullwidth at sign, which width mapping turns into "@"', () => {
    expect(reasonOf(() => prepLocalpart('a＠b'))).toBe('forbidden-character');
  });

  it.each([
    ['space', 'a b'],
    ['tab', 'a\tb'],
    ['DEL', 'a\u007fb'],
    ['no-break space (compatibility)', 'a\u00a0b'],
    ['roman numeral (compatibility)', 'henryⅣ'],
    ['ligature (compatibility)', 'ﬁsh'],
    ['other symbol', '♚'],
    ['currency symbol', 'a€'],
    ['non-ASCII punctuation', '¡hola'],
    ['soft hyphen (default ignorable)', 'a\u00adb'],
    ['zero width space (default ignorable)', 'a\u200bb'],
    ['noncharacter', 'a\uffffb'],
    ['unassigned', 'a\u0378b'],
    ['private use', 'a\ue000b'],
    ['lone surrogate', 'a\ud800b'],
    ['Arabic tatweel (RFC 5892 exception)', 'بـب'],
    ['old Hangul jamo that does not compose into a syllable', 'a\u1100'],
  ])('refuses %s', (_what, input) => {
    expect(reasonOf(() => prepLocalpart(input))).toBe('disallowed-character');
  });

  it('refuses the empty string', () => {
    expect(reasonOf(() => prepLocalpart(''))).toBe('empty');
  });

  describe('context rules (RFC 5892 Appendix A)', () => {
    it.each([
      ['middle dot between two l (Catalan)', 'col·la', true],
      ['middle dot elsewhere', 'co·lla', false],
      ['Greek keraia before a Greek letter', '͵α', true],
      ['Greek keraia before a Latin letter', '͵a', false],
      ['Hebrew geresh after a Hebrew letter', 'א׳', true],
      ['Hebrew geresh after a Latin letter', 'a׳', false],
      ['katakana middle dot among katakana', 'カ・カ', true],
      ['katakana middle dot among Latin letters', 'a・b', false],
      ['Arabic-Indic digits alone', 'a٣٤', true],
      ['extended Arabic-Indic digits alone', 'a۳۴', true],
      ['both kinds of Arabic digits mixed', '٣۳', false],
      ['ZWJ after a virama', 'क्\u200dष', true],
      ['ZWNJ after a virama', 'क्\u200cष', true],
      ['ZWJ between Latin letters', 'a\u200db', false],
      ['ZWNJ between joining Arabic-script letters (Persian)', 'می\u200cخواهم', true],
      ['ZWNJ between Latin letters', 'a\u200cb', false],
      ['ZWNJ at the start', '\u200cب', false],
    ])('%s: %j allowed=%s', (_what, input, allowed) => {
      expect(reasonOf(() => prepLocalpart(input))).toBe(allowed ? 'accepted' : 'disallowed-character');
    });
  });
});

describe('prepResourcepart: OpaqueString (RFC 8265 §4.2)', () => {
  it.each([
    ['balcony', 'balcony'],
    ['Balcony', 'Balcony'], // no case mapping
    [' foo ', ' foo '], // spaces kept where they are
    ['foo@bar/baz', 'foo@bar/baz'],
    ['♚', '♚'],
    ['Ｆｏｏ', 'Ｆｏｏ'], // no width mapping
    ['ⅳ', 'ⅳ'], // compatibility characters are valid in FreeformClass
    ['a\u00a0b\u3000c\u2009d', 'a b c d'], // non-ASCII spaces → U+0020
    ['Re\u0301s', 'Rés'], // NFC
    ['🍺', '🍺'],
  ])('maps %j to %j', (input, expected) => {
    expect(prepResourcepart(input)).toBe(expected);
  });

  it.each([
    ['NUL', '\u0000'],
    ['tab', 'a\tb'],
    ['line feed', 'a\nb'],
    ['DEL', 'a\u007f'],
    ['line separator', 'a\u2028b'],
    ['zero width space (default ignorable)', 'a\u200bb'],
    ['noncharacter', '\ufdd0'],
    ['unassigned', '\u0378'],
    ['private use', '\ue000'],
    ['lone surrogate', '\udc00'],
  ])('refuses %s', (_what, input) => {
    expect(reasonOf(() => prepResourcepart(input))).toBe('disallowed-character');
  });

  it('refuses the empty string', () => {
    expect(reasonOf(() => prepResourcepart(''))).toBe('empty');
  });
});
