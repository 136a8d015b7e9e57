// Characters XML 1.0 cannot carry at all, not even as character references (XML 1.0 §2.2),
// plus lone surrogates. They are replaced by U+FFFD so serialized output always parses.
const NOT_XML_CHAR = '\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\uFFFE\\uFFFF\\uD800-\\uDFFF';

// In `u` mode the surrogate range only matches unpaired halves.
const TEXT_SPECIAL = new RegExp(`[&<>\\r${NOT_XML_CHAR}]`, 'u');
const TEXT_SPECIAL_ALL = new RegExp(`[&<>\\r${NOT_XML_CHAR}]`, 'gu');
const ATTR_SPECIAL = new RegExp(`[&<>"'\\t\\n\\r${NOT_XML_CHAR}]`, 'u');
const ATTR_SPECIAL_ALL = new RegExp(`[&<>"'\\t\\n\\r${NOT_XML_CHAR}]`, 'gu');

function replacement(c: string): string {
  switch (c) {
    case '&':
      return '&amp;';
    case '<':
      return '&lt;';
    case '>':
      return '&gt;';
    case '"':
      return '&quot;';
    case "'":
      return '&apos;';
    // Literal tab and newline in an attribute value read back as spaces, and a
    // literal CR anywhere reads back as LF (XML 1.0 §2.11, §3.3.3): keep them as references.
    case '\t':
      return '&#9;';
    case '\n':
      return '&#10;';
    case '\r':
      return '&#13;';
    default:
      return '\uFFFD';
  }
}

/** Escapes an attribute value: `& < > " '`, and tab, LF, CR as character references. */
export function escapeXml(value: string): string {
  return ATTR_SPECIAL.test(value) ? value.replace(ATTR_SPECIAL_ALL, replacement) : value;
}

/** Escapes character data: `& < >`, and CR as a character reference. */
export function escapeText(value: string): string {
  return TEXT_SPECIAL.test(value) ? value.replace(TEXT_SPECIAL_ALL, replacement) : value;
}
