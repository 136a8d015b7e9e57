import type { Attrs } from './element.js';
import { fail, isWhitespace, TreeBuilder } from './tree-builder.js';

// Character classes of XML 1.0 (Fifth Edition): §2.2 Char, §2.3 S, NameStartChar and
// NameChar (colon included, as in non-namespace XML; the tree builder checks prefixes).
// Kept in this module so the hot loops call them directly, not through module bindings.

const NAME_START = 1;
const NAME = 2;

/** ASCII lookup: NAME_START | NAME for name start characters, NAME for the others allowed in names. */
const ASCII_NAME = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z_:]/.test(ch)) ASCII_NAME[c] = NAME_START | NAME;
  else if (/[0-9.-]/.test(ch)) ASCII_NAME[c] = NAME;
}

/** §2.3 S. */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/** §2.2 Char, for a code point (NaN is not one). */
function isXmlChar(cp: number): boolean {
  return cp >= 0x20
    ? cp <= 0xd7ff || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
    : cp === 0x09 || cp === 0x0a || cp === 0x0d;
}

/** §2.3 NameStartChar, for a code point. */
function isNameStartCode(cp: number): boolean {
  if (cp < 128) return (ASCII_NAME[cp]! & NAME_START) !== 0;
  return (
    (cp >= 0xc0 && cp <= 0xd6) ||
    (cp >= 0xd8 && cp <= 0xf6) ||
    (cp >= 0xf8 && cp <= 0x2ff) ||
    (cp >= 0x370 && cp <= 0x37d) ||
    (cp >= 0x37f && cp <= 0x1fff) ||
    cp === 0x200c ||
    cp === 0x200d ||
    (cp >= 0x2070 && cp <= 0x218f) ||
    (cp >= 0x2c00 && cp <= 0x2fef) ||
    (cp >= 0x3001 && cp <= 0xd7ff) ||
    (cp >= 0xf900 && cp <= 0xfdcf) ||
    (cp >= 0xfdf0 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0xeffff)
  );
}

/** §2.3 NameChar, for a code point. */
function isNameCode(cp: number): boolean {
  if (cp < 128) return (ASCII_NAME[cp]! & NAME) !== 0;
  return isNameStartCode(cp) || cp === 0xb7 || (cp >= 0x300 && cp <= 0x36f) || cp === 0x203f || cp === 0x2040;
}

/** §2.3 Name: a start character, then name characters; lone surrogates make it not a name. */
function isXmlName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    let cp = name.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff) {
      const low = name.charCodeAt(i + 1);
      if (!(low >= 0xdc00 && low <= 0xdfff)) return false;
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
      if (!(i === 0 ? isNameStartCode(cp) : isNameCode(cp))) return false;
      i++;
    } else if (!(i === 0 ? isNameStartCode(cp) : isNameCode(cp))) return false;
  }
  return true;
}

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOT = 0x22;
const HASH = 0x23;
const AMP = 0x26;
const APOS = 0x27;
const MINUS = 0x2d;
const SLASH = 0x2f;
const SEMI = 0x3b;
const LT = 0x3c;
const EQ = 0x3d;
const GT = 0x3e;
const QUESTION = 0x3f;
const BANG = 0x21;
const RSQB = 0x5d;

/**
 * An unfinished construct at the end of a chunk up to this many UTF-16 units
 * is kept as a string and scanned again with the next chunk. A longer one is
 * kept as a list of chunks and only the new chunk is scanned for its end, so a
 * peer trickling a large tag byte by byte costs linear time, not quadratic.
 */
const CARRY_MAX = 512;

// What a long unfinished construct (kept as a rope) waits for.
const ROPE_ENTITY = 1; // the character ending a reference: ';' or one that cannot be in it
const ROPE_START_TAG = 2; // '>' outside quotes, or '<' anywhere
const ROPE_END_TAG = 3; // '>' or '<'
const ROPE_PI = 4; // '?>'
const ROPE_COMMENT = 5; // '--'
const ROPE_CDATA = 6; // ']]>'

const TERMINATORS: Record<number, string> = { [ROPE_PI]: '?>', [ROPE_COMMENT]: '--', [ROPE_CDATA]: ']]>' };

