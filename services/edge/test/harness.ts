import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createMemoryBus, type Bus, type Consumer } from '@switchboard/bus';
import { createLogger, type Metrics } from '@switchboard/kit';
import { Streams, decodeEnvelope, encodeDelivery, type Delivery, type Envelope } from '@switchboard/protocol';
import { openEmbeddedStore, type Store } from '@switchboard/store';
import { NS, StreamParser, type Element } from '@switchboard/xml';
import { Inbox } from '@switchboard/testkit';
import { build, type Edge, type EdgeConfigInput, type ListeningPorts } from '../src/app.js';
import { deriveCredentials } from '../src/sasl/index.js';
import type { ResumptionStore } from '../src/sm/store.js';

const fixtures = new URL('../../../test/fixtures/tls/', import.meta.url);
export const TEST_TLS = {
  key: readFileSync(new URL('server.key', fixtures), 'utf8'),
  cert: readFileSync(new URL('server.pem', fixtures), 'utf8'),
};
export const CA_FILE = new URL('ca.pem', fixtures).pathname;
export const PARTITIONS = 4;

/** Reads every route partition the way the router does (group 'router'), so tests see what the edge published. */
export class RouteTap {
  private readonly envelopes = new Inbox<Envelope>();
  private readonly consumer: Consumer;

  constructor(bus: Bus) {
    this.consumer = bus.consume({
      streams: Array.from({ length: PARTITIONS }, (_, p) => Streams.route(p)),
      group: 'router',
      consumer: 'test',
      handler: (entries) => {
        for (const entry of entries) this.envelopes.push(decodeEnvelope(entry.payload));
        return Promise.resolve();
      },
    });
  }

  get all(): readonly Envelope[] {
    return this.envelopes.items;
  }

  waitFor(test: (e: Envelope) => boolean, what = 'an envelope'): Promise<Envelope> {
    return this.envelopes.waitFor(test, what);
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }
}

export interface TestEdge {
  readonly edge: Edge;
  readonly bus: Bus;
  readonly store: Store;
  readonly ports: ListeningPorts;
  readonly routes: RouteTap;
  createAccount(user: string, password: string): Promise<void>;
  deliver(delivery: Delivery): Promise<void>;
  stop(): Promise<void>;
}

