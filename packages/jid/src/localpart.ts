import { JidError } from './errors.js';
import { MAX_PART_OCTETS, utf8Length } from './octets.js';
import { findDisallowed } from './precis.js';

// Printable ASCII minus uppercase and the RFC 7622 §3.3.1 exclusions: already in final form.
const PLAIN = /^[!#-%(-.0-9;=?[-~]+$/;
const PLAIN_WITH_UPPERCASE = /^[!#-%(-.0-9;=?A-Z[-~]+$/;
// RFC 7622 §3.3.1: forbidden on top of the PRECIS profile.
const FORBIDDEN = /["&'/:<>@]/;
// Code points with a <wide> or <narrow> decomposition (RFC 8265 §3.3.1 width mapping).
const WIDE_OR_NARROW = /[\u3000\uff01-\uffee]/g;

/**
 * Prepares and enforces a localpart: the PRECIS UsernameCaseMapped profile
 * (RFC 8265 §3.3) plus the exclusions of RFC 7622 §3.3.1. Returns the
 * normalized form; throws JidError (part 'localpart') when it is not valid.
 */
export function prepLocalpart(input: string): string {
  if (input.length <= MAX_PART_OCTETS) {
    if (PLAIN.test(input)) return input;
    if (PLAIN_WITH_UPPERCASE.test(input)) return input.toLowerCase();
  }
  if (input === '') throw new JidError('localpart', 'empty', 'the localpart is empty');
  // RFC 8265 §3.3.2: width mapping, case mapping (toLowerCase), NFC, in that order.
  const s = input
    .replace(WIDE_OR_NARROW, (ch) => ch.normalize('NFKC'))
    .toLowerCase()
    .normalize('NFC');
  const forbidden = FORBIDDEN.exec(s);
  if (forbidden)
    throw new JidError('localpart', 'forbidden-character', `${JSON.stringify(forbidden[0])} is not allowed`);
  const disallowed = findDisallowed(s, 'identifier');
  if (disallowed !== undefined) throw new JidError('localpart', 'disallowed-character', disallowed);
  if (utf8Length(s) > MAX_PART_OCTETS) {
    throw new JidError('localpart', 'too-long', `more than ${MAX_PART_OCTETS} octets`);
  }
  return s;
}