// XML 1.0 §2.8 XMLDecl as saxes accepts it (a version of the form 1.x, then
// optional encoding and standalone, in that order).
const XML_DECL =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:'1\.[0-9]+'|"1\.[0-9]+")(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:'([A-Za-z][A-Za-z0-9._-]*)'|"([A-Za-z][A-Za-z0-9._-]*)"))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:'(?:yes|no)'|"(?:yes|no)"))?[ \t\r\n]*\?>$/;

function notWellFormed(text: string): never {
  return fail('not-well-formed', text);
}

/** Throws unless the code point starting at `s[j]` is an XML 1.0 Char (§2.2). */
function checkCharAt(s: string, j: number): void {
  const c = s.charCodeAt(j);
  if (c >= 0x20 ? c < 0xd800 || (c >= 0xe000 && c <= 0xfffd) : c === TAB || c === LF || c === CR) return;
  if (c >= 0xd800 && c <= 0xdbff) {
    const d = s.charCodeAt(j + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return;
  }
  notWellFormed('character not allowed in XML (XML 1.0 §2.2)');
}

/** Checks every character of `s[from, to)`; a high surrogate at `to - 1` waits for its pair when `to` is the end. */
function checkChars(s: string, from: number, to: number): void {
  for (let j = from; j < to; j++) {
    const c = s.charCodeAt(j);
    if (c >= 0x20 && c < 0xd800) continue;
    if (c >= 0xd800 && c <= 0xdbff) {
      if (j + 1 === s.length) return;
      const d = s.charCodeAt(j + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        j++;
        continue;
      }
    }
    checkCharAt(s, j);
  }
}

/** `\r\n` and `\r` read as `\n` (XML 1.0 §2.11). */
function normalizeNewlines(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

/**
 * Index of the first character at or after `j` that cannot continue a name;
 * `n` when the input ends first (also inside a surrogate pair).
 */
function scanName(s: string, j: number, n: number): number {
  for (; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c < 128) {
      if ((ASCII_NAME[c]! & NAME) !== 0) continue;
      return j;
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      if (j + 1 >= n) return n;
      const d = s.charCodeAt(j + 1);
      if (d >= 0xdc00 && d <= 0xdfff && isNameCode(0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00))) {
        j++;
        continue;
      }
      return j;
    }
    if (!isNameCode(c)) return j;
  }
  return n;
}

/** Whether a name starts at `s[j]`; undefined when the input ends first (or inside a surrogate pair). */
function nameStartsAt(s: string, j: number, n: number): boolean | undefined {
  if (j >= n) return undefined;
  const c = s.charCodeAt(j);
  if (c < 128) return (ASCII_NAME[c]! & NAME_START) !== 0;
  if (c >= 0xd800 && c <= 0xdbff) {
    if (j + 1 >= n) return undefined;
    const d = s.charCodeAt(j + 1);
    return d >= 0xdc00 && d <= 0xdfff && isNameStartCode(0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00));
  }
  return isNameStartCode(c);
}

/**
 * Index of the ';' ending the reference whose name starts at `from`, -1 when
 * the input ends first. A character that cannot be part of a reference
 * (XML 1.0 §4.1: names and '#') makes it malformed at once.
 */
function entityEnd(s: string, from: number, n: number): number {
  for (let k = from; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c === SEMI) return k;
    if (
      c < 128 ? (ASCII_NAME[c]! & NAME) !== 0 || c === HASH : (c >= 0xd800 && c <= 0xdfff) || isNameCode(c)
    ) {
      continue;
    }
    checkCharAt(s, k);
    notWellFormed('malformed entity reference');
  }
  return -1;
}

