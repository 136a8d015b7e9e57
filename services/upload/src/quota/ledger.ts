/** The answer to a reservation: granted, or refused with when it could succeed (null: never, too large). */
export type Reservation =
  { readonly ok: true } | { readonly ok: false; readonly usedBytes: number; readonly retryAt: number | null };

/**
 * Bytes granted to each user over a rolling window (XEP-0363 §5:
 * `resource-constraint` when a user's quota is reached). Slots count when
 * granted, whether or not the file is then uploaded: the promise is the cost.
 */
export interface QuotaLedger {
  /** Grants `bytes` to `user` at `now` (ms) if their total in the window stays within the limit. */
  reserve(user: string, slotId: string, bytes: number, now: number): Promise<Reservation>;
  close(): Promise<void>;
}

export interface QuotaLimits {
  readonly bytes: number;
  readonly windowMs: number;
}

interface Grant {
  readonly at: number;
  readonly bytes: number;
}

/** When the oldest grants will have left the window far enough for `bytes` more; grants oldest first. */
export function retryTime(grants: readonly Grant[], bytes: number, limits: QuotaLimits): number | null {
  if (bytes > limits.bytes) return null;
  let used = grants.reduce((sum, g) => sum + g.bytes, 0);
  for (const grant of grants) {
    used -= grant.bytes;
    if (used + bytes <= limits.bytes) return grant.at + limits.windowMs;
  }
  return null;
}

/** The in-process ledger: one process serves the domain (the standalone). */
export function createMemoryQuotaLedger(limits: QuotaLimits): QuotaLedger {
  const grants = new Map<string, Grant[]>();
  return {
    reserve(user, _slotId, bytes, now) {
      const live = (grants.get(user) ?? []).filter((g) => g.at > now - limits.windowMs);
      const used = live.reduce((sum, g) => sum + g.bytes, 0);
      if (used + bytes > limits.bytes) {
        grants.set(user, live);
        return Promise.resolve({ ok: false, usedBytes: used, retryAt: retryTime(live, bytes, limits) });
      }
      live.push({ at: now, bytes });
      grants.set(user, live);
      return Promise.resolve({ ok: true });
    },
    close: () => Promise.resolve(),
  };
}
