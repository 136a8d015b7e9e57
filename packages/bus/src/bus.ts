/**
 * The bus: append-only streams read through consumer groups, with the
 * semantics of Redis Streams (ARCHITECTURE.md, "Delivery guarantees").
 *
 * - `publish` appends an opaque payload; the caller may pack several
 *   envelopes for one stream into one entry.
 * - A consumer group delivers each entry to one consumer of the group. A
 *   delivered entry stays *pending* on that consumer until it is acked;
 *   pending entries of a consumer that died are taken over with
 *   `claimStale` (XAUTOCLAIM). Delivery is at-least-once: effects must be
 *   idempotent (envelope ids are unique).
 * - Entries are trimmed only once every group has acked them, so a stream
 *   never loses unacked work; a stream that cannot be trimmed below its cap
 *   (`maxLength`) rejects publishes with {@link BusOverflowError}, which
 *   keeps memory bounded when a group lags.
 * - Hot path cost (ARCHITECTURE.md, "Performance budget"): a consumer reads
 *   up to `batchSize` entries per stream per call and acks a batch in one
 *   round trip; `publishBatch` sends many entries in one round trip.
 *
 * Entry ids are Redis stream ids, `<ms>-<seq>`, increasing within a stream.
 */

/** One entry read from a stream. */
export interface BusEntry {
  readonly stream: string;
  readonly id: string;
  readonly payload: string;
}

/** One entry to append. */
export interface PublishItem {
  readonly stream: string;
  readonly payload: string;
}

/**
 * A condition a fenced publish checks atomically with its appends: the
 * string at `key` (a plain Redis key, not a stream) equals `value`. A
 * router passes its partition leases (`lease:{p}` = `routerId:token`), so a
 * router that lost a lease can no longer publish the effects of that
 * partition's entries (ARCHITECTURE.md, "Delivery guarantees": fenced leases).
 */
export interface Fence {
  readonly key: string;
  readonly value: string;
}

export interface PublishOptions {
  /** Every fence must hold, or nothing is appended and {@link BusFencedError} is thrown. */
  readonly fences?: readonly Fence[];
}

/** What a group still has pending on a stream (XPENDING summary form). */
export interface PendingSummary {
  readonly count: number;
  /** Smallest pending id, `null` when nothing is pending. */
  readonly smallestId: string | null;
  /** Largest pending id, `null` when nothing is pending. */
  readonly largestId: string | null;
  /** Pending count per consumer name; consumers with nothing pending are absent. */
  readonly consumers: Readonly<Record<string, number>>;
}

export interface ConsumeOptions {
  /** Streams to read; change later with {@link Consumer.setStreams}. Groups are created (from id 0) as needed. */
  readonly streams: readonly string[];
  readonly group: string;
  /**
   * Consumer name, stable across restarts of the same owner: a consumer
   * that starts re-reads the entries still pending under its name before
   * it reads new ones, so a restarted process gets its unacked work back.
   */
  readonly consumer: string;
  /** Most entries read per stream per read (XREADGROUP COUNT). Default 100. */
  readonly batchSize?: number;
  /** How long one blocking read waits before it is re-issued (Redis only). Default 1000 ms. */
  readonly blockMs?: number;
  /** Pause after an error before reading again. Default 100 ms. */
  readonly retryDelayMs?: number;
  /**
   * Ack the batch in one call once `handler` resolves. Default true. With
   * false the handler acks itself (e.g. after its effects are durable).
   */
  readonly autoAck?: boolean;
  /**
   * Handles one batch; entries of one stream come in stream order. Throwing
   * means "retry": nothing of the batch is acked, the error goes to
   * `onError`, and after `retryDelayMs` the consumer re-reads its pending
   * entries of those streams first, so order per stream holds. A handler
   * that meets an entry it can never process must deal with it itself
   * (dead-letter and ack it) rather than throw.
   */
  readonly handler: (entries: readonly BusEntry[]) => Promise<void>;
  /** Handler errors and read/ack errors (Redis down, …); the consumer keeps going. */
  readonly onError?: (error: unknown) => void;
}

