import type { TLSSocket } from 'node:tls';
import type { WebSocket, RawData } from 'ws';
import { NS, StreamError, escapeXml, parseElement, type XmlLimits } from '@switchboard/xml';
import type { StreamSink, Transport } from './transport.js';

/** RFC 7395 §3.3: each WebSocket message is one complete element; the stream is framed by <open/> and <close/>. */
export class WebSocketTransport implements Transport {
  readonly kind = 'websocket' as const;
  private sink: StreamSink | null = null;
  private disconnected = false;
  private readonly parseOptions: Partial<XmlLimits> & { defaultNamespace: string };

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
    private readonly secure: boolean,
    private readonly tls: TLSSocket | null,
    limits: Partial<XmlLimits>,
  ) {
    // Stanzas in frames rely on jabber:client being the content namespace (RFC 7395 §3.3.3).
    this.parseOptions = { ...limits, defaultNamespace: NS.CLIENT };
  }

  isSecure(): boolean {
    return this.secure;
  }

  tlsSocket(): TLSSocket | null {
    return this.tls;
  }

  canStartTls(): boolean {
    return false;
  }

  attach(sink: StreamSink): void {
    this.sink = sink;
    this.ws.on('message', (data: RawData, isBinary: boolean) => {
      try {
        this.onMessage(data, isBinary);
      } catch (error) {
        sink.onFault(error);
      }
    });
    this.ws.on('close', () => {
      if (this.disconnected) return;
      this.disconnected = true;
      sink.onDisconnect();
    });
    this.ws.on('error', () => {
      // 'close' follows.
    });
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    const sink = this.sink;
    if (sink === null) return;
    const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (!sink.onBytes(buffer.length)) return;
    if (isBinary) {
      // RFC 7395 §3.3.3: XMPP travels in text frames.
      sink.onParseError(new StreamError('bad-format', 'binary WebSocket frame'));
      return;
    }
    let el;
    try {
      el = parseElement(buffer, this.parseOptions);
    } catch (error) {
      if (error instanceof StreamError) {
        sink.onParseError(error);
        return;
      }
      throw error;
    }
    if (el.getNS() === NS.FRAMING) {
      if (el.getName() === 'open') sink.onOpen(el.attrs);
      else if (el.getName() === 'close') sink.onStreamEnd();
      else sink.onParseError(new StreamError('bad-format', `unknown framing element <${el.name}/>`));
      return;
    }
    sink.onElement(el);
  }

  sendOpen(attrs: Record<string, string>): void {
    let open = `<open xmlns="${NS.FRAMING}"`;
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'xmlns') continue;
      open += ` ${k}="${escapeXml(v)}"`;
    }
    this.send(`${open}/>`);
  }

  sendElement(serialized: string): void {
    this.send(withClientNamespace(serialized));
  }

  sendClose(): void {
    this.send(`<close xmlns="${NS.FRAMING}"/>`);
  }

  sendKeepalive(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }

  startTls(): void {
    throw new Error('STARTTLS is not available on WebSocket (RFC 7395 §3.5)');
  }

  restart(): void {
    // The client's next <open/> starts the new stream; there is no parser state to reset.
  }

  end(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
  }

  destroy(): void {
    this.ws.terminate();
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  // Each stanza is its own WebSocket message (RFC 7395 §3.3.3): nothing to coalesce.
  cork(): void {}

  uncork(): void {}

  private send(data: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(data);
  }
}

/**
 * Each frame stands alone (RFC 7395 §3.3.3), so a stanza serialized inside a TCP stream without
 * its own xmlns must declare jabber:client. Only the start tag is inspected.
 */
export function withClientNamespace(serialized: string): string {
  const end = serialized.indexOf('>');
  const head = end === -1 ? serialized : serialized.slice(0, end);
  if (/\sxmlns\s*=/.test(head)) return serialized;
  const nameEnd = head.search(/[\s/]/);
  const at = nameEnd === -1 ? head.length : nameEnd;
  return `${serialized.slice(0, at)} xmlns="${NS.CLIENT}"${serialized.slice(at)}`;
}
