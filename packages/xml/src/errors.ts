import { type Element, xml } from './element.js';
import { NS } from './namespaces.js';

/** The defined stream error conditions (RFC 6120 §4.9.3). */
export type StreamErrorCondition =
  | 'bad-format'
  | 'bad-namespace-prefix'
  | 'conflict'
  | 'connection-timeout'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'reset'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'see-other-host'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-encoding'
  | 'unsupported-feature'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

/**
 * A stream-level error: the stream must be closed with `<stream:error>`
 * carrying `condition` (RFC 6120 §4.9). The parser produces the XML-related
 * ones; services raise the others and the edge maps it onto the wire.
 */
export class StreamError extends Error {
  override readonly name = 'StreamError';
  readonly condition: StreamErrorCondition;
  /** Human-readable detail for `<text/>`; never shown to the peer if it could leak internals. */
  readonly text: string | undefined;

  constructor(condition: StreamErrorCondition, text?: string) {
    super(text === undefined ? condition : `${condition}: ${text}`);
    this.condition = condition;
    this.text = text;
  }
}

export interface StreamErrorOptions {
  /** `xml:lang` of the `<text/>` element. */
  lang?: string;
  /** For `see-other-host`: the host the peer should reconnect to (RFC 6120 §4.9.3.19). */
  host?: string;
}

/**
 * `<stream:error>` for `condition` (RFC 6120 §4.9.2). It declares the stream
 * prefix itself so the same element is valid on a TCP stream and as a
 * self-contained WebSocket frame (RFC 7395 §3.3.3).
 */
export function streamErrorElement(
  condition: StreamErrorCondition,
  text?: string,
  options: StreamErrorOptions = {},
): Element {
  return xml(
    'stream:error',
    { 'xmlns:stream': NS.STREAMS },
    xml(condition, { xmlns: NS.STREAM_ERRORS }, condition === 'see-other-host' ? options.host : undefined),
    text === undefined ? undefined : xml('text', { xmlns: NS.STREAM_ERRORS, 'xml:lang': options.lang }, text),
  );
}
