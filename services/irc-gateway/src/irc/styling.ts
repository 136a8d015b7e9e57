/**
 * mIRC formatting ↔ XEP-0393 Message Styling, where one maps onto the other:
 * bold ↔ *strong*, italic ↔ _emphasis_, strikethrough ↔ ~strike~, monospace ↔ `pre`.
 * Colours, reverse and underline have no styling and are stripped. A span
 * that XEP-0393 could not express (mid-word, overlapping another, holding its
 * own directive) is stripped to plain text rather than shown with stray marks.
 */

type Style = 'strong' | 'emphasis' | 'strike' | 'pre';

const IRC_CODES: Readonly<Record<Style, string>> = {
  strong: '\x02',
  emphasis: '\x1d',
  strike: '\x1e',
  pre: '\x11',
};
const DIRECTIVES: Readonly<Record<Style, string>> = { strong: '*', emphasis: '_', strike: '~', pre: '`' };
const STYLE_OF_CODE = new Map<string, Style>(
  Object.entries(IRC_CODES).map(([style, code]) => [code, style as Style]),
);
const STYLE_OF_DIRECTIVE = new Map<string, Style>(
  Object.entries(DIRECTIVES).map(([style, d]) => [d, style as Style]),
);

// Colour 03 (fg[,bg]), hex colour 04, reverse 16, underline 1F: no styling for them.
// eslint-disable-next-line no-control-regex -- mIRC formatting is made of control characters
const UNMAPPED = /\x03(\d{1,2}(,\d{1,2})?)?|\x04([0-9a-fA-F]{6}(,[0-9a-fA-F]{6})?)?|[\x16\x1f]/g;
// The C0 controls XML 1.0 §2.2 forbids (tab, LF and CR are allowed), formatting codes included.
// eslint-disable-next-line no-control-regex -- these control characters are what is removed
const XML_FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f]/;

interface Span {
  readonly style: Style;
  start: number;
  end: number;
}

const isSpace = (ch: string | undefined): boolean => ch !== undefined && /\s/.test(ch);

/** IRC text as an XMPP body with XEP-0393 styling for the formatting that has one. */
export function ircToStyled(text: string): string {
  const input = text.replace(UNMAPPED, '');
  // The text without codes, and where each style was switched on and off in it (codes toggle; 0F resets).
  let plain = '';
  const open = new Map<Style, number>();
  const spans: Span[] = [];
  const closeSpan = (style: Style): void => {
    const start = open.get(style);
    open.delete(style);
    if (start !== undefined) spans.push({ style, start, end: plain.length });
  };
  for (const ch of input) {
    const style = STYLE_OF_CODE.get(ch);
    if (style !== undefined) {
      if (open.has(style)) closeSpan(style);
      else open.set(style, plain.length);
    } else if (ch === '\x0f') {
      for (const s of [...open.keys()]) closeSpan(s);
    } else if (!XML_FORBIDDEN.test(ch)) {
      plain += ch;
    }
  }
  for (const s of [...open.keys()]) closeSpan(s);

  // XEP-0393 §5.2: no whitespace just inside the directives, and never an empty span.
  for (const span of spans) {
    while (span.start < span.end && isSpace(plain[span.start])) span.start += 1;
    while (span.end > span.start && isSpace(plain[span.end - 1])) span.end -= 1;
  }
  // Outer spans first; with equal ranges `pre` innermost, since nothing inside it is styled.
  const order: Style[] = ['strong', 'emphasis', 'strike', 'pre'];
  const candidates = spans
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start || b.end - a.end || order.indexOf(a.style) - order.indexOf(b.style));
  const kept: Span[] = [];
  for (const span of candidates) {
    const content = plain.slice(span.start, span.end);
    // Its own directive inside would end the span early.
    if (content.includes(DIRECTIVES[span.style])) continue;
    const enclosing = kept.filter((k) => k.start <= span.start && span.end <= k.end);
    const overlaps = kept.some((k) => !enclosing.includes(k) && k.start < span.end && span.start < k.end);
    if (overlaps || enclosing.some((k) => k.style === 'pre' || k.style === span.style)) continue;
    // §5.2: an opening directive starts the line, follows whitespace, or follows another opening one.
    const before = plain[span.start - 1];
    const afterOpening = enclosing.some((k) => k.start === span.start);
    if (span.start > 0 && !isSpace(before) && !afterOpening) continue;
    kept.push(span);
  }

  let out = '';
  for (let i = 0; i <= plain.length; i++) {
    // Innermost closes first; outermost opens first (kept is outer-first).
    for (const span of [...kept].reverse()) if (span.end === i) out += DIRECTIVES[span.style];
    for (const span of kept) if (span.start === i) out += DIRECTIVES[span.style];
    if (i < plain.length) out += plain[i];
  }
  return out;
}

/**
 * One line of an XMPP body as IRC formatting, when its XEP-0393 spans are
 * unambiguous: every directive character in the line opens or closes a span.
 * Otherwise null, and the line goes as plain text (a lone `*` or `snake_case`
 * must not turn the rest of an IRC line bold or italic).
 */
export function styledLineToIrc(line: string): string | null {
  // §5.1: block quotations and preformatted blocks have no IRC counterpart.
  if (line.startsWith('>') || line.startsWith('```')) return null;
  return parseSpans(line, 0, line.length, false);
}

/** Parses [from, to) of `line` into IRC formatting, or null when a directive is left unmatched. */
function parseSpans(line: string, from: number, to: number, afterOpening: boolean): string | null {
  let out = '';
  let i = from;
  let openingAllowed = afterOpening || from === 0;
  while (i < to) {
    const ch = line[i]!;
    const style = STYLE_OF_DIRECTIVE.get(ch);
    if (style === undefined) {
      out += ch;
      openingAllowed = isSpace(ch);
      i += 1;
      continue;
    }
    if (!openingAllowed || i + 1 >= to || isSpace(line[i + 1])) return null;
    // §5.2: the span ends at the first matching directive not preceded by whitespace.
    let close = -1;
    for (let j = i + 2; j < to; j++) {
      if (line[j] === ch && !isSpace(line[j - 1])) {
        close = j;
        break;
      }
    }
    if (close < 0) return null;
    const inner = style === 'pre' ? line.slice(i + 1, close) : parseSpans(line, i + 1, close, true);
    if (inner === null) return null;
    out += IRC_CODES[style] + inner + IRC_CODES[style];
    i = close + 1;
    openingAllowed = false;
  }
  return out;
}

/** An XMPP body as IRC lines' text: styled where unambiguous, line by line, else plain. */
export function styledToIrc(body: string): string {
  return body
    .split(/(\r\n|\r|\n)/)
    .map((part, index) => (index % 2 === 1 ? part : (styledLineToIrc(part) ?? part)))
    .join('');
}