export interface Consumer {
  /**
   * Replaces the set of streams read, e.g. when partition leases move. Takes
   * effect at once, even while a read is blocked (the Redis driver unblocks
   * it with CLIENT UNBLOCK; at worst it waits out `blockMs`). Pending entries
   * of an added stream under this consumer's name are read first. Entries
   * still pending on a dropped stream stay pending for whoever takes it over
   * (`claimStale`); a read already served may still hand over entries of a
   * dropped stream once.
   */
  setStreams(streams: readonly string[]): void;
  /** The streams currently read. */
  readonly streams: readonly string[];
  /**
   * Stops reading: a blocked read is abandoned at once, a running handler
   * finishes and its batch is acked. Unacked entries stay pending under this
   * consumer's name. Idempotent.
   */
  stop(): Promise<void>;
}

export interface Bus {
  /** Appends one entry; resolves to its id. */
  publish(stream: string, payload: string): Promise<string>;
  /**
   * Appends many entries in one round trip; resolves to their ids, in order.
   * All or nothing with respect to {@link BusOverflowError}: when any target
   * stream is full, nothing is appended. With `fences`, the check and the
   * appends are one atomic step on the server (the in-process driver has no
   * other process that could hold a lease and ignores them).
   */
  publishBatch(items: readonly PublishItem[], options?: PublishOptions): Promise<string[]>;
  /**
   * Creates `group` on `stream` (and the stream) if missing. `startId` is
   * where the group starts reading: '0' (default) for everything in the
   * stream, '$' for only what is published from now on.
   */
  ensureGroup(stream: string, group: string, startId?: string): Promise<void>;
  /** Starts a consumer loop; see {@link ConsumeOptions}. */
  consume(options: ConsumeOptions): Consumer;
  /** Acks entries of one stream; resolves to how many were pending. */
  ack(stream: string, group: string, ids: readonly string[]): Promise<number>;
  /** Acks a batch that may span streams, in one round trip. */
  ackEntries(group: string, entries: readonly BusEntry[]): Promise<number>;
  /**
   * XAUTOCLAIM: entries pending in `group` for at least `minIdleMs` (on any
   * consumer, the caller included) are reassigned to `consumer` and
   * returned, oldest first, at most `count`. The claimer processes and acks
   * them like any other delivery. [] when the stream or group does not exist.
   */
  claimStale(
    stream: string,
    group: string,
    consumer: string,
    minIdleMs: number,
    count: number,
  ): Promise<BusEntry[]>;
  /**
   * XGROUP DELCONSUMER for every consumer of `group` on `stream` that has
   * nothing pending and that `keep` does not keep, e.g. the names of routers
   * that died and whose pending entries were claimed. Resolves to the names removed.
   */
  removeConsumers(stream: string, group: string, keep: (consumer: string) => boolean): Promise<string[]>;
  /** What `group` has pending on `stream`; all zero when the stream or group does not exist. */
  pending(stream: string, group: string): Promise<PendingSummary>;
  /**
   * Removes the entries every group of the stream is done with: those below
   * the oldest pending id of each group, or up to its last-delivered id when
   * it has nothing pending (XTRIM MINID). A stream without groups is not
   * trimmed. Resolves to how many entries were removed. Publishing trims by
   * itself when a stream reaches its cap; calling this keeps streams short.
   */
  trim(stream: string): Promise<number>;
  /** Number of entries in the stream, 0 when it does not exist. */
  length(stream: string): Promise<number>;
  /** Stops every consumer started from this bus, then releases connections. Idempotent. */
  close(): Promise<void>;
}

/** Default cap on entries per stream. */
export const DEFAULT_MAX_LENGTH = 100_000;

/** Base class of the bus's own errors. */
export class BusError extends Error {
  override readonly name: string = 'BusError';
}

/**
 * A publish found its stream at the cap and trimming freed nothing because
 * a group has not acked (it lags or is dead). Nothing was appended; the
 * caller backs off, or refuses the work upstream (`resource-constraint`).
 */
export class BusOverflowError extends BusError {
  override readonly name = 'BusOverflowError';
  constructor(
    readonly stream: string,
    readonly length: number,
    readonly maxLength: number,
  ) {
    super(`stream ${stream} is full: ${length} entries, cap ${maxLength}`);
  }
}

/** A fenced publish found a fence that no longer holds (the lease moved on); nothing was appended. */
export class BusFencedError extends BusError {
  override readonly name = 'BusFencedError';
  constructor(readonly key: string) {
    super(`fence ${key} no longer holds: publish refused`);
  }
}

/** The bus was used after `close()`. */
export class BusClosedError extends BusError {
  override readonly name = 'BusClosedError';
  constructor() {
    super('bus is closed');
  }
}
