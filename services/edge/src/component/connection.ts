import { randomBytes, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from '@switchboard/kit';
import { JidError, parseJid } from '@switchboard/jid';
import { ENVELOPE_VERSION, Streams, encodeEnvelope, partitionOf, type Envelope } from '@switchboard/protocol';
import {
  NS,
  StreamError,
  StreamParser,
  escapeXml,
  serialize,
  streamErrorElement,
  type Attrs,
  type Element,
  type StreamErrorCondition,
  type XmlLimits,
} from '@switchboard/xml';
import type { BatchPublisher } from '../publisher.js';
import { StanzaError, StanzaStreamViolation, stanzaErrorReply } from '../stream/stanza.js';
import { verifyHandshake } from './handshake.js';
import { checkComponentStanza, toComponentNamespace } from './stanza.js';

/** What every component connection of one edge shares. */
export interface ComponentHub {
  readonly edgeId: string;
  readonly partitions: number;
  /** Domains whose users this cluster serves, normalized: stanzas to them go straight to inbound processing. */
  readonly servedDomains: ReadonlySet<string>;
  readonly publisher: BatchPublisher;
  readonly logger: Logger;
  /** The XML parser's caps, as for client streams. */
  readonly xmlLimits: XmlLimits;
  readonly handshakeTimeoutMs: number;
  /** The shared secret of a configured component domain (normalized), undefined for any other. */
  secretOf(domain: string): string | undefined;
  /** Makes `conn` the one connection of its domain; false when another one holds it. */
  claim(conn: ComponentConnection): boolean;
  /** The connection is gone. Called once. */
  closed(conn: ComponentConnection): void;
}

type State = 'header' | 'handshake' | 'ready' | 'closing';

/**
 * One external component over XEP-0114 (jabber:component:accept): stream header, handshake,
 * then stanzas both ways. Plain TCP: the protocol has no TLS negotiation and is meant for
 * localhost or a trusted network (XEP-0114 §4, Security Considerations).
 */
export class ComponentConnection {
  /** The sessionId of every envelope this connection publishes. */
  readonly sessionId = randomUUID();
  private state: State = 'header';
  private streamId = '';
  private headerSent = false;
  private component: string | null = null;
  private readonly parser: StreamParser;
  private readonly log: Logger;
  private readonly handshakeTimer: NodeJS.Timeout;
  private closeTimer: NodeJS.Timeout | undefined;
  private resolveClosed!: () => void;
  /** Resolves once the socket is gone and the hub knows. */
  readonly closed = new Promise<void>((resolve) => {
    this.resolveClosed = resolve;
  });

  constructor(
    private readonly hub: ComponentHub,
    private readonly socket: Socket,
  ) {
    this.log = hub.logger.child({ sessionId: this.sessionId, remote: socket.remoteAddress });
    this.parser = new StreamParser(
      {
        streamStart: (attrs) => this.onOpen(attrs),
        stanza: (el) => this.onElement(el),
        streamEnd: () => this.closeStream(),
        error: (error) => this.streamError(error.condition, error.text),
      },
      hub.xmlLimits,
    );
    this.handshakeTimer = setTimeout(
      () => this.streamError('connection-timeout', 'no handshake in time'),
      hub.handshakeTimeoutMs,
    );
    this.handshakeTimer.unref();
    // Finds a component host that vanished without closing; Prosody sets the same option.
    socket.setKeepAlive(true, 60_000);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.state === 'closing') return;
      try {
        this.parser.write(chunk);
      } catch (error) {
        this.fault(error);
      }
    });
    socket.on('end', () => {
      this.parser.end();
      socket.end();
    });
    socket.on('error', (error) => this.log.debug({ err: error }, 'component socket error'));
    socket.on('close', () => this.finish());
  }

  /** The configured component domain the stream header named; null until the header is accepted. */
  get domain(): string | null {
    return this.component;
  }

  /** The handshake succeeded and stanzas flow. */
  get ready(): boolean {
    return this.state === 'ready';
  }

  // ---- input ----

  private onOpen(attrs: Attrs): void {
    this.streamId = randomBytes(16).toString('hex');
    const requested = normalizedDomain(attrs['to']);
    const secret = requested === null ? undefined : this.hub.secretOf(requested);
    // XEP-0114 §3 (Example 2): the reply names the component domain and carries the stream id.
    this.sendHeader(secret === undefined ? undefined : requested!);
    if (attrs['xmlns'] !== NS.COMPONENT) {
      return this.streamError('invalid-namespace', `the content namespace must be ${NS.COMPONENT}`); // RFC 6120 §4.9.3.10
    }
    if (attrs['to'] === undefined) {
      return this.streamError('improper-addressing', "the stream header needs a 'to'"); // RFC 6120 §4.9.3.7
    }
    if (secret === undefined) {
      return this.streamError('host-unknown', `${attrs['to']} is not a configured component`); // RFC 6120 §4.9.3.6
    }
    this.component = requested;
    this.state = 'handshake';
  }

  private onElement(el: Element): void {
    if (this.state === 'handshake') return this.onHandshake(el);
    if (this.state !== 'ready') return;
    try {
      this.onStanza(el);
    } catch (error) {
      if (error instanceof StanzaError) {
        const reply = stanzaErrorReply(el, error, el.attrs['from'] ?? null);
        if (reply !== null) this.sendStanza(reply);
        return;
      }
      this.fault(error);
    }
  }

  private onHandshake(el: Element): void {
    const domain = this.component!;
    if (!el.is('handshake', NS.COMPONENT) || el.getChildElements().length > 0) {
      return this.streamError('not-authorized', 'handshake first'); // XEP-0114 §3
    }
    if (!verifyHandshake(this.streamId, this.hub.secretOf(domain) ?? '', el.getText())) {
      return this.streamError('not-authorized', 'the handshake does not match the secret'); // XEP-0114 §3
    }
    // One connection per domain; like Prosody's default (component_conflict_resolve = kick_new),
    // the newcomer is refused and the connected component keeps its stream.
    if (!this.hub.claim(this)) return this.streamError('conflict', 'the component is already connected');
    clearTimeout(this.handshakeTimer);
    this.state = 'ready';
    this.write('<handshake/>');
    this.log.info({ domain }, 'component connected');
  }

  private onStanza(el: Element): void {
    const domain = this.component!;
    const checked = checkComponentStanza(el, domain);
    const to = checked.to;
    const bare = to.bare().toString();
    // Stanzas for this cluster's users (or hosts) need no outbound processing on a component's
    // behalf: straight to inbound in the recipient's partition. Anything else (another component,
    // a remote domain) goes through the router's usual routing.
    const inbound = this.hub.servedDomains.has(to.domain);
    const envelope: Envelope = {
      v: ENVELOPE_VERSION,
      id: randomUUID(),
      kind: checked.kind,
      edgeId: this.hub.edgeId,
      sessionId: this.sessionId,
      from: checked.from.toString(),
      to: to.toString(),
      type: checked.type,
      stanzaId: checked.id,
      xml: serialize(el),
      ts: Date.now(),
      ...(inbound ? { stage: 'in' as const } : {}),
    };
    this.hub.publisher.enqueue(
      Streams.route(partitionOf(bare, this.hub.partitions)),
      encodeEnvelope(envelope),
    );
  }

  private fault(error: unknown): void {
    if (error instanceof StanzaStreamViolation || error instanceof StreamError) {
      this.streamError(error.condition, error.text);
      return;
    }
    this.log.error({ err: error }, 'component stream failed');
    this.streamError('internal-server-error');
  }

  // ---- output ----

  /**
   * Writes one envelope's stanza; resolves true once the socket took it, false when the
   * connection is not (or no longer) there to take it.
   */
  deliver(stanza: string): Promise<boolean> {
    if (this.state !== 'ready' || !this.socket.writable) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.socket.write(toComponentNamespace(stanza), (error) => resolve(error == null));
    });
  }

  private sendStanza(el: Element): void {
    delete el.attrs['xmlns'];
    this.write(serialize(el));
  }

  private sendHeader(domain: string | undefined): void {
    let header = `<?xml version='1.0'?><stream:stream xmlns:stream="${NS.STREAMS}" xmlns="${NS.COMPONENT}"`;
    if (domain !== undefined) header += ` from="${escapeXml(domain)}"`;
    header += ` id="${this.streamId}">`;
    this.write(header);
    this.headerSent = true;
  }

  private write(data: string): void {
    if (this.socket.writable) this.socket.write(data);
  }

  /** RFC 6120 §4.9: the error, the closing tag, then the connection ends. */
  streamError(condition: StreamErrorCondition, text?: string): void {
    if (this.state === 'closing') return;
    if (!this.headerSent) {
      this.streamId = randomBytes(16).toString('hex');
      this.sendHeader(undefined);
    }
    this.log.info({ condition, text, domain: this.component }, 'component stream error');
    this.write(serialize(streamErrorElement(condition, text, { lang: 'en' })));
    this.closeStream();
  }

  /** Sends our closing tag and ends the connection once written; cut off if the peer lingers. */
  closeStream(): void {
    if (this.state === 'closing') return;
    this.state = 'closing';
    this.write('</stream:stream>');
    this.socket.end();
    this.closeTimer = setTimeout(() => this.socket.destroy(), 2000);
    this.closeTimer.unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private finish(): void {
    this.state = 'closing';
    clearTimeout(this.handshakeTimer);
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.hub.closed(this);
    this.resolveClosed();
  }
}

/** The bare domain a stream header's 'to' names, normalized; null when it is none. */
function normalizedDomain(value: string | undefined): string | null {
  if (value === undefined) return null;
  try {
    const parsed = parseJid(value);
    return parsed.local === '' && parsed.resource === '' ? parsed.domain : null;
  } catch (error) {
    if (error instanceof JidError) return null;
    throw error;
  }
}
