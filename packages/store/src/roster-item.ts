import { compareUtf8 } from './addresses.js';
import { InvalidRosterItemError } from './errors.js';
import type { RosterItem, Subscription } from './store.js';

const SUBSCRIPTIONS: ReadonlySet<string> = new Set<Subscription>(['none', 'to', 'from', 'both']);

/**
 * The one stored shape of an item: fixed key order, no false or undefined
 * flags, groups deduplicated and sorted. Two items mean the same thing iff
 * their canonical JSON is equal, which is how "changed" is decided.
 */
export function canonicalItem(contact: string, item: RosterItem): RosterItem {
  if (typeof item !== 'object' || item === null)
    throw new InvalidRosterItemError('roster item must be an object');
  if (item.jid !== contact) {
    throw new InvalidRosterItemError(`roster item jid ${String(item.jid)} is not the contact ${contact}`);
  }
  if (!SUBSCRIPTIONS.has(item.subscription)) {
    throw new InvalidRosterItemError(`unknown subscription ${String(item.subscription)}`);
  }
  if (item.ask !== undefined && item.ask !== 'subscribe') {
    throw new InvalidRosterItemError(`unknown ask ${String(item.ask)}`);
  }
  if (!Array.isArray(item.groups) || item.groups.some((g) => typeof g !== 'string')) {
    throw new InvalidRosterItemError('groups must be an array of strings');
  }
  if (item.name !== undefined && typeof item.name !== 'string') {
    throw new InvalidRosterItemError('name must be a string');
  }
  const groups = [...new Set(item.groups)].sort(compareUtf8);
  return {
    jid: contact,
    ...(item.name !== undefined && { name: item.name }),
    subscription: item.subscription,
    ...(item.ask === 'subscribe' && { ask: 'subscribe' as const }),
    ...(item.pendingIn === true && { pendingIn: true }),
    // The stanza only matters while the request is pending (RFC 6121 §3.1.3).
    ...(item.pendingIn === true && item.pendingInXml !== undefined && { pendingInXml: item.pendingInXml }),
    ...(item.approved === true && { approved: true }),
    groups,
  };
}

export function sameItem(a: RosterItem | null, b: RosterItem | null): boolean {
  if (a === null || b === null) return a === b;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * A roster version: an incarnation tag (random, new whenever a roster is
 * created, so a client's cached version of a deleted and re-created account
 * never matches) and a counter that grows with every change.
 */
export interface ParsedVersion {
  readonly epoch: string;
  readonly counter: number;
}

/** The version of a roster that was never written. */
export const EMPTY_ROSTER_VERSION = '0';

export function formatVersion(epoch: string, counter: number): string {
  return `${epoch}-${counter}`;
}

export function parseVersion(version: string): ParsedVersion | null {
  const match = /^([0-9a-f]{8})-(0|[1-9][0-9]{0,15})$/.exec(version);
  if (!match) return null;
  const counter = Number(match[2]);
  return Number.isSafeInteger(counter) ? { epoch: match[1]!, counter } : null;
}
