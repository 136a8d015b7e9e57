import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Bus, BusEntry, Consumer } from '@switchboard/bus';
import type { Logger } from '@switchboard/kit';
import { parseJid } from '@switchboard/jid';
import { Groups, Streams, decodeEnvelope } from '@switchboard/protocol';
import type { XmlLimits } from '@switchboard/xml';
import type { BatchPublisher } from '../publisher.js';
import { ComponentConnection, type ComponentHub } from './connection.js';

export interface ComponentListenerOptions {
  /** The components allowed to connect, each with its shared secret. */
  readonly components: readonly { readonly domain: string; readonly secret: string }[];
  /** Domains whose users the cluster serves (the edge's `domains`). */
  readonly servedDomains: ReadonlySet<string>;
  readonly edgeId: string;
  readonly partitions: number;
  /** The XML parser's caps, as for client streams. */
  readonly xmlLimits: XmlLimits;
  /** A connection that has not completed the handshake by then gets connection-timeout. */
  readonly handshakeTimeoutMs: number;
  readonly bus: Bus;
  readonly publisher: BatchPublisher;
  readonly logger: Logger;
}

interface Attachment {
  readonly conn: ComponentConnection;
  consumer: Consumer | null;
  /** Settles once the consumer is started (or found not needed). */
  started: Promise<void>;
}

/**
 * The XEP-0114 listener: external components attach here and appear as `svc:{domain}`
 * (ARCHITECTURE.md, "Topology"). While a component is connected, this edge reads its stream
 * (group `service`, consumer = the domain, so a reconnect on any edge re-reads what was left
 * pending) and writes each stanza to it, acking what the socket took. While none is connected
 * the entries wait in the stream.
 */
export class ComponentListener implements ComponentHub {
  readonly edgeId: string;
  readonly partitions: number;
  readonly servedDomains: ReadonlySet<string>;
  readonly publisher: BatchPublisher;
  readonly logger: Logger;
  /** The XML parser's caps, as for client streams. */
  readonly xmlLimits: XmlLimits;
  readonly handshakeTimeoutMs: number;
  private readonly bus: Bus;
  private readonly secrets = new Map<string, string>();
  private readonly connections = new Set<ComponentConnection>();
  private readonly attached = new Map<string, Attachment>();
  /** Consumers of components that left, still stopping: the next one of that domain waits for it. */
  private readonly stopping = new Map<string, Promise<void>>();
  private server: Server | null = null;
  private closing: Promise<void> | null = null;

  constructor(options: ComponentListenerOptions) {
    for (const { domain, secret } of options.components) this.secrets.set(parseJid(domain).domain, secret);
    this.servedDomains = options.servedDomains;
    this.edgeId = options.edgeId;
    this.partitions = options.partitions;
    this.xmlLimits = options.xmlLimits;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs;
    this.bus = options.bus;
    this.publisher = options.publisher;
    this.logger = options.logger.child({ listener: 'component' });
  }

  /** Opens the plain TCP listener; resolves to the port. */
  async listen(port: number, host: string): Promise<number> {
    // The group exists before any component connects, so what the router sends meanwhile is kept for it.
    await Promise.all(
      [...this.secrets.keys()].map((domain) => this.bus.ensureGroup(Streams.service(domain), Groups.service)),
    );
    const server = createServer((socket) => {
      if (this.closing !== null) {
        socket.destroy();
        return;
      }
      const conn = new ComponentConnection(this, socket);
      this.connections.add(conn);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  /** Domains with a component attached now. */
  connectedDomains(): string[] {
    return [...this.attached.keys()];
  }

  secretOf(domain: string): string | undefined {
    return this.secrets.get(domain);
  }

  claim(conn: ComponentConnection): boolean {
    const domain = conn.domain;
    if (domain === null || this.attached.has(domain) || this.closing !== null) return false;
    const attachment: Attachment = { conn, consumer: null, started: Promise.resolve() };
    // Two consumers under one name must not overlap, or the stream's order could break.
    attachment.started = (this.stopping.get(domain) ?? Promise.resolve()).then(() => {
      if (this.attached.get(domain) !== attachment) return;
      attachment.consumer = this.bus.consume({
        streams: [Streams.service(domain)],
        group: Groups.service,
        consumer: domain,
        autoAck: false,
        handler: (entries) => this.forward(domain, conn, entries),
        onError: (error) => this.logger.error({ err: error, domain }, 'component stream consumer error'),
      });
    });
    this.attached.set(domain, attachment);
    return true;
  }

  closed(conn: ComponentConnection): void {
    this.connections.delete(conn);
    const domain = conn.domain;
    if (domain === null) return;
    const attachment = this.attached.get(domain);
    if (attachment?.conn !== conn) return;
    this.attached.delete(domain);
    this.logger.info({ domain }, 'component disconnected');
    const stopped = attachment.started
      .then(() => attachment.consumer?.stop())
      .finally(() => {
        if (this.stopping.get(domain) === stopped) this.stopping.delete(domain);
      });
    this.stopping.set(domain, stopped);
  }

  /**
   * Writes a batch of `svc:{domain}` entries to the component in order and acks those the socket
   * took. If the connection goes away midway, the rest stays pending under the domain's consumer
   * name and is read first by the next connection of that component.
   */
  private async forward(
    domain: string,
    conn: ComponentConnection,
    entries: readonly BusEntry[],
  ): Promise<void> {
    const done: BusEntry[] = [];
    const writes: { entry: BusEntry; written: Promise<boolean> }[] = [];
    for (const entry of entries) {
      let xml: string;
      try {
        xml = decodeEnvelope(entry.payload).xml;
      } catch (error) {
        // It can never be delivered; keeping it would block the stream.
        this.logger.warn({ err: error, domain, entryId: entry.id }, 'undecodable envelope dropped');
        done.push(entry);
        continue;
      }
      if (xml === '') {
        done.push(entry);
        continue;
      }
      writes.push({ entry, written: conn.deliver(xml) });
    }
    for (const { entry, written } of writes) {
      if (!(await written)) break;
      done.push(entry);
    }
    if (done.length > 0) await this.bus.ackEntries(Groups.service, done);
  }

  /** Stops accepting, ends every component stream with system-shutdown, stops reading. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.server?.close();
      const open = [...this.connections];
      for (const conn of open) conn.streamError('system-shutdown'); // RFC 6120 §4.9.3.20
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 2000);
      });
      await Promise.race([Promise.all(open.map((c) => c.closed)), timeout]);
      clearTimeout(timer);
      for (const conn of this.connections) conn.destroy();
      await Promise.all(open.map((c) => c.closed));
      await Promise.all(this.stopping.values());
    })();
    return this.closing;
  }
}
