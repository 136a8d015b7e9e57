import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryBus, type Bus, type BusEntry, type Consumer, type PublishItem } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
import {
  decodeDelivery,
  decodeEnvelope,
  encodeEnvelope,
  partitionOf,
  type Delivery,
  type Envelope,
  type EnvelopeKind,
} from '@switchboard/protocol';
import { deriveCredentials, openEmbeddedStore, type Store, type StoreLimits } from '@switchboard/store';
import { parseElement, type Element } from '@switchboard/xml';
import { build, createMemorySessionRegistry, type Router, type SessionRegistry } from '../app.js';
import type { RouterConfig } from '../config.js';

export const PARTITIONS = 8;

export interface HarnessOptions {
  /** Owned partitions of each router; default one router owning all. */
  readonly routers?: readonly (readonly number[])[];
  readonly offlineCap?: number;
  readonly storeLimits?: StoreLimits;
  readonly accounts?: readonly string[];
  readonly now?: () => number;
  /** Other drivers (Redis); default the memory bus, an embedded store in a temp dir and memory registries. */
  readonly backend?: { readonly bus: Bus; readonly store: Store; readonly registry: () => SessionRegistry };
}

const DEFAULT_ACCOUNTS = [
  'juliet@example.com',
  'romeo@example.net',
  'nurse@example.com',
  'benvolio@example.net',
];

/**
 * A router (or several) on the memory bus and an embedded store in a temp
 * dir, driven as the edge drives it: envelopes onto `route:{p}`, deliveries
 * read back from `deliver:{edgeId}`.
 */
export class Harness {
  readonly bus: Bus;
  readonly store: Store;
  readonly routers: Router[] = [];
  readonly registries: SessionRegistry[] = [];
  readonly #dir: string | undefined;
  #published = 0;
  #processed = 0;
  #deliveriesPublished = 0;
  readonly #deliveries: Delivery[] = [];
  #collector: Consumer | undefined;
  #waiters: (() => void)[] = [];
  #nextId = 0;
  /** Every route entry in the order it was published (envelopes), for assertions on forwarding. */
  readonly routeLog: { stream: string; env: Envelope }[] = [];
  /** Which router processed each batch: [router index, entries]. */
  readonly processedBy: { router: number; entries: readonly BusEntry[] }[] = [];

