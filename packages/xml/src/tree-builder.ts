import { type Attrs, Element, isValidName } from './element.js';
import { StreamError, type StreamErrorCondition } from './errors.js';
import type { XmlLimits } from './limits.js';
import { NS } from './namespaces.js';

/** Receives what the builder makes of the input. */
export interface TreeSink {
  /** Stream mode: the stream root's start tag is complete. */
  header(el: Element): void;
  /** A complete element at the emit level (stanzas in stream mode, the root in document mode). */
  element(el: Element): void;
  /** Stream mode: the stream root was closed. */
  close(): void;
}

/** Thrown through the tokenizer to stop it mid-chunk when the builder was detached by a reset. */
export const DETACHED = new Error('parser detached');

export function isWhitespace(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/** UTF-8 length of `text[from, to)`; lone surrogates count as the 3 bytes of U+FFFD. */
function utf8Length(text: string, from: number, to: number): number {
  let bytes = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

export function fail(condition: StreamErrorCondition, text: string): never {
  throw new StreamError(condition, text);
}

/**
 * Builds Elements from tokenizer events, enforcing RFC 6120 §11 namespaces
 * rules and the limits; every violation is thrown as a StreamError out of
 * `write`. A subclass tokenizes: `SaxesTreeBuilder` drives saxes,
 * `NativeTreeBuilder` scans the text itself. Both call the `on*` methods in
 * the same order at the same input positions, so the checks live here once.
 *
 * Stream mode: level 0 is the stream root, stanzas are its children (level 1).
 * Document mode: the single root element is the one emitted.
 */
export abstract class TreeBuilder {
  protected readonly emitLevel: 0 | 1;
  protected readonly stack: Element[] = [];
  // Namespace scope per open level: the default namespace, the level that declared it
  // (-1: inherited from outside the document), and the prefixes declared there.
  private readonly nsDefault: string[] = [];
  private readonly nsDefaultLevel: number[] = [];
  private readonly nsPrefixes: (Record<string, string> | undefined)[] = [];
  // Declarations from outside the emitted element that it uses and must carry.
  private needDefault = false;
  private needPrefixes: string[] | undefined;

  // Byte accounting. Tokenizers report positions as UTF-16 offsets into the
  // chunk being written; they are mapped to UTF-8 bytes here.
  private chunk = '';
  private chunkAscii = true;
  /** UTF-16 code units written before the current chunk. */
  protected chunkStartChars = 0;
  private chunkStartBytes = 0;
  private cursorOffset = 0;
  private cursorBytes = 0;
  private totalBytes = 0;
  /** Byte offset of the last stanza boundary: header end, stanza start or end. */
  private boundary = 0;
  /** Offset in the current chunk of a boundary set while writing it, -1 when none. */
  private boundaryOffset = -1;
  /** Whether everything since the boundary is whitespace (keepalives, RFC 6120 §4.6.1). */
  private clean = true;

  /** Set when the owner no longer wants events (stream restart); stops the tokenizer mid-chunk. */
  detached = false;
  /** Stream mode: the root was closed. */
  closed = false;

  constructor(
    public sink: TreeSink,
    protected readonly limits: XmlLimits,
    mode: 'stream' | 'document',
    /** Default namespace in effect outside the document (document mode). */
    private readonly outerNamespace = '',
  ) {
    this.emitLevel = mode === 'stream' ? 1 : 0;
  }

  /** Tokenizes `text`, calling the `on*` methods. */
  protected abstract parse(text: string): void;
  /** Document mode: the input is complete; throws if the document is not. Leaves the tokenizer ready for another. */
  protected abstract end(): void;
  /** Offset in the current chunk just past the last character the tokenizer consumed. */
  protected abstract offset(): number;

  /** Bytes consumed so far. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** Whether the input so far ends between two stanzas (or before anything at all). */
  get atBoundary(): boolean {
    return this.stack.length === this.emitLevel && this.clean;
  }

  /** Feeds decoded text. `bytes` is its UTF-8 length and `ascii` whether it is pure ASCII. */
  write(text: string, bytes: number, ascii: boolean): void {
    this.chunk = text;
    this.chunkAscii = ascii;
    this.cursorOffset = 0;
    this.cursorBytes = this.chunkStartBytes = this.totalBytes;
    this.boundaryOffset = -1;
    this.parse(text);
    // An idle stream must not hold on to its last chunk.
    this.chunk = '';
    this.chunkStartChars += text.length;
    this.totalBytes += bytes;
    if (this.emitLevel === 1 && this.stack.length === 1) {
      const from = this.boundaryOffset === -1 ? 0 : this.boundaryOffset;
      if (this.clean && isWhitespace(text, from)) {
        // Only whitespace since the last stanza: keepalives must not add up to a violation.
        this.boundary = this.totalBytes;
        this.clean = true;
      } else this.clean = false;
    }
    if (this.totalBytes - this.boundary > this.limits.maxStanzaBytes) {
      fail('policy-violation', `more than ${this.limits.maxStanzaBytes} bytes in one stanza`);
    }
  }

  /** Document mode: checks the document is complete; the builder can then parse the next one. */
  finish(): void {
    this.end();
    this.chunkStartChars = 0;
    this.totalBytes = 0;
  }

  /** Byte offset of the tokenizer's current position. */
  private bytesAtPosition(): number {
    const offset = this.offset();
    if (this.chunkAscii) return this.chunkStartBytes + offset;
    // Events arrive in input order, so the cursor only moves forward.
    this.cursorBytes += utf8Length(this.chunk, this.cursorOffset, offset);
    this.cursorOffset = offset;
    return this.cursorBytes;
  }

  /** Records a stanza boundary at `bytes`, which is `offset` in the current chunk. */
  private markBoundary(bytes: number, offset: number): void {
    this.boundary = bytes;
    this.boundaryOffset = offset;
    this.clean = true;
  }

  protected onXmlDecl(encoding: string | undefined): void {
    // RFC 6120 §11.6: UTF-8 only.
    if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') {
      fail('unsupported-encoding', `encoding ${encoding} declared; only UTF-8 is allowed`);
    }
  }

  protected onOpenTagStart(name: string): void {
    if (name.length > this.limits.maxNameLength) {
      fail('policy-violation', `element name longer than ${this.limits.maxNameLength}`);
    }
    if (this.stack.length === this.emitLevel) this.clean = false;
  }

  /** `attrs` becomes the element's: a null-prototype object, so any attribute name is only data. */
  protected onOpenTag(name: string, attrs: Attrs): void {
    const level = this.stack.length;
    const limits = this.limits;
    if (level - this.emitLevel >= limits.maxDepth) {
      fail('policy-violation', `elements nested deeper than ${limits.maxDepth}`);
    }
    let count = 0;
    let declares = false;
    let prefixedAttrs: string[] | undefined;
    for (const key in attrs) {
      count++;
      if (key.length > limits.maxNameLength) {
        fail('policy-violation', `attribute name longer than ${limits.maxNameLength}`);
      }
      if (attrs[key]!.length > limits.maxAttributeValueLength) {
        fail('policy-violation', `attribute value longer than ${limits.maxAttributeValueLength}`);
      }
      if (key.charCodeAt(0) === 0x78 /* x */ && key.startsWith('xmlns')) {
        if (key.length === 5 || key.charCodeAt(5) === 0x3a /* : */) {
          declares = true;
          continue;
        }
      }
      if (key.includes(':')) (prefixedAttrs ??= []).push(key);
    }
    if (count > limits.maxAttributes)
      fail('policy-violation', `more than ${limits.maxAttributes} attributes`);

    // Scope of this level.
    let defaultNs: string;
    let defaultLevel: number;
    if (level === 0) {
      defaultNs = this.outerNamespace;
      defaultLevel = -1;
    } else {
      defaultNs = this.nsDefault[level - 1]!;
      defaultLevel = this.nsDefaultLevel[level - 1]!;
    }
    let prefixes: Record<string, string> | undefined;
    if (declares) {
      for (const key in attrs) {
        if (!key.startsWith('xmlns')) continue;
        const uri = attrs[key]!;
        if (key.length === 5) {
          defaultNs = uri;
          defaultLevel = level;
        } else if (key.charCodeAt(5) === 0x3a) {
          const prefix = key.slice(6);
          // Namespaces in XML 1.0 §3: a prefix cannot be undeclared, nor can xmlns/xml be rebound.
          if (uri === '') fail('bad-namespace-prefix', `empty namespace for prefix ${prefix}`);
          if (prefix === 'xmlns' || (prefix === 'xml') !== (uri === NS.XML) || !isNCName(prefix)) {
            fail('bad-namespace-prefix', `invalid declaration of prefix ${prefix}`);
          }
          (prefixes ??= Object.create(null) as Record<string, string>)[prefix] = uri;
        }
      }
    }
    if (level < this.emitLevel) {
      // The stream header's scope lives as long as the connection: keep shared constants, not
      // substrings that pin the whole chunk the header came in.
      defaultNs = interned(defaultNs);
      if (prefixes !== undefined)
        for (const prefix in prefixes) prefixes[prefix] = interned(prefixes[prefix]!);
    }
    this.nsDefault[level] = defaultNs;
    this.nsDefaultLevel[level] = defaultLevel;
    this.nsPrefixes[level] = prefixes;

    if (level === this.emitLevel) {
      this.needDefault = false;
      this.needPrefixes = undefined;
    }
    const colon = name.indexOf(':');
    let ns: string;
    if (colon === -1) {
      ns = defaultNs;
      if (defaultLevel < this.emitLevel && level >= this.emitLevel && defaultNs !== '')
        this.needDefault = true;
    } else {
      ns = this.resolvePrefix(name, colon, level);
    }
    if (prefixedAttrs !== undefined) {
      for (const key of prefixedAttrs) this.resolvePrefix(key, key.indexOf(':'), level);
    }

    const el = new Element(name, attrs);
    if (level === 0 && this.emitLevel === 1) {
      // RFC 6120 §4.8.1: the root must be <stream> in the streams namespace.
      if (el.getName() !== 'stream' || ns !== NS.STREAMS) {
        fail('invalid-namespace', `stream root is {${ns}}${el.getName()}, not {${NS.STREAMS}}stream`);
      }
      this.stack.push(el);
      this.markBoundary(this.bytesAtPosition(), this.offset());
      this.sink.header(el);
      if (this.detached) throw DETACHED;
      // Kept until the stream ends only to match the end tag: the name, not the attributes.
      this.stack[0] = new Element(interned(el.name));
      return;
    }
    if (level > this.emitLevel) {
      const parent = this.stack[level - 1]!;
      el.parent = parent;
      parent.children.push(el);
    }
    this.stack.push(el);
  }

  /** Resolves the prefix of `qname`, recording bindings the emitted element must carry. */
  private resolvePrefix(qname: string, colon: number, level: number): string {
    if (colon === 0 || colon === qname.length - 1 || qname.indexOf(':', colon + 1) !== -1) {
      fail('bad-namespace-prefix', `${qname} is not a qualified name`);
    }
    const prefix = qname.slice(0, colon);
    if (prefix === 'xml') return NS.XML;
    for (let l = level; l >= 0; l--) {
      const uri = this.nsPrefixes[l]?.[prefix];
      if (uri !== undefined) {
        if (l < this.emitLevel && level >= this.emitLevel) {
          const needs = (this.needPrefixes ??= []);
          if (!needs.includes(prefix)) needs.push(prefix);
        }
        return uri;
      }
    }
    // RFC 6120 §4.9.3.2.
    return fail('bad-namespace-prefix', `prefix ${prefix} is not declared`);
  }

  protected onCloseTag(): void {
    const el = this.stack.pop()!;
    const level = this.stack.length;
    if (level === this.emitLevel) {
      if (this.emitLevel === 1) {
        const end = this.bytesAtPosition();
        if (end - this.boundary > this.limits.maxStanzaBytes) {
          fail('policy-violation', `stanza larger than ${this.limits.maxStanzaBytes} bytes`);
        }
        this.markBoundary(end, this.offset());
      }
      // A stanza leaves its stream: it carries the declarations it relied on.
      if (this.needDefault && el.attrs.xmlns === undefined) el.attrs.xmlns = this.nsDefault[level]!;
      if (this.needPrefixes !== undefined) {
        for (const prefix of this.needPrefixes) {
          const key = `xmlns:${prefix}`;
          if (el.attrs[key] === undefined) el.attrs[key] = this.lookupOuterPrefix(prefix);
        }
      }
      // Scopes above the open levels are dead; dropping them frees what their strings pin.
      this.nsDefault.length = level;
      this.nsDefaultLevel.length = level;
      this.nsPrefixes.length = level;
      this.sink.element(el);
      if (this.detached) throw DETACHED;
    } else if (level < this.emitLevel) {
      this.closed = true;
      // Whatever follows the end of the stream is not read.
      this.detached = true;
      this.sink.close();
      throw DETACHED;
    }
  }

  private lookupOuterPrefix(prefix: string): string {
    for (let l = this.emitLevel - 1; l >= 0; l--) {
      const uri = this.nsPrefixes[l]?.[prefix];
      if (uri !== undefined) return uri;
    }
    return '';
  }

  protected onText(text: string, cdata: boolean): void {
    const level = this.stack.length;
    if (level > this.emitLevel) {
      const children = this.stack[level - 1]!.children;
      const last = children.length - 1;
      // Text, references and CDATA sections next to each other make one text node.
      if (last >= 0 && typeof children[last] === 'string') children[last] += text;
      else children.push(text);
    } else if (level === 1 && this.emitLevel === 1) {
      if (cdata || !isWhitespace(text, 0)) fail('bad-format', 'character data between stanzas');
      // The '<' just read (always in the current chunk) starts the next stanza.
      this.markBoundary(this.bytesAtPosition() - 1, this.offset() - 1);
    }
  }
}

const KNOWN_STRINGS: ReadonlyMap<string, string> = new Map(
  [...Object.values(NS), 'stream:stream', 'stream'].map((value) => [value, value]),
);

/** The shared copy of a well-known namespace or name; `value` itself otherwise. */
function interned(value: string): string {
  return KNOWN_STRINGS.get(value) ?? value;
}

function isNCName(name: string): boolean {
  return !name.includes(':') && isValidName(name);
}
