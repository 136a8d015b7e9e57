import { createRedisBus, type Bus, type BusEntry } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
import type { Envelope } from '@switchboard/protocol';
import { createRedisStore, type Store } from '@switchboard/store';
import { Redis } from 'ioredis';
import { build, createRedisSessionRegistry, type Router } from '../../app.js';
import { createPartitionLeases, type PartitionConsumer, type PartitionLeases } from '../leases.js';

export const logger = createLogger({ service: 'router', level: 'silent' });
export const DOMAINS = ['example.com', 'example.net'];

/** Short timings: a dead router's leases lapse in under a second. */
export const TIMINGS = { leaseTtlMs: 800, heartbeatMs: 100, routerTtlMs: 500 } as const;

/** What a router was consuming at one moment, as the leases drove it. */
export interface ConsumingState {
  readonly partitions: ReadonlySet<number>;
  /** Bumped on every change, so a reader can tell the state held still over an interval. */
  readonly version: number;
}

/** One router of a test cluster: real core, Redis drivers, leases; its consumption is tracked. */
export class Member {
  readonly processed: BusEntry[] = [];
  #running = false;
  #owned: readonly number[] = [];
  #version = 0;
  #batchWaiters: (() => void)[] = [];

  private constructor(
    readonly id: string,
    readonly redis: Redis,
    readonly bus: Bus,
    readonly store: Store,
    readonly router: Router,
    readonly leases: PartitionLeases,
  ) {}

  static create(url: string, id: string, partitions: number): Member {
    const redis = new Redis(url);
    const bus = createRedisBus({ url });
    const store = createRedisStore({ url });
    // The callbacks below run only after the member exists.
    const ref: { member?: Member } = {};
    const router = build(
      { routerId: id, domains: DOMAINS, components: [], partitions, ownedPartitions: [] },
      {
        bus,
        store,
        sessions: createRedisSessionRegistry(redis),
        logger,
        onBatch: (entries) => ref.member!.#onBatch(entries),
        fence: (p) => ref.member!.leases.fence(p),
      },
    );
    // A router is counted as consuming a partition from before it starts reading until its stop resolved.
    const tracked: PartitionConsumer = {
      start: async () => {
        ref.member!.#set(true, ref.member!.#owned);
        await router.start();
      },
      stop: async () => {
        await router.stop();
        ref.member!.#set(false, ref.member!.#owned);
      },
      setOwnedPartitions: (partitions) => {
        router.setOwnedPartitions(partitions);
        ref.member!.#set(ref.member!.#running, [...partitions]);
      },
      handleBatch: (entries) => router.handleBatch(entries),
    };
    const leases = createPartitionLeases({
      redis,
      bus,
      router: tracked,
      routerId: id,
      partitions,
      logger,
      ...TIMINGS,
    });
    ref.member = new Member(id, redis, bus, store, router, leases);
    return ref.member;
  }

  get consuming(): ConsumingState {
    return { partitions: new Set(this.#running ? this.#owned : []), version: this.#version };
  }

  #set(running: boolean, owned: readonly number[]): void {
    this.#running = running;
    this.#owned = owned;
    this.#version++;
  }

  #onBatch(entries: readonly BusEntry[]): void {
    this.processed.push(...entries);
    const waiters = this.#batchWaiters;
    this.#batchWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves after the next batch this router processes. */
  nextBatch(): Promise<void> {
    return new Promise((resolve) => this.#batchWaiters.push(resolve));
  }

  /** Leaves the cluster cleanly and closes every connection. */
  async close(): Promise<void> {
    await this.leases.stop();
    await this.shutdown();
  }

  /** Closes connections without releasing anything (after `leases.abandon()`). */
  async shutdown(): Promise<void> {
    await this.router.stop();
    await this.bus.close();
    await this.store.close();
    await this.redis.quit();
  }
}

/**
 * Resolves once `check` holds, re-checking whenever one of the members'
 * leases change; rejects after `ms` with `what` in the message.
 */
export function until(
  members: readonly Member[],
  check: () => boolean,
  what: string,
  ms = 10_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const offs: (() => void)[] = [];
    const done = (error?: Error): void => {
      clearTimeout(timer);
      for (const off of offs) off();
      if (error === undefined) resolve();
      else reject(error);
    };
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}`)), ms);
    for (const m of members) offs.push(m.leases.onChange(() => check() && done()));
    if (check()) done();
  });
}

/** Every partition held by exactly one member, all of them ready. */
export function isDisjointCover(members: readonly Member[], partitions: number): boolean {
  const seen = new Set<number>();
  for (const m of members) {
    if (!m.leases.ready) return false;
    for (const p of m.leases.held) {
      if (seen.has(p)) return false;
      seen.add(p);
    }
  }
  return seen.size === partitions;
}

let nextId = 0;

/** A chat message from `from` to `to`, forwarded for inbound processing as a router would. */
export function chat(from: string, to: string, body: string): Envelope {
  const id = `test-${++nextId}`;
  return {
    v: 1,
    id,
    kind: 'message',
    edgeId: '',
    sessionId: '',
    from,
    to,
    type: 'chat',
    stanzaId: id,
    xml: `<message xmlns='jabber:client' from='${from}' to='${to}' type='chat' id='${id}'><body>${body}</body></message>`,
    ts: Date.now(),
    stage: 'in',
  };
}