export async function startEdge(
  overrides: EdgeConfigInput = {},
  metrics?: Metrics,
  resumption?: ResumptionStore,
): Promise<TestEdge> {
  const dir = await mkdtemp(join(tmpdir(), 'edge-test-'));
  const bus = createMemoryBus();
  const store = openEmbeddedStore({ path: join(dir, 'store.db') });
  const logger = createLogger({
    service: 'edge-test',
    level: process.env['EDGE_TEST_LOG'] === 'debug' ? 'debug' : 'silent',
  });
  const edge = build(
    {
      domains: ['localhost'],
      host: '127.0.0.1',
      ports: { starttls: 0, directTls: 0, http: 0 },
      dataDir: dir,
      partitions: PARTITIONS,
      sasl: { fakeSaltSecret: 'test-fake-salt-secret-0123456789' },
      registration: { perIpPerHour: 1000 },
      ...overrides,
    },
    {
      bus,
      store,
      logger,
      tls: TEST_TLS,
      ...(metrics === undefined ? {} : { metrics }),
      ...(resumption === undefined ? {} : { resumption }),
    },
  );
  const ports = await edge.listen();
  const routes = new RouteTap(bus);
  return {
    edge,
    bus,
    store,
    ports,
    routes,
    createAccount: async (user, password) => {
      await store.accounts.create(`${user}@localhost`, await deriveCredentials(password));
    },
    deliver: async (delivery) => {
      await bus.publish(Streams.deliver(edge.edgeId), encodeDelivery(delivery));
    },
    stop: async () => {
      await edge.close();
      await routes.stop();
      await bus.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const STREAM_HEADER = (to = 'localhost'): string =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS.STREAMS}' to='${to}' version='1.0'>`;

/** A client over raw sockets, for the cases where the test must control every byte. */
export class RawClient {
  private readonly elements = new Inbox<Element>();
  private parser!: StreamParser;
  readonly closed: Promise<void>;
  private socket: Socket;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.newParser();
    this.attach(socket);
    this.closed = once(socket, 'close').then(() => undefined);
  }

  static async tcp(port: number): Promise<RawClient> {
    const socket = netConnect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  static async tls(port: number): Promise<RawClient> {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost' });
    await once(socket, 'secureConnect');
    return new RawClient(socket);
  }

  private newParser(): void {
    this.parser = new StreamParser({
      stanza: (el) => this.elements.push(el),
      error: () => undefined,
    });
  }

  private whitespaceSeen: (() => void) | null = null;

  private readonly onData = (chunk: Buffer): void => {
    if (chunk.toString().trim() === '') this.whitespaceSeen?.();
    this.parser.write(chunk);
  };

  /** Resolves on the next chunk that is only whitespace: an RFC 6120 §4.6.1 keepalive. */
  whitespace(): Promise<void> {
    return new Promise((resolve) => {
      this.whitespaceSeen = resolve;
    });
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', () => undefined);
  }

  get secure(): boolean {
    return (this.socket as TLSSocket).encrypted === true;
  }

  send(data: string): void {
    this.socket.write(data);
  }

  /** Elements received so far that pass `test`. */
  count(test: (el: Element) => boolean): number {
    return this.elements.items.filter(test).length;
  }

  next(test: (el: Element) => boolean, what: string, timeoutMs?: number): Promise<Element> {
    return this.elements.waitFor(test, what, timeoutMs);
  }

  /** Opens a (new) stream and returns its features. */
  async open(to = 'localhost'): Promise<Element> {
    const seen = this.elements.items.length;
    this.newParser();
    this.send(STREAM_HEADER(to));
    return this.elements.waitFor(
      (el) => this.elements.items.indexOf(el) >= seen && el.is('features', NS.STREAMS),
      'stream features',
    );
  }

  /** The condition of the stream error the server sends. */
  async streamError(): Promise<{ condition: string; text: string | undefined; el: Element }> {
    const el = await this.elements.waitFor((e) => e.is('error', NS.STREAMS), 'a stream error');
    const condition = el.getChildElements().find((c) => c.getName() !== 'text');
    return { condition: condition?.getName() ?? '', text: el.getChildText('text'), el };
  }

  async starttls(): Promise<void> {
    this.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await this.next((el) => el.is('proceed', 'urn:ietf:params:xml:ns:xmpp-tls'), 'proceed');
    this.socket.off('data', this.onData);
    const secure = tlsConnect({ socket: this.socket, servername: 'localhost' });
    await once(secure, 'secureConnect');
    this.socket = secure;
    this.attach(secure);
  }

  /** PLAIN over TLS, then a bound resource; returns the full JID. */
  async login(user: string, password: string, resource = 'raw'): Promise<string> {
    await this.open();
    const token = Buffer.from(`\0${user}\0${password}`).toString('base64');
    this.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${token}</auth>`);
    const outcome = await this.next(
      (el) =>
        el.getNS() === 'urn:ietf:params:xml:ns:xmpp-sasl' &&
        (el.getName() === 'success' || el.getName() === 'failure'),
      'sasl outcome',
    );
    if (outcome.getName() !== 'success') throw new Error(`login failed: ${outcome.toString()}`);
    await this.open();
    this.send(
      `<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
    );
    const bound = await this.next((el) => el.is('iq') && el.attrs['id'] === 'bind1', 'bind result');
    const jid = bound.getChild('bind')?.getChildText('jid');
    if (jid === undefined) throw new Error(`bind failed: ${bound.toString()}`);
    return jid;
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** What `onlineClient` needs of an @xmpp/client instance. */
interface StartableClient {
  start(): Promise<unknown>;
  once(event: 'online', listener: () => void): unknown;
  once(event: 'error', listener: (error: unknown) => void): unknown;
}

/**
 * Starts an @xmpp/client and resolves once it is online. Over direct TLS, @xmpp/client 0.14 waits
 * for the server's stream header only after its own header write completes, which on TLS can be
 * after the header arrived; with SASL1 the stream restart hid this, with SASL2 (no restart) its
 * start() times out although the session is up. So wait for 'online', not for start().
 */
export function onlineClient(xmpp: StartableClient): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    xmpp.once('online', () => resolve());
    xmpp.start().catch((error: unknown) => {
      if ((error as { name?: unknown }).name !== 'TimeoutError')
        reject(error instanceof Error ? error : new Error(String(error)));
    });
  });
}
