import { JidError } from './errors.js';
import { MAX_PART_OCTETS, utf8Length } from './octets.js';
import { findDisallowed } from './precis.js';

// Printable ASCII and space: every such string is already in final OpaqueString form.
const PLAIN = /^[\x20-\x7e]+$/;
const SPACE = /\p{Zs}/gu;

/**
 * Prepares and enforces a resourcepart: the PRECIS OpaqueString profile
 * (RFC 8265 §4.2) with the length limit of RFC 7622 §3.4. Case and
 * leading or trailing spaces are kept. Throws JidError (part 'resourcepart').
 */
export function prepResourcepart(input: string): string {
  if (input.length <= MAX_PART_OCTETS && PLAIN.test(input)) return input;
  if (input === '') throw new JidError('resourcepart', 'empty', 'the resourcepart is empty');
  // RFC 8265 §4.2.2: non-ASCII spaces to U+0020, then NFC.
  const s = input.replace(SPACE, ' ').normalize('NFC');
  const disallowed = findDisallowed(s, 'freeform');
  if (disallowed !== undefined) throw new JidError('resourcepart', 'disallowed-character', disallowed);
  if (utf8Length(s) > MAX_PART_OCTETS) {
    throw new JidError('resourcepart', 'too-long', `more than ${MAX_PART_OCTETS} octets`);
  }
  return s;
}
