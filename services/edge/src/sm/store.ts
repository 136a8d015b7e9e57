/** One stanza sent (or queued for sending) and not yet acknowledged by the client. */
export interface UnackedStanza {
  /** The delivery's envelope id (a fresh id for what the edge itself generated). */
  readonly id: string;
  readonly xml: string;
  readonly ts: number;
}

/** What a stream that resumes a session takes over (XEP-0198 §5). */
export interface ResumedState {
  readonly sessionId: string;
  readonly fullJid: string;
  /** The edge that held the session before. */
  readonly previousEdgeId: string;
  /** Fences writes of the stream that held the session before. */
  readonly epoch: number;
  /** Stanzas handled from the client, unwrapped. */
  readonly inbound: number;
  /** Outbound stanzas the client acknowledged, unwrapped. */
  readonly acked: number;
  /** Outbound stanzas counted so far, unwrapped: acked + unacked.length. */
  readonly sent: number;
  readonly unacked: readonly UnackedStanza[];
}

export type TakeResult =
  | { readonly kind: 'taken'; readonly state: ResumedState }
  /** Unknown, expired or not this user's; `inbound` when the session ended recently. */
  | { readonly kind: 'gone'; readonly inbound: number | null };

/** Where a push went: stored, or the session is held by another stream now, or it ended. */
export type PushOutcome =
  | { readonly kind: 'stored' }
  | { readonly kind: 'moved'; readonly edgeId: string }
  | { readonly kind: 'gone' };

export interface NewResumption {
  readonly sessionId: string;
  readonly bare: string;
  readonly fullJid: string;
  readonly edgeId: string;
}

export interface CounterUpdate {
  /** Unacked stanzas to drop from the head of the queue. */
  readonly trim: number;
  readonly acked: number;
  readonly inbound: number;
  /**
   * A new sent count, when it must move forward without pushes: on resume, the client counted
   * stanzas the previous holder wrote but died before recording.
   */
  readonly sent?: number;
}

/**
 * XEP-0198 session state that outlives a connection and an edge: in Redis in the cluster, so
 * another edge can take a session over, and in memory in one process. Every write names the
 * epoch it holds; a stream whose session was taken over (a new epoch) is told where it went.
 */
export interface ResumptionStore {
  /** Starts the state of a session that enabled stream management; resolves to its epoch. */
  create(init: NewResumption, ttlMs: number): Promise<number>;
  /** Appends to the unacked queue and counts the stanzas as sent. */
  push(
    sessionId: string,
    epoch: number,
    stanzas: readonly UnackedStanza[],
    ttlMs: number,
  ): Promise<PushOutcome>;
  /** Records acks and the inbound count; `ttlMs` is the lifetime from now (longer while attached). */
  update(sessionId: string, epoch: number, update: CounterUpdate, ttlMs: number): Promise<void>;
  /** Claims the session for `edgeId` under a new epoch, if it exists and belongs to `bare`. */
  take(sessionId: string, bare: string, edgeId: string, ttlMs: number): Promise<TakeResult>;
  /**
   * Ends the session if `epoch` still holds it: deletes the state (keeping the inbound count for
   * a while) and resolves to what was left unacked; null when it is held elsewhere or gone.
   */
  end(sessionId: string, epoch: number): Promise<readonly UnackedStanza[] | null>;
}

/** How long the inbound count of an ended session answers a late `<resume/>` (XEP-0198 §5 `<failed h=…/>`). */
export const GONE_TTL_MS = 3600_000;

interface MemoryEntry {
  bare: string;
  fullJid: string;
  edgeId: string;
  epoch: number;
  inbound: number;
  acked: number;
  sent: number;
  unacked: UnackedStanza[];
  expiresAt: number;
}

/** The state in this process: the embedded mode (one edge), and tests. */
export function createMemoryResumptionStore(now: () => number = Date.now): ResumptionStore {
  const live = new Map<string, MemoryEntry>();
  const gone = new Map<string, { inbound: number; expiresAt: number }>();

  const find = (sessionId: string): MemoryEntry | undefined => {
    const entry = live.get(sessionId);
    if (entry !== undefined && entry.expiresAt <= now()) {
      live.delete(sessionId);
      return undefined;
    }
    return entry;
  };

  return {
    create(init, ttlMs) {
      live.set(init.sessionId, {
        bare: init.bare,
        fullJid: init.fullJid,
        edgeId: init.edgeId,
        epoch: 1,
        inbound: 0,
        acked: 0,
        sent: 0,
        unacked: [],
        expiresAt: now() + ttlMs,
      });
      return Promise.resolve(1);
    },
    push(sessionId, epoch, stanzas, ttlMs) {
      const entry = find(sessionId);
      if (entry === undefined) return Promise.resolve({ kind: 'gone' });
      if (entry.epoch !== epoch) return Promise.resolve({ kind: 'moved', edgeId: entry.edgeId });
      entry.unacked.push(...stanzas);
      entry.sent += stanzas.length;
      entry.expiresAt = now() + ttlMs;
      return Promise.resolve({ kind: 'stored' });
    },
    update(sessionId, epoch, update, ttlMs) {
      const entry = find(sessionId);
      if (entry !== undefined && entry.epoch === epoch) {
        entry.unacked.splice(0, update.trim);
        entry.acked = update.acked;
        entry.inbound = update.inbound;
        if (update.sent !== undefined) entry.sent = update.sent;
        entry.expiresAt = now() + ttlMs;
      }
      return Promise.resolve();
    },
    take(sessionId, bare, edgeId, ttlMs) {
      const entry = find(sessionId);
      if (entry === undefined || entry.bare !== bare) {
        const ended = gone.get(sessionId);
        const inbound = ended !== undefined && ended.expiresAt > now() ? ended.inbound : null;
        return Promise.resolve({ kind: 'gone', inbound: entry === undefined ? inbound : null });
      }
      const previousEdgeId = entry.edgeId;
      entry.epoch++;
      entry.edgeId = edgeId;
      entry.expiresAt = now() + ttlMs;
      return Promise.resolve({
        kind: 'taken',
        state: {
          sessionId,
          fullJid: entry.fullJid,
          previousEdgeId,
          epoch: entry.epoch,
          inbound: entry.inbound,
          acked: entry.acked,
          sent: entry.sent,
          unacked: [...entry.unacked],
        },
      });
    },
    end(sessionId, epoch) {
      const entry = find(sessionId);
      if (entry === undefined || entry.epoch !== epoch) return Promise.resolve(null);
      live.delete(sessionId);
      const at = now();
      if (gone.size >= 10_000) for (const [id, g] of gone) if (g.expiresAt <= at) gone.delete(id);
      gone.set(sessionId, { inbound: entry.inbound, expiresAt: at + GONE_TTL_MS });
      return Promise.resolve(entry.unacked);
    },
  };
}