/** The text of a reference (XML 1.0 §4.1): the five predefined entities and character references. */
function decodeEntity(name: string): string {
  switch (name) {
    case 'amp':
      return '&';
    case 'lt':
      return '<';
    case 'gt':
      return '>';
    case 'quot':
      return '"';
    case 'apos':
      return "'";
    case '':
      return notWellFormed('empty entity reference');
    default:
  }
  if (name.charCodeAt(0) === HASH) {
    let cp = NaN;
    if (name.charCodeAt(1) === 0x78 /* x */ && /^#x[0-9a-f]+$/i.test(name)) cp = parseInt(name.slice(2), 16);
    else if (/^#[0-9]+$/.test(name)) cp = parseInt(name.slice(1), 10);
    if (!isXmlChar(cp)) notWellFormed('character reference to a character XML does not allow');
    return String.fromCodePoint(cp);
  }
  checkChars(name, 0, name.length);
  // RFC 6120 §11.1: no DTD, so any other entity is undefined.
  if (isXmlName(name)) return fail('restricted-xml', `undefined entity &${name}; (RFC 6120 §11.1)`);
  return notWellFormed('malformed entity reference');
}

/**
 * The hand-written tokenizer: scans each chunk with charCodeAt over runs and
 * slices names, values and text once. It accepts and rejects what the saxes
 * engine does, with the same conditions, and reports each construct at the
 * same input position, so byte accounting and stanza boundaries match.
 *
 * Where it deliberately differs: a DOCTYPE is refused as soon as
 * `<!DOCTYPE` is read (saxes reads the DTD first); a reference or a quoted
 * value that can no longer be well-formed is refused when that is certain
 * rather than at its end; lone surrogates in string input are refused.
 */
export class NativeTreeBuilder extends TreeBuilder {
  /** Offset in `s` of the tokenizer; `s` is the chunk preceded by `shift` carried units. */
  private pos = 0;
  private shift = 0;
  /** Character data read since the last markup, normalized. */
  private text = '';
  /** `]` just read in character data (0–2), for the `]]>` rule (XML 1.0 §2.4). */
  private brackets = 0;
  /** Unfinished input to scan again in front of the next chunk. */
  private carry = '';
  /** A long unfinished construct, see CARRY_MAX. */
  private rope: string[] | undefined;
  private ropeLength = 0;
  private ropeKind = 0;
  private ropeQuote = 0;
  private ropeTail = '';
  private started = false;
  /** Nothing but a byte order mark read yet: an XML declaration may come (XML 1.0 §2.8). */
  private declPossible = true;
  /** Document mode: the root element is complete. */
  private rootClosed = false;

  protected offset(): number {
    return this.pos - this.shift;
  }

  protected end(): void {
    const pending = this.rope !== undefined || (this.carry !== '' && !isWhitespace(this.carry, 0));
    if (pending || !this.rootClosed) notWellFormed('input ends inside the document');
    this.text = '';
    this.brackets = 0;
    this.carry = '';
    this.started = false;
    this.declPossible = true;
    this.rootClosed = false;
  }

  protected parse(chunk: string): void {
    let s: string;
    if (this.rope !== undefined) {
      if (this.ropeEnd(chunk) === -1) {
        this.rope.push(chunk);
        this.ropeLength += chunk.length;
        return;
      }
      s = this.rope.join('') + chunk;
      this.shift = this.ropeLength;
      this.rope = undefined;
    } else if (this.carry !== '') {
      s = this.carry + chunk;
      this.shift = this.carry.length;
      this.carry = '';
    } else {
      s = chunk;
      this.shift = 0;
    }
    const n = s.length;
    let i = 0;
    if (!this.started && n > 0) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) i = 1;
    }
    while (i < n) {
      if (this.stack.length === 0) {
        // Outside the root only whitespace and markup (XML 1.0 §2.8 Misc).
        const from = i;
        while (i < n && isSpace(s.charCodeAt(i))) i++;
        if (i > from) this.declPossible = false;
        if (i === n) break;
        if (s.charCodeAt(i) !== LT) {
          checkCharAt(s, i);
          notWellFormed('text outside the root element');
        }
      } else {
        i = this.scanText(s, i, n);
        if (i >= n) break;
        this.brackets = 0;
        if (this.text !== '') {
          const text = this.text;
          this.text = '';
          this.pos = i + 1;
          this.onText(text, false);
        }
      }
      const end = this.markup(s, i, n);
      if (end === -1) {
        this.hold(s, i);
        break;
      }
      this.declPossible = false;
      i = end;
    }
    // Whitespace between stanzas only matters as "whitespace": keepalives must not pile up.
    if (
      this.emitLevel === 1 &&
      this.stack.length === 1 &&
      this.text.length > 64 &&
      isWhitespace(this.text, 0)
    ) {
      this.text = ' ';
    }
  }

  /** Keeps `s[i..]`, an unfinished construct, for the next chunk. */
  private hold(s: string, i: number): void {
    const rest = i === 0 ? s : s.slice(i);
    if (rest.length <= CARRY_MAX) {
      this.carry = rest;
      return;
    }
    this.rope = [rest];
    this.ropeLength = rest.length;
    this.ropeTail = '';
    const c1 = rest.charCodeAt(1);
    if (rest.charCodeAt(0) === AMP) this.ropeKind = ROPE_ENTITY;
    else if (c1 === SLASH) this.ropeKind = ROPE_END_TAG;
    else if (c1 === QUESTION) this.ropeKind = ROPE_PI;
    else if (c1 === BANG) this.ropeKind = rest.charCodeAt(2) === MINUS ? ROPE_COMMENT : ROPE_CDATA;
    else {
      this.ropeKind = ROPE_START_TAG;
      let quote = 0;
      for (let k = 1; k < rest.length; k++) {
        const c = rest.charCodeAt(k);
        if (quote === 0) {
          if (c === QUOT || c === APOS) quote = c;
        } else if (c === quote) quote = 0;
      }
      this.ropeQuote = quote;
    }
    const terminator = TERMINATORS[this.ropeKind];
    if (terminator !== undefined) this.ropeTail = rest.slice(-(terminator.length - 1));
  }

  /** Where in `chunk` the held construct can end (just past it), -1 when not in this chunk. */
  private ropeEnd(chunk: string): number {
    const n = chunk.length;
    switch (this.ropeKind) {
      case ROPE_ENTITY:
        for (let k = 0; k < n; k++) {
          const c = chunk.charCodeAt(k);
          if (
            c < 128
              ? (ASCII_NAME[c]! & NAME) === 0 && c !== HASH
              : (c < 0xd800 || c > 0xdfff) && !isNameCode(c)
          ) {
            return k + 1;
          }
        }
        return -1;
      case ROPE_START_TAG: {
        let quote = this.ropeQuote;
        for (let k = 0; k < n; k++) {
          const c = chunk.charCodeAt(k);
          if (c === LT) return k + 1;
          if (quote === 0) {
            if (c === GT) return k + 1;
            if (c === QUOT || c === APOS) quote = c;
          } else if (c === quote) quote = 0;
        }
        this.ropeQuote = quote;
        return -1;
      }
      case ROPE_END_TAG:
        for (let k = 0; k < n; k++) {
          const c = chunk.charCodeAt(k);
          if (c === GT || c === LT) return k + 1;
        }
        return -1;
      default: {
        const terminator = TERMINATORS[this.ropeKind]!;
        const joined = this.ropeTail + chunk;
        const at = joined.indexOf(terminator);
        if (at !== -1) return at + terminator.length - this.ropeTail.length;
        this.ropeTail = joined.slice(-(terminator.length - 1));
        return -1;
      }
    }
  }

  /**
   * Character data inside the root from `s[i]`: returns the index of the
   * next '<', or `n` when the chunk is used up (keeping any unfinished
   * reference, CR or surrogate pair for the next one).
   */
  private scanText(s: string, i: number, n: number): number {
    let start = i;
    let brackets = this.brackets;
    let text = this.text;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > GT ? c < 0xd800 && c !== RSQB : c >= 0x20 && c !== LT && c !== AMP && c !== GT) {
        brackets = 0;
        continue;
      }
      if (c === LT) break;
      if (c === AMP) {
        text += s.slice(start, i);
        const semi = entityEnd(s, i + 1, n);
        if (semi === -1) {
          this.text = text;
          this.brackets = 0;
          this.hold(s, i);
          return n;
        }
        text += decodeEntity(s.slice(i + 1, semi));
        i = semi;
        start = semi + 1;
        brackets = 0;
      } else if (c === RSQB) {
        if (brackets < 2) brackets++;
      } else if (c === GT) {
        if (brackets === 2) notWellFormed(']]> in character data (XML 1.0 §2.4)');
        brackets = 0;
      } else if (c === LF || c === TAB) {
        brackets = 0;
      } else if (c === CR) {
        text += s.slice(start, i);
        if (i + 1 === n) {
          this.text = text;
          this.brackets = 0;
          this.carry = '\r';
          return n;
        }
        text += '\n';
        if (s.charCodeAt(i + 1) === LF) i++;
        start = i + 1;
        brackets = 0;
      } else if (c >= 0xd800 && c <= 0xdbff) {
        if (i + 1 === n) {
          text += s.slice(start, i);
          this.text = text;
          this.brackets = 0;
          this.carry = s.slice(i);
          return n;
        }
        const d = s.charCodeAt(i + 1);
        if (!(d >= 0xdc00 && d <= 0xdfff)) checkCharAt(s, i);
        i++;
        brackets = 0;
      } else {
        // Control characters, lone low surrogates, U+FFFE, U+FFFF.
        checkCharAt(s, i);
        brackets = 0;
      }
    }
    this.text = start === i ? text : text + s.slice(start, i);
    this.brackets = brackets;
    return i;
  }

  /** The markup starting with the '<' at `s[lt]`: returns the index just past it, -1 when unfinished. */
  private markup(s: string, lt: number, n: number): number {
    if (lt + 1 >= n) return -1;
    const c = s.charCodeAt(lt + 1);
    if (c === SLASH) return this.endTag(s, lt, n);
    if (c === BANG) return this.bang(s, lt, n);
    if (c === QUESTION) return this.processingInstruction(s, lt, n);
    return this.startTag(s, lt, n);
  }

  private startTag(s: string, lt: number, n: number): number {
    const first = nameStartsAt(s, lt + 1, n);
    if (first === undefined) return -1;
    if (!first) {
      checkCharAt(s, lt + 1);
      notWellFormed('not a name after <');
    }
    let j = scanName(s, lt + 1, n);
    if (j >= n) return -1;
    const name = s.slice(lt + 1, j);
    let c = s.charCodeAt(j);
    const ok = c === GT || c === SLASH || isSpace(c);
    if (!ok) checkCharAt(s, j);
    this.onOpenTagStart(name);
    if (this.rootClosed) notWellFormed('a second root element');
    if (!ok) notWellFormed('character not allowed in a tag name');

    const attrs = Object.create(null) as Attrs;
    let end: number;
    let selfClosing = false;
    for (;;) {
      if (c === GT) {
        end = j + 1;
        break;
      }
      if (c === SLASH) {
        if (j + 1 >= n) return -1;
        if (s.charCodeAt(j + 1) !== GT) notWellFormed('/ not followed by > in a start tag');
        end = j + 2;
        selfClosing = true;
        break;
      }
      // c is whitespace here.
      do j++;
      while (j < n && isSpace(s.charCodeAt(j)));
      if (j >= n) return -1;
      c = s.charCodeAt(j);
      if (c === GT || c === SLASH) continue;

      const attrStart = nameStartsAt(s, j, n);
      if (attrStart === undefined) return -1;
      if (!attrStart) {
        checkCharAt(s, j);
        notWellFormed('character not allowed in an attribute name');
      }
      const keyStart = j;
      j = scanName(s, j, n);
      if (j >= n) return -1;
      const key = s.slice(keyStart, j);
      c = s.charCodeAt(j);
      while (isSpace(c)) c = s.charCodeAt(++j);
      if (j >= n) return -1;
      if (c !== EQ) notWellFormed('attribute without a value');
      do c = s.charCodeAt(++j);
      while (isSpace(c));
      if (j >= n) return -1;
      if (c !== QUOT && c !== APOS) notWellFormed('unquoted attribute value');

      // Attribute value (XML 1.0 §3.3.3: whitespace characters read as spaces).
      const quote = c;
      let value = '';
      let from = ++j;
      for (;;) {
        if (j >= n) return -1;
        c = s.charCodeAt(j);
        if (c === quote) break;
        if (c >= 0x20 && c < 0xd800 && c !== AMP && c !== LT) {
          j++;
          continue;
        }
        if (c === AMP) {
          const semi = entityEnd(s, j + 1, n);
          if (semi === -1) return -1;
          value += s.slice(from, j) + decodeEntity(s.slice(j + 1, semi));
          j = from = semi + 1;
        } else if (c === LT) {
          notWellFormed('< in an attribute value');
        } else if (c === TAB || c === LF) {
          value += `${s.slice(from, j)} `;
          j = from = j + 1;
        } else if (c === CR) {
          if (j + 1 >= n) return -1;
          value += `${s.slice(from, j)} `;
          j += s.charCodeAt(j + 1) === LF ? 2 : 1;
          from = j;
        } else if (c >= 0xd800 && c <= 0xdbff) {
          if (j + 1 >= n) return -1;
          checkCharAt(s, j);
          j += 2;
        } else {
          checkCharAt(s, j);
          j++;
        }
      }
      value += s.slice(from, j);
      if (attrs[key] !== undefined) notWellFormed(`duplicate attribute ${key}`);
      attrs[key] = value;
      if (++j >= n) return -1;
      c = s.charCodeAt(j);
      if (!(c === GT || c === SLASH || isSpace(c))) {
        checkCharAt(s, j);
        notWellFormed('no whitespace between attributes');
      }
    }

    this.pos = end;
    this.onOpenTag(name, attrs);
    if (selfClosing) this.closeElement();
    return end;
  }

  private endTag(s: string, lt: number, n: number): number {
    let j = scanName(s, lt + 2, n);
    if (j >= n) return -1;
    const name = s.slice(lt + 2, j);
    let c = s.charCodeAt(j);
    while (isSpace(c)) c = s.charCodeAt(++j);
    if (j >= n) return -1;
    if (c !== GT) {
      checkCharAt(s, j);
      notWellFormed('character not allowed in an end tag');
    }
    if (name === '') notWellFormed('empty end tag');
    const open = this.stack[this.stack.length - 1];
    if (open === undefined) notWellFormed(`</${name}> closes nothing`);
    if (open.name !== name) notWellFormed(`</${name}> closes <${open.name}>`);
    this.pos = j + 1;
    this.closeElement();
    return j + 1;
  }

  private closeElement(): void {
    this.onCloseTag();
    if (this.stack.length === 0) this.rootClosed = true;
  }

  /** `<!`: a comment, a CDATA section or a DOCTYPE. */
  private bang(s: string, lt: number, n: number): number {
    const from = lt + 2;
    if (n - from >= 2 && s.charCodeAt(from) === MINUS && s.charCodeAt(from + 1) === MINUS) {
      // RFC 6120 §11.1. The comment counts as read at its first '--', as saxes reports it.
      const dashes = s.indexOf('--', lt + 4);
      checkChars(s, lt + 4, dashes === -1 ? n : dashes);
      if (dashes === -1) return -1;
      return fail('restricted-xml', 'comments are not allowed (RFC 6120 §11.1)');
    }
    if (n - from < 7) {
      checkChars(s, from, n);
      return -1;
    }
    const word = s.slice(from, from + 7);
    if (word === 'DOCTYPE') return fail('restricted-xml', 'DTDs are not allowed (RFC 6120 §11.1)');
    if (word !== '[CDATA[') {
      checkChars(s, from, from + 7);
      return notWellFormed('unknown markup after <!');
    }
    if (this.stack.length === 0) notWellFormed('CDATA section outside the root element');
    const close = s.indexOf(']]>', lt + 9);
    checkChars(s, lt + 9, close === -1 ? n : close);
    if (close === -1) return -1;
    this.pos = close + 3;
    this.onText(normalizeNewlines(s.slice(lt + 9, close)), true);
    return close + 3;
  }

  /** `<?`: the XML declaration at the very start; any other processing instruction is refused. */
  private processingInstruction(s: string, lt: number, n: number): number {
    const close = s.indexOf('?>', lt + 2);
    const first = nameStartsAt(s, lt + 2, n);
    if (first === undefined) return -1;
    if (!first) {
      checkCharAt(s, lt + 2);
      return fail('restricted-xml', 'processing instructions are not allowed (RFC 6120 §11.1)');
    }
    const j = scanName(s, lt + 2, n);
    if (j >= n) return -1;
    const c = s.charCodeAt(j);
    if (c !== QUESTION && !isSpace(c)) {
      checkCharAt(s, j);
      return fail('restricted-xml', 'processing instructions are not allowed (RFC 6120 §11.1)');
    }
    const target = s.slice(lt + 2, j);
    if (target === 'xml') {
      if (!this.declPossible) notWellFormed('XML declaration not at the start (XML 1.0 §2.8)');
      checkChars(s, j, close === -1 ? n : close);
      if (close === -1) return -1;
      const decl = XML_DECL.exec(s.slice(lt, close + 2));
      if (decl === null) notWellFormed('malformed XML declaration');
      this.pos = close + 2;
      this.onXmlDecl(decl[1] ?? decl[2]);
      return close + 2;
    }
    checkChars(s, j, close === -1 ? n : close);
    if (close === -1) return -1;
    if (target.toLowerCase() === 'xml') notWellFormed('XML declaration not at the start (XML 1.0 §2.8)');
    return fail('restricted-xml', 'processing instructions are not allowed (RFC 6120 §11.1)');
  }
}
