import { hasFrom, hasTo, type RosterItem } from './states.js';
import { isRosterItem } from './view.js';

/** What a client's roster set may change (RFC 6121 §2.4.1): the rest is the server's. */
export interface RosterSetRequest {
  readonly name?: string;
  readonly groups: readonly string[];
}

/**
 * The record after a roster set that adds or updates `contact`. The
 * subscription state, the pending flags and the pre-approval stay as they
 * were: a client cannot set them (RFC 6121 §2.1.2.1, §2.1.2.2, §2.1.2.5).
 * Groups are kept as given; the store deduplicates and sorts them.
 */
export function applyRosterSet(
  item: RosterItem | null,
  contact: string,
  request: RosterSetRequest,
): RosterItem {
  return {
    jid: item?.jid ?? contact,
    ...(request.name !== undefined && { name: request.name }),
    subscription: item?.subscription ?? 'none',
    ...(item?.ask === 'subscribe' && { ask: 'subscribe' as const }),
    ...(item?.pendingIn === true && { pendingIn: true }),
    ...(item?.pendingIn === true && item.pendingInXml !== undefined && { pendingInXml: item.pendingInXml }),
    ...(item?.approved === true && { approved: true }),
    groups: request.groups,
  };
}

export interface RosterRemoval {
  /** Subscription stanzas to route to the contact from the user's bare JID, in this order. */
  readonly send: readonly ('unsubscribe' | 'unsubscribed')[];
  /** Send unavailable presence from each of the user's available resources to the contact (RFC 6121 §3.2.2). */
  readonly sendUnavailable: boolean;
}

/**
 * Side effects of removing the contact from the user's roster, or null when
 * there is no roster item to remove, which the server answers with
 * item-not-found (RFC 6121 §2.5.3). The stanzas go straight to the contact:
 * with the item gone, `outboundSubscription` would not route an
 * unsubscribed.
 *
 * RFC 6121 §2.5.2: unsubscribe when the user is subscribed to the contact,
 * unsubscribed when the contact is subscribed to the user, both when both
 * hold. Pending requests are cancelled the same way, so that neither side
 * keeps a request for an item that no longer exists: unsubscribe also
 * withdraws a pending outbound request (§3.3) and unsubscribed also denies a
 * pending inbound one (§3.2), as Prosody and ejabberd do.
 */
export function rosterRemove(item: RosterItem | null): RosterRemoval | null {
  if (!isRosterItem(item)) return null;
  const send: ('unsubscribe' | 'unsubscribed')[] = [];
  if (hasTo(item.subscription) || item.ask === 'subscribe') send.push('unsubscribe');
  if (hasFrom(item.subscription) || item.pendingIn === true) send.push('unsubscribed');
  return { send, sendUnavailable: hasFrom(item.subscription) };
}
