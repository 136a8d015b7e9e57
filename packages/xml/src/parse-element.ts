import type { Element } from './element.js';
import { StreamError } from './errors.js';
import { createTreeBuilder } from './engine.js';
import {
  DEFAULT_ENGINE,
  DEFAULT_LIMITS,
  resolveLimits,
  type XmlLimits,
  type XmlParserOptions,
} from './limits.js';
import type { TreeBuilder, TreeSink } from './tree-builder.js';

export interface ParseElementOptions extends XmlParserOptions {
  /**
   * Default namespace in effect around the element, as if it were a stanza
   * of a stream with this content namespace. When the element relies on it,
   * it gets an `xmlns` attribute. '' (none) unless given.
   */
  defaultNamespace?: string;
}

const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses one complete element, with the same restrictions and limits as a
 * stream (RFC 6120 §11). Used for stanzas carried in envelopes and for
 * RFC 7395 WebSocket frames, each of which is one whole element
 * (`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' …/>`, a stanza, `<close/>`).
 * Throws StreamError.
 */
export function parseElement(input: string | Uint8Array, options?: ParseElementOptions): Element {
  const limits = resolveLimits(options);
  let text: string;
  let bytes: number;
  if (typeof input === 'string') {
    text = input;
    // Cheap early exit before any parsing; a UTF-8 length is at least the string length.
    if (text.length > limits.maxStanzaBytes) throw tooLarge(limits);
    bytes = Buffer.byteLength(text);
  } else {
    if (input.length > limits.maxStanzaBytes) throw tooLarge(limits);
    try {
      text = strictDecoder.decode(input);
    } catch {
      throw new StreamError('unsupported-encoding', 'invalid UTF-8');
    }
    bytes = input.length;
  }
  if (bytes > limits.maxStanzaBytes) throw tooLarge(limits);

  const outer = options?.defaultNamespace ?? '';
  const engine = options?.engine ?? DEFAULT_ENGINE;
  const key = `${engine} ${outer}`;
  const cached = limits === DEFAULT_LIMITS ? cache.get(key) : undefined;
  // Building a saxes parser costs more than parsing a stanza: reuse one per engine and default namespace.
  const builder = cached ?? createTreeBuilder(engine, sink, limits, 'document', outer);
  if (cached !== undefined) cache.delete(key);
  result = undefined;
  builder.write(text, bytes, bytes === text.length);
  builder.finish();
  const el = result as Element | undefined;
  result = undefined;
  if (el === undefined) throw new StreamError('not-well-formed', 'no element');
  // Only a builder that finished cleanly goes back: after an error its state is undefined.
  if (limits === DEFAULT_LIMITS && cache.size < 8) cache.set(key, builder);
  return el;
}

// parseElement is synchronous and its sink calls no user code, so one shared result slot is safe;
// a builder is taken out of the cache while in use.
let result: Element | undefined;
const sink: TreeSink = {
  header: () => undefined,
  element: (el) => {
    result = el;
  },
  close: () => undefined,
};
const cache = new Map<string, TreeBuilder>();

function tooLarge(limits: XmlLimits): StreamError {
  return new StreamError('policy-violation', `element larger than ${limits.maxStanzaBytes} bytes`);
}
