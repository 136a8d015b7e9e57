import { describe, expect, it } from 'vitest';
import { JidError, bareJid, jid, parseJid, tryParseJid } from './index.js';

function errorOf(fn: () => unknown): JidError {
  try {
    fn();
  } catch (error) {
    if (error instanceof JidError) return error;
    throw error;
  }
  throw new Error('expected a JidError');
}

describe('parseJid splitting (RFC 7622 §3.1)', () => {
  it('takes everything after the first slash as the resourcepart, slashes and at signs included', () => {
    const parsed = parseJid('juliet@example.com/balcony/left@side');
    expect([parsed.local, parsed.domain, parsed.resource]).toEqual([
      'juliet',
      'example.com',
      'balcony/left@side',
    ]);
  });

  it('reads an at sign after the first slash as part of the resourcepart, not as a localpart separator', () => {
    const parsed = parseJid('example.com/juliet@example.net');
    expect([parsed.local, parsed.domain, parsed.resource]).toEqual(['', 'example.com', 'juliet@example.net']);
  });

  it('refuses a second at sign before the slash, which lands in the domainpart', () => {
    expect(errorOf(() => parseJid('juliet@@example.com')).part).toBe('domainpart');
    expect(errorOf(() => parseJid('juliet@example.com@example.net')).part).toBe('domainpart');
  });

  it('refuses separators with nothing on their other side', () => {
    expect(errorOf(() => parseJid('@example.com'))).toMatchObject({ part: 'localpart', reason: 'empty' });
    expect(errorOf(() => parseJid('example.com/'))).toMatchObject({ part: 'resourcepart', reason: 'empty' });
    expect(errorOf(() => parseJid('juliet@example.com/'))).toMatchObject({
      part: 'resourcepart',
      reason: 'empty',
    });
    expect(errorOf(() => parseJid('juliet@/foo'))).toMatchObject({ part: 'domainpart', reason: 'empty' });
    expect(errorOf(() => parseJid(''))).toMatchObject({ part: 'domainpart', reason: 'empty' });
  });

  it('normalizes every part: lowercase localpart and domainpart, resourcepart case kept', () => {
    expect(parseJid('King@Example.COM/Chess').toString()).toBe('king@example.com/Chess');
  });
});

describe('Jid', () => {
  it('gives the bare JID of a full JID and itself for a bare JID', () => {
    const full = parseJid('juliet@example.com/balcony');
    expect(full.isBare()).toBe(false);
    expect(full.bare().toString()).toBe('juliet@example.com');
    expect(full.bare().isBare()).toBe(true);
    const bare = parseJid('juliet@example.com');
    expect(bare.bare()).toBe(bare);
    expect(parseJid('example.com/foo').bare().toString()).toBe('example.com');
  });

  it('is equal to another JID exactly when the normalized strings are equal', () => {
    const pairs: Array<[string, string, boolean]> = [
      ['Juliet@Example.com/balcony', 'juliet@example.com/balcony', true],
      ['juliet@example.com/Balcony', 'juliet@example.com/balcony', false],
      ['juliet@example.com.', 'juliet@example.com', true],
      ['ＪＵＬＩＥＴ@example.com', 'juliet@example.com', true],
      ['e\u0301@example.com', 'é@example.com', true],
      ['juliet@example.com', 'juliet@example.com/balcony', false],
      ['juliet@example.com', 'example.com', false],
      ['juliet@xn--mnchen-3ya.de', 'juliet@münchen.de', true],
    ];
    for (const [a, b, equal] of pairs) {
      expect(parseJid(a).equals(parseJid(b))).toBe(equal);
      expect(parseJid(a).toString() === parseJid(b).toString()).toBe(equal);
    }
  });

  it('serializes to its normalized string in JSON', () => {
    expect(JSON.stringify({ to: parseJid('Romeo@Example.net/Orchard') })).toBe(
      '{"to":"romeo@example.net/Orchard"}',
    );
  });

  it('returns the same immutable instance for a repeated input', () => {
    const first = parseJid('benvolio@example.net/home');
    const second = parseJid('benvolio@example.net/home');
    expect(second.equals(first)).toBe(true);
    expect(second).toBe(first);
  });
});

