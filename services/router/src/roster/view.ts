import { definedState, type RosterItem, type Subscription } from './states.js';

/** A roster item as a client sees it (RFC 6121 §2.1.2): no pending-in state, no stored stanza. */
export interface VisibleRosterItem {
  readonly jid: string;
  readonly name?: string;
  readonly subscription: Subscription;
  readonly ask?: 'subscribe';
  /** Only when true (RFC 6121 §2.1.2.1: the default is false). */
  readonly approved?: true;
  readonly groups: readonly string[];
}

/**
 * Whether a record is a roster item the user sees, rather than only the
 * server's note of an inbound request. RFC 6121 A.1 ("None + Pending In"):
 * when the user has no item for the contact, the server notes the request
 * but MUST NOT create a roster item until the user approves it. The record
 * does not say who created it, so a record in that state carrying nothing
 * the user gave it (no name, no group) counts as such a note.
 */
export function isRosterItem(record: RosterItem | null): record is RosterItem {
  if (record === null) return false;
  return !(
    definedState(record) === 'None + Pending In' &&
    record.name === undefined &&
    record.groups.length === 0
  );
}

/** The client's view of a record, or null when the record is not a roster item (see `isRosterItem`). */
export function visibleItem(record: RosterItem | null): VisibleRosterItem | null {
  if (!isRosterItem(record)) return null;
  return {
    jid: record.jid,
    ...(record.name !== undefined && { name: record.name }),
    subscription: record.subscription,
    ...(record.ask === 'subscribe' && { ask: 'subscribe' as const }),
    ...(record.approved === true && { approved: true as const }),
    groups: record.groups,
  };
}

export function sameVisibleItem(a: VisibleRosterItem | null, b: VisibleRosterItem | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.jid === b.jid &&
    a.name === b.name &&
    a.subscription === b.subscription &&
    a.ask === b.ask &&
    a.approved === b.approved &&
    a.groups.length === b.groups.length &&
    a.groups.every((group, i) => group === b.groups[i])
  );
}

/**
 * Whether going from `before` to `after` needs a roster push: only what a
 * client sees counts (RFC 6121 §2.1.6). When the push is needed and
 * `visibleItem(after)` is null, push the contact with subscription='remove'.
 */
export function needsRosterPush(before: RosterItem | null, after: RosterItem | null): boolean {
  return !sameVisibleItem(visibleItem(before), visibleItem(after));
}
