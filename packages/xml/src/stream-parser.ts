import { isAscii } from 'node:buffer';
import { TextDecoder } from 'node:util';
import type { Attrs, Element } from './element.js';
import { StreamError } from './errors.js';
import { createTreeBuilder } from './engine.js';
import { resolveLimits, type XmlEngine, type XmlLimits, type XmlParserOptions } from './limits.js';
import { DETACHED, type TreeBuilder, type TreeSink } from './tree-builder.js';

export interface StreamParserHandlers {
  /** The stream header `<stream:stream …>` is complete (RFC 6120 §4.7). */
  streamStart?(attrs: Attrs, header: Element): void;
  /**
   * A complete child of the stream root: a stanza or a stream-level element
   * such as `<stream:features/>`. It carries the namespace declarations it
   * inherited from the stream header, so it stands on its own.
   */
  stanza(el: Element): void;
  /** The peer closed the stream with `</stream:stream>` (RFC 6120 §4.4). */
  streamEnd?(): void;
  /** The input broke a rule; the parser has stopped and ignores further input. */
  error(err: StreamError): void;
}

/**
 * Incremental parser for one XMPP stream: bytes in any chunking in, events
 * out. Enforces RFC 6120 §11 (restricted XML, UTF-8 only) and `XmlLimits`.
 *
 * A handler that throws something other than a StreamError stops the parser
 * and the exception leaves `write`. A StreamError thrown by a handler is
 * reported through `error` like the parser's own.
 */
export class StreamParser {
  private readonly limits: XmlLimits;
  private readonly engine: XmlEngine | undefined;
  /** Created on the first non-ASCII chunk: most streams never need one, and an idle one costs memory. */
  private decoder: TextDecoder | null = null;
  private builder: TreeBuilder;
  private stopped = false;

  constructor(
    private readonly handlers: StreamParserHandlers,
    options?: XmlParserOptions,
  ) {
    this.limits = resolveLimits(options);
    this.engine = options?.engine;
    this.builder = this.newBuilder();
  }

  private newBuilder(): TreeBuilder {
    return createTreeBuilder(this.engine, new HandlersSink(this.handlers), this.limits, 'stream');
  }

  /** Whether the parser has stopped, after an error or the end of the stream. */
  get done(): boolean {
    return this.stopped || this.builder.closed;
  }

  /** Bytes consumed since construction or the last reset. */
  get bytes(): number {
    return this.builder.bytes;
  }

  write(chunk: Uint8Array | string): void {
    if (this.stopped || this.builder.closed) return;
    let text: string;
    let bytes: number;
    let ascii: boolean;
    if (typeof chunk === 'string') {
      text = chunk;
      bytes = Buffer.byteLength(text);
      ascii = bytes === text.length;
    } else if (this.decoder === null && isAscii(chunk)) {
      // No UTF-8 sequence is open, so the text is exactly the bytes.
      text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
      bytes = text.length;
      ascii = true;
    } else {
      this.decoder ??= new TextDecoder('utf-8', { fatal: true });
      try {
        text = this.decoder.decode(chunk, { stream: true });
      } catch {
        // RFC 6120 §4.9.3.22: improperly encoded UTF-8.
        this.failWith(new StreamError('unsupported-encoding', 'invalid UTF-8'));
        return;
      }
      // An ASCII chunk cannot complete a sequence left open by the previous one,
      // so its text is exactly its bytes.
      ascii = isAscii(chunk);
      bytes = ascii ? text.length : Buffer.byteLength(text);
    }
    this.feed(text, bytes, ascii);
  }

  private feed(text: string, bytes: number, ascii: boolean): void {
    const builder = this.builder;
    try {
      builder.write(text, bytes, ascii);
    } catch (err) {
      if (err === DETACHED) return;
      if (builder !== this.builder) {
        // Reset from a handler that then failed: the old stream's error no longer matters.
        if (err instanceof StreamError) return;
        throw err;
      }
      if (err instanceof StreamError) {
        this.failWith(err);
        return;
      }
      this.stopped = true;
      throw err;
    }
  }

  /**
   * The transport ended. Reports `not-well-formed` if it ended inside the
   * stream header or a stanza, or in the middle of a UTF-8 sequence.
   */
  end(): void {
    if (this.stopped || this.builder.closed) return;
    try {
      this.decoder?.decode();
    } catch {
      this.failWith(new StreamError('unsupported-encoding', 'input ends inside a UTF-8 sequence'));
      return;
    }
    const truncated = this.builder.bytes > 0 && !this.builder.atBoundary;
    this.stopped = true;
    if (truncated) this.handlers.error(new StreamError('not-well-formed', 'input ends inside an element'));
  }

  /**
   * Starts over for a new stream on the same connection: after STARTTLS
   * (RFC 6120 §5.4.3.3) and SASL success (§6.4.6). Called from a handler,
   * the rest of the chunk being parsed is discarded: the peer must not send
   * anything before the restart, and bytes sent before TLS must never be
   * read as if they came over TLS.
   */
  reset(): void {
    this.builder.detached = true;
    this.builder = this.newBuilder();
    this.decoder = null;
    this.stopped = false;
  }

  private failWith(err: StreamError): void {
    this.stopped = true;
    this.handlers.error(err);
  }
}

/** Forwards a tree builder's events to the handlers: one small object per stream, not closures. */
class HandlersSink implements TreeSink {
  constructor(private readonly handlers: StreamParserHandlers) {}

  header(el: Element): void {
    this.handlers.streamStart?.(el.attrs, el);
  }

  element(el: Element): void {
    this.handlers.stanza(el);
  }

  close(): void {
    this.handlers.streamEnd?.();
  }
}
