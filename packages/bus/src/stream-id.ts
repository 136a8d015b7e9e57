/** Redis stream ids, `<ms>-<seq>`, as a pair of integers that compare and increment. */
export interface StreamId {
  readonly ms: number;
  readonly seq: number;
}

const ID = /^(\d+)(?:-(\d+))?$/;

export const ZERO_ID: StreamId = { ms: 0, seq: 0 };

/** Parses `ms-seq` (or bare `ms`, as Redis accepts); throws on anything else. */
export function parseStreamId(id: string): StreamId {
  const match = ID.exec(id);
  const ms = Number(match?.[1]);
  const seq = Number(match?.[2] ?? 0);
  if (!Number.isSafeInteger(ms) || !Number.isSafeInteger(seq)) {
    throw new TypeError(`invalid stream id ${JSON.stringify(id)}`);
  }
  return { ms, seq };
}

export function formatStreamId(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

export function compareStreamIds(a: StreamId, b: StreamId): number {
  return a.ms === b.ms ? a.seq - b.seq : a.ms - b.ms;
}

/** The smallest id greater than `id`. */
export function nextStreamId(id: StreamId): StreamId {
  return Number.isSafeInteger(id.seq + 1) ? { ms: id.ms, seq: id.seq + 1 } : { ms: id.ms + 1, seq: 0 };
}
