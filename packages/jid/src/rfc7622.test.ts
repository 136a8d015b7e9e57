import { describe, expect, it } from 'vitest';
import { JidError, parseJid, type JidErrorReason, type JidPart } from './index.js';

// RFC 7622 §3.5.1, examples 1–15, with the parts each one normalizes to.
const valid: ReadonlyArray<readonly [input: string, local: string, domain: string, resource: string]> = [
  ['juliet@example.com', 'juliet', 'example.com', ''],
  ['juliet@example.com/foo', 'juliet', 'example.com', 'foo'],
  ['juliet@example.com/foo bar', 'juliet', 'example.com', 'foo bar'],
  ['juliet@example.com/foo@bar', 'juliet', 'example.com', 'foo@bar'],
  ['foo\\20bar@example.com', 'foo\\20bar', 'example.com', ''],
  ['fussball@example.com', 'fussball', 'example.com', ''],
  ['fußball@example.com', 'fußball', 'example.com', ''],
  ['π@example.com', 'π', 'example.com', ''],
  ['Σ@example.com/foo', 'σ', 'example.com', 'foo'],
  ['σ@example.com/foo', 'σ', 'example.com', 'foo'],
  ['ς@example.com/foo', 'ς', 'example.com', 'foo'],
  ['king@example.com/♚', 'king', 'example.com', '♚'],
  ['example.com', '', 'example.com', ''],
  ['example.com/foobar', '', 'example.com', 'foobar'],
  ['a.example.com/b@example.net', '', 'a.example.com', 'b@example.net'],
];

// RFC 7622 §3.5.2, examples 16–23 except 18 (see below), with the part that is at fault.
const invalid: ReadonlyArray<readonly [input: string, part: JidPart, reason: JidErrorReason]> = [
  ['"juliet"@example.com', 'localpart', 'forbidden-character'],
  ['foo bar@example.com', 'localpart', 'disallowed-character'],
  ['@example.com/', 'localpart', 'empty'],
  ['henryⅣ@example.com', 'localpart', 'disallowed-character'],
  ['♚@example.com', 'localpart', 'disallowed-character'],
  ['juliet@', 'domainpart', 'empty'],
  ['/foobar', 'domainpart', 'empty'],
];

describe('RFC 7622 §3.5 examples', () => {
  it.each(valid)('accepts %j', (input, local, domain, resource) => {
    const parsed = parseJid(input);
    expect({ local: parsed.local, domain: parsed.domain, resource: parsed.resource }).toEqual({
      local,
      domain,
      resource,
    });
  });

  it.each(invalid)('rejects %j in the %s (%s)', (input, part, reason) => {
    let caught: unknown;
    try {
      parseJid(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(JidError);
    expect(caught).toMatchObject({ name: 'JidError', part, reason });
  });

  it('folds capital sigma onto small sigma but keeps final sigma distinct', () => {
    expect(parseJid('Σ@example.com/foo').equals(parseJid('σ@example.com/foo'))).toBe(true);
    expect(parseJid('ς@example.com/foo').equals(parseJid('σ@example.com/foo'))).toBe(false);
  });

  it('keeps fussball and fußball distinct, as the RFC lists them as two users', () => {
    expect(parseJid('fußball@example.com').equals(parseJid('fussball@example.com'))).toBe(false);
  });

  // Example 18 is listed as invalid for its leading space, but OpaqueString (RFC 8265 §4.2)
  // allows spaces anywhere, as other PRECIS implementations do; refusing it would lose stanzas
  // that other servers route. Documented in README.md.
  it('accepts example 18 (leading space in the resourcepart) because OpaqueString allows it', () => {
    expect(parseJid('juliet@example.com/ foo').resource).toBe(' foo');
  });
});
