import { isIPv6 } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { JidError } from './errors.js';
import { MAX_PART_OCTETS, utf8Length } from './octets.js';
import { findDisallowed } from './precis.js';

const MAX_LABEL_OCTETS = 63;
const ASCII = /^[\p{ASCII}]*$/u;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const NON_ASCII = /\P{ASCII}/u;
const LEADING_MARK = /^\p{M}/u;

/**
 * Prepares and enforces a domainpart (RFC 7622 §3.2): strips one trailing
 * dot, keeps an IPv4 address, canonicalizes a bracketed IPv6 literal, and
 * maps a domain name with UTS #46 (nontransitional, as `node:url`
 * domainToASCII does: lowercase, width, NFC), converts A-labels to U-labels
 * and checks each label against IDNA2008. The result is the lowercase
 * U-label form. Throws JidError (part 'domainpart').
 */
export function prepDomainpart(input: string): string {
  if (input.startsWith('[')) return prepIpLiteral(input);
  // RFC 7622 §3.2: one final label separator is stripped before use.
  const trailingDot = input.endsWith('.');
  const s = trailingDot ? input.slice(0, -1) : input;
  if (s === '') throw new JidError('domainpart', 'empty', 'the domainpart is empty');
  if (s.length <= MAX_PART_OCTETS && isPlainDomain(s)) return s;
  if (ASCII.test(s)) {
    const lower = s.toLowerCase();
    if (lower.length <= MAX_PART_OCTETS && isPlainDomain(lower)) return lower;
  }
  return prepDomainName(s, trailingDot);
}

/** Lowercase LDH labels, none an A-label: the common case, already in final form. */
function isPlainDomain(s: string): boolean {
  let start = 0;
  for (;;) {
    let end = s.indexOf('.', start);
    if (end === -1) end = s.length;
    const length = end - start;
    if (length === 0 || length > MAX_LABEL_OCTETS) return false;
    for (let i = start; i < end; i++) {
      const c = s.charCodeAt(i);
      const ok =
        (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || (c === 0x2d && i !== start && i !== end - 1);
      if (!ok) return false;
    }
    // 'xn--' starts an A-label, which becomes a U-label (RFC 7622 §3.2.1).
    if (length >= 4 && s.startsWith('xn--', start)) return false;
    if (end === s.length) return true;
    start = end + 1;
  }
}

function prepDomainName(s: string, trailingDotStripped: boolean): string {
  // domainToASCII parses a URL host: it would cut at '/', '?' or '#', percent-decode and drop tabs.
  // Only letters, digits, '-' and '.' can be part of a valid name, so anything else in ASCII is refused first.
  if (hasNonLdhAscii(s)) throw invalid(`${JSON.stringify(s)} is not a domain name`);
  let ascii = domainToASCII(s);
  if (ascii === '') throw invalid(`${JSON.stringify(s)} is not a domain name (UTS #46)`);
  // UTS #46 maps other full stops (U+3002, U+FF0E, …) to '.', so the final separator may show only now.
  if (!trailingDotStripped && ascii.endsWith('.')) ascii = ascii.slice(0, -1);
  for (const label of ascii.split('.')) {
    if (label.length === 0) throw invalid('empty label');
    if (label.length > MAX_LABEL_OCTETS) throw invalid(`label longer than ${MAX_LABEL_OCTETS} octets`);
    if (!LDH_LABEL.test(label)) throw invalid(`${JSON.stringify(label)} is not a letter-digit-hyphen label`);
  }
  const unicode = domainToUnicode(ascii);
  // A label that decodes but does not encode back is not a valid A-label (RFC 5891 §5.4).
  if (unicode === '' || domainToASCII(unicode) !== ascii) throw invalid('invalid A-label');
  for (const label of unicode.split('.')) {
    if (!NON_ASCII.test(label)) continue;
    // RFC 5891 §4.2.3.2.
    if (LEADING_MARK.test(label))
      throw new JidError('domainpart', 'disallowed-character', 'label starts with a mark');
    const disallowed = findDisallowed(label, 'idna');
    if (disallowed !== undefined) throw new JidError('domainpart', 'disallowed-character', disallowed);
  }
  if (utf8Length(unicode) > MAX_PART_OCTETS) {
    throw new JidError('domainpart', 'too-long', `more than ${MAX_PART_OCTETS} octets`);
  }
  return unicode;
}

function hasNonLdhAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) continue;
    const ok =
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2d ||
      c === 0x2e;
    if (!ok) return true;
  }
  return false;
}

// RFC 7622 §3.2 allows an IP-literal (RFC 3986 §3.2.2); only IPv6 is accepted inside brackets, without zone.
function prepIpLiteral(input: string): string {
  const inner = input.endsWith(']') ? input.slice(1, -1) : '';
  if (inner.includes('%') || !isIPv6(inner)) throw invalid(`${JSON.stringify(input)} is not an IPv6 literal`);
  // The URL host serializer gives one canonical text per address (RFC 5952 compression, lowercase).
  return domainToASCII(input);
}

function invalid(detail: string): JidError {
  return new JidError('domainpart', 'invalid-domain', detail);
}