describe('jid, bareJid, tryParseJid', () => {
  it('builds and normalizes a JID from parts, empty strings meaning absent', () => {
    expect(jid('Juliet', 'Example.com', 'balcony').toString()).toBe('juliet@example.com/balcony');
    expect(jid('', 'example.com').toString()).toBe('example.com');
    expect(jid('juliet', 'example.com', '').isBare()).toBe(true);
    expect(jid('romeo', 'example.net', 'b@r/s').resource).toBe('b@r/s');
  });

  it('refuses parts that would change the meaning of the string form', () => {
    expect(errorOf(() => jid('a@b', 'example.com'))).toMatchObject({ part: 'localpart' });
    expect(errorOf(() => jid('a/b', 'example.com'))).toMatchObject({ part: 'localpart' });
    expect(errorOf(() => jid('a', 'example.com/x'))).toMatchObject({ part: 'domainpart' });
    expect(errorOf(() => jid('a', 'b@example.com'))).toMatchObject({ part: 'domainpart' });
  });

  it('gives the normalized bare string of any JID string', () => {
    expect(bareJid('Juliet@Example.COM./Balcony')).toBe('juliet@example.com');
    expect(bareJid('example.com')).toBe('example.com');
  });

  it('returns null instead of throwing for a malformed JID', () => {
    expect(tryParseJid('juliet@')).toBeNull();
    expect(tryParseJid('juliet@example.com')?.toString()).toBe('juliet@example.com');
  });
});

describe('JidError', () => {
  it('is an Error with a stable name, the part at fault and the reason', () => {
    const error = errorOf(() => parseJid('juliet@example.com/\u0000'));
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('JidError');
    expect(error.part).toBe('resourcepart');
    expect(error.reason).toBe('disallowed-character');
    expect(error.message).toContain('U+0000');
  });
});

describe('length limits (1023 octets per part after normalization, RFC 7622 §3.2–3.4)', () => {
  const domain31 = Array.from({ length: 31 }, () => 'a'.repeat(31)).join('.');

  it('accepts a localpart of 1023 octets and refuses 1024', () => {
    expect(parseJid(`${'a'.repeat(1023)}@example.com`).local).toHaveLength(1023);
    expect(errorOf(() => parseJid(`${'a'.repeat(1024)}@example.com`))).toMatchObject({
      part: 'localpart',
      reason: 'too-long',
    });
  });

  it('counts octets of UTF-8, not UTF-16 units', () => {
    expect(() => parseJid(`${'é'.repeat(511)}a@example.com`)).not.toThrow();
    expect(errorOf(() => parseJid(`${'é'.repeat(512)}@example.com`)).reason).toBe('too-long');
    expect(() => parseJid(`example.com/${'♚'.repeat(341)}`)).not.toThrow();
    expect(errorOf(() => parseJid(`example.com/${'♚'.repeat(342)}`))).toMatchObject({
      part: 'resourcepart',
      reason: 'too-long',
    });
  });

  it('counts after normalization: 1023 fullwidth letters (3069 octets) map to 1023 ASCII octets', () => {
    expect(parseJid(`${'Ａ'.repeat(1023)}@example.com`).local).toBe('a'.repeat(1023));
  });

  it('accepts a resourcepart of 1023 octets and refuses 1024', () => {
    expect(parseJid(`example.com/${'r'.repeat(1023)}`).resource).toHaveLength(1023);
    expect(errorOf(() => parseJid(`example.com/${'r'.repeat(1024)}`))).toMatchObject({
      part: 'resourcepart',
      reason: 'too-long',
    });
  });

  it('accepts a domainpart of 1023 octets and refuses 1024', () => {
    const exact = `${domain31}.${'b'.repeat(31)}`;
    expect(exact).toHaveLength(1023);
    expect(parseJid(exact).domain).toBe(exact);
    expect(errorOf(() => parseJid(`${exact}b`))).toMatchObject({ part: 'domainpart', reason: 'too-long' });
  });
});