  private constructor(bus: Bus, store: Store, dir: string | undefined) {
    this.bus = bus;
    this.store = store;
    this.#dir = dir;
  }

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const inner = options.backend?.bus ?? createMemoryBus();
    const dir = options.backend === undefined ? mkdtempSync(join(tmpdir(), 'router-test-')) : undefined;
    const store =
      options.backend?.store ??
      openEmbeddedStore({ path: join(dir ?? tmpdir(), 'store.db'), ...options.storeLimits });
    const h = new Harness(
      countingBus(inner, (items) => h.#onPublish(items)),
      store,
      dir,
    );
    const credentials = await deriveCredentials('secret', 1);
    for (const jid of options.accounts ?? DEFAULT_ACCOUNTS) await store.accounts.create(jid, credentials);
    const all = Array.from({ length: PARTITIONS }, (_, i) => i);
    const owned = options.routers ?? [all];
    owned.forEach((partitions, index) => {
      const registry = options.backend?.registry() ?? createMemorySessionRegistry();
      const config: RouterConfig = {
        routerId: `router-${index}`,
        domains: ['example.com', 'example.net'],
        components: ['sms.example.com'],
        partitions: PARTITIONS,
        ownedPartitions: partitions,
        version: '1.2.3',
        ...(options.offlineCap === undefined ? {} : { offlineCap: options.offlineCap }),
      };
      const router = build(config, {
        bus: h.bus,
        store,
        sessions: registry,
        logger: createLogger({ service: 'router', level: 'silent' }),
        ...(options.now === undefined ? {} : { now: options.now }),
        onBatch: (entries) => h.#onProcessed(index, entries),
      });
      h.routers.push(router);
      h.registries.push(registry);
    });
    h.#collector = inner.consume({
      streams: ['deliver:{edge1}', 'deliver:{edge2}'],
      group: 'edge',
      consumer: 'test-edge',
      handler: (entries) => {
        for (const e of entries) h.#deliveries.push(decodeDelivery(e.payload));
        h.#wake();
        return Promise.resolve();
      },
    });
    for (const router of h.routers) await router.start();
    return h;
  }

  #onPublish(items: readonly PublishItem[]): void {
    for (const item of items) {
      if (item.stream.startsWith('route:')) {
        this.#published++;
        try {
          this.routeLog.push({ stream: item.stream, env: decodeEnvelope(item.payload) });
        } catch {
          // A test publishing garbage on purpose.
        }
      } else if (item.stream.startsWith('deliver:')) {
        this.#deliveriesPublished++;
      }
    }
  }

  #onProcessed(router: number, entries: readonly BusEntry[]): void {
    this.#processed += entries.length;
    this.processedBy.push({ router, entries });
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once every route entry published so far is processed and every delivery is read. */
  async settle(): Promise<void> {
    while (
      this.#processed < this.#published ||
      this.#deliveries.length + this.#taken < this.#deliveriesPublished
    ) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('harness did not settle')), 5000);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #taken = 0;

  async publish(env: Envelope): Promise<void> {
    const bare = env.from.split('/')[0]!;
    await this.bus.publish(
      `route:{${partitionOf(env.stage === 'in' ? env.to.split('/')[0]! : bare, PARTITIONS)}}`,
      encodeEnvelope(env),
    );
  }

  nextId(): string {
    return `env-${++this.#nextId}`;
  }

  /** Takes the deliveries not taken yet that match `filter`. */
  take(filter: (d: Delivery) => boolean): Delivery[] {
    const taken: Delivery[] = [];
    for (let i = 0; i < this.#deliveries.length;) {
      const d = this.#deliveries[i]!;
      if (filter(d)) {
        taken.push(d);
        this.#deliveries.splice(i, 1);
        this.#taken++;
      } else i++;
    }
    return taken;
  }

  async login(fullJid: string, options: { edge?: string; session?: string } = {}): Promise<Client> {
    const client = new Client(
      this,
      fullJid,
      options.edge ?? 'edge1',
      options.session ?? `s-${this.nextId()}`,
    );
    await client.event('session-start');
    return client;
  }

  async close(): Promise<void> {
    for (const router of this.routers) await router.stop();
    await this.#collector?.stop();
    await this.bus.close();
    await this.store.close();
    for (const registry of this.registries) await registry.close();
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** One client session, as its edge would publish for it. */
export class Client {
  constructor(
    readonly h: Harness,
    readonly jid: string,
    readonly edgeId: string,
    readonly sessionId: string,
  ) {}

  get bare(): string {
    return this.jid.split('/')[0]!;
  }

  async event(kind: 'session-start' | 'session-end'): Promise<void> {
    await this.h.publish({
      v: 1,
      id: this.h.nextId(),
      kind,
      edgeId: this.edgeId,
      sessionId: this.sessionId,
      from: this.jid,
      to: '',
      type: '',
      stanzaId: '',
      xml: '',
      ts: Date.now(),
    });
    await this.h.settle();
  }

  /** Sends a stanza as the edge would: `from` stamped, routing facts in the envelope. */
  async send(stanza: string, options: { settle?: boolean; id?: string } = {}): Promise<string> {
    // As the edge parses it: inside a jabber:client stream.
    const el = parseElement(stanza, { defaultNamespace: 'jabber:client' });
    el.attrs['from'] = this.jid;
    const id = options.id ?? this.h.nextId();
    await this.h.publish({
      v: 1,
      id,
      kind: el.name as EnvelopeKind,
      edgeId: this.edgeId,
      sessionId: this.sessionId,
      from: this.jid,
      to: el.attrs['to'] ?? '',
      type: el.attrs['type'] ?? '',
      stanzaId: el.attrs['id'] ?? '',
      xml: el.toString(),
      ts: Date.now(),
    });
    if (options.settle !== false) await this.h.settle();
    return id;
  }

  /** The stanzas delivered to this session since the last call, parsed. */
  received(): Element[] {
    return this.h
      .take((d) => d.kind === 'stanza' && d.sessionId === this.sessionId && d.to === this.jid)
      .map((d) => parseElement(d.kind === 'stanza' ? d.xml : ''));
  }

  /** Raw deliveries (stanza and close) for this session since the last call. */
  deliveries(): Delivery[] {
    return this.h.take((d) => d.sessionId === this.sessionId && d.to === this.jid);
  }

  async logout(): Promise<void> {
    await this.event('session-end');
  }
}

function countingBus(inner: Bus, onPublish: (items: readonly PublishItem[]) => void): Bus {
  return {
    publish: async (stream, payload) => {
      const id = await inner.publish(stream, payload);
      onPublish([{ stream, payload }]);
      return id;
    },
    publishBatch: async (items, options) => {
      const ids = await inner.publishBatch(items, options);
      onPublish(items);
      return ids;
    },
    ensureGroup: (stream, group, startId) => inner.ensureGroup(stream, group, startId),
    consume: (options) => inner.consume(options),
    ack: (stream, group, ids) => inner.ack(stream, group, ids),
    ackEntries: (group, entries) => inner.ackEntries(group, entries),
    claimStale: (stream, group, consumer, minIdleMs, count) =>
      inner.claimStale(stream, group, consumer, minIdleMs, count),
    removeConsumers: (stream, group, keep) => inner.removeConsumers(stream, group, keep),
    pending: (stream, group) => inner.pending(stream, group),
    trim: (stream) => inner.trim(stream),
    length: (stream) => inner.length(stream),
    close: () => inner.close(),
  };
}

/** Both subscribed to each other (RFC 6121 "Both"), written straight to the store. */
export async function befriend(store: Store, a: string, b: string): Promise<void> {
  await store.rosters.update(a, b, () => ({ jid: b, subscription: 'both', groups: [] }));
  await store.rosters.update(b, a, () => ({ jid: a, subscription: 'both', groups: [] }));
}

/** The error condition of an error stanza, '' when there is none. */
export function conditionOf(el: Element): string {
  const error = el.getChild('error');
  const condition = error
    ?.getChildElements()
    .find((c) => c.getNS() === 'urn:ietf:params:xml:ns:xmpp-stanzas' && c.getName() !== 'text');
  return condition?.getName() ?? '';
}
