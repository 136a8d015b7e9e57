import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { JidError, parseJid, prepDomainpart, type JidErrorReason } from './index.js';

function reasonOf(input: string): JidErrorReason | 'accepted' {
  try {
    prepDomainpart(input);
    return 'accepted';
  } catch (error) {
    if (error instanceof JidError) return error.reason;
    throw error;
  }
}

describe('prepDomainpart (RFC 7622 §3.2)', () => {
  it.each([
    ['example.com', 'example.com'],
    ['EXAMPLE.COM', 'example.com'],
    ['example.com.', 'example.com'], // one trailing dot is stripped
    ['example.com。', 'example.com'], // so is an ideographic full stop, a label separator in UTS #46
    ['ＥＸＡＭＰＬＥ．ｃｏｍ', 'example.com'], // width mapping
    ['MÜNCHEN.de', 'münchen.de'],
    ['xn--mnchen-3ya.de', 'münchen.de'], // A-label → U-label
    ['XN--MNCHEN-3YA.DE', 'münchen.de'],
    ['fußball.example', 'fußball.example'], // nontransitional: ß is kept
    ['例え.テスト', '例え.テスト'],
    ['127.0.0.1', '127.0.0.1'],
    ['[::1]', '[::1]'],
    ['[2001:DB8:0:0:0:0:0:1]', '[2001:db8::1]'], // one canonical text per address
    ['localhost', 'localhost'],
    [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
  ])('maps %j to %j', (input, expected) => {
    expect(prepDomainpart(input)).toBe(expected);
  });

  it.each([
    ['', 'empty'],
    ['.', 'empty'],
    ['example.com..', 'invalid-domain'],
    ['a..example.com', 'invalid-domain'],
    ['.example.com', 'invalid-domain'],
    [`${'a'.repeat(64)}.com`, 'invalid-domain'], // label over 63 octets
    ['-example.com', 'invalid-domain'],
    ['example-.com', 'invalid-domain'],
    ['exa_mple.com', 'invalid-domain'],
    ['exa mple.com', 'invalid-domain'],
    ['example.com/x', 'invalid-domain'], // the URL host parser would silently cut here
    ['example.com?x', 'invalid-domain'],
    ['exa%6dple.com', 'invalid-domain'], // …or percent-decode here
    ['exa\tmple.com', 'invalid-domain'], // …or drop the tab
    ['a／b.com', 'invalid-domain'], // fullwidth solidus maps to '/'
    ['xn--zz.com', 'invalid-domain'], // not a valid A-label
    ['xn--ab-.com', 'invalid-domain'],
    ['♚.example', 'disallowed-character'], // symbols are not IDNA2008 PVALID
    ['a.\u0301b.example', 'invalid-domain'], // label starting with a combining mark
    ['[::1', 'invalid-domain'],
    ['[127.0.0.1]', 'invalid-domain'], // IPv4 is never bracketed
    ['[fe80::1%eth0]', 'invalid-domain'], // zone identifiers are not part of RFC 3986 IP-literal
    ['[::1].', 'invalid-domain'],
  ])('refuses %j (%s)', (input, reason) => {
    expect(reasonOf(input)).toBe(reason);
  });

  it('counts the 1023-octet limit on the UTF-8 of the U-label form', () => {
    const labels = Array.from({ length: 33 }, () => 'ü'.repeat(15)).join('.'); // 33×30 + 32 = 1022 octets
    expect(Buffer.byteLength(`${labels}a`)).toBe(1023);
    expect(prepDomainpart(`${labels}a`)).toBe(`${labels}a`);
    expect(reasonOf(`${labels}aa`)).toBe('too-long');
  });

  it('compares internationalized domains by their U-label form', () => {
    expect(parseJid('juliet@xn--mnchen-3ya.de').equals(parseJid('juliet@MÜNCHEN.DE.'))).toBe(true);
  });
});
