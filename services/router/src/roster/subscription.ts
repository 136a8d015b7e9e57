import {
  definedState,
  hasFrom,
  itemInState,
  stateFacts,
  type DefinedState,
  type RosterItem,
} from './states.js';
import { isRosterItem, needsRosterPush } from './view.js';

/** The presence types that manage subscriptions (RFC 6121 §3). */
export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

const SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set<SubscriptionType>([
  'subscribe',
  'subscribed',
  'unsubscribe',
  'unsubscribed',
]);

export function isSubscriptionType(type: string): type is SubscriptionType {
  return SUBSCRIPTION_TYPES.has(type);
}

export interface SubscriptionOptions {
  /**
   * Whether the server supports subscription pre-approval (RFC 6121 §3.4,
   * advertised as the urn:xmpp:features:pre-approval stream feature).
   * Default true.
   */
  readonly preApproval?: boolean;
}

export interface InboundOptions extends SubscriptionOptions {
  /** The inbound stanza as delivered, kept while the request is pending (RFC 6121 §3.1.3). */
  readonly stanzaXml?: string;
}

export interface SubscriptionOutcome {
  /** The record after the stanza; null when the contact has none (store: remove or leave absent). */
  readonly item: RosterItem | null;
  /** The defined state after the stanza (RFC 6121 A.1). */
  readonly state: DefinedState;
  /**
   * Push `visibleItem(item)` to the user's interested resources, or
   * subscription='remove' when that is null (RFC 6121 §2.1.6).
   */
  readonly rosterPush: boolean;
  /**
   * The contact now receives the user's presence: send the last presence of
   * each of the user's available resources to the contact (RFC 6121 §3.1.5).
   */
  readonly sendPresence: boolean;
  /**
   * The contact's subscription to the user ended: send unavailable presence
   * from each of the user's available resources to the contact (RFC 6121
   * §3.2.2, §3.3.3).
   */
  readonly sendUnavailable: boolean;
}

export interface OutboundOutcome extends SubscriptionOutcome {
  /** Route the stanza, stamped with the user's bare JID (RFC 6121 §3.1.2), to the contact. */
  readonly forward: boolean;
}

export interface InboundOutcome extends SubscriptionOutcome {
  /**
   * Deliver the stanza to the user's available resources. A subscribe that
   * finds none stays stored in `item.pendingInXml` for the next available
   * presence (RFC 6121 §3.1.3).
   */
  readonly deliverToUser: boolean;
  /** Send this type from the user's bare JID to the contact on the user's behalf (RFC 6121 §3.1.3). */
  readonly autoReply?: 'subscribed';
}

const MUST = true;
const MUST_NOT = false;
const NO_STATE_CHANGE = 'no state change';
const PRE_APPROVAL = 'pre-approval';

interface OutboundRow {
  readonly route: boolean;
  readonly next: DefinedState | typeof NO_STATE_CHANGE | typeof PRE_APPROVAL;
}

interface InboundRow {
  readonly deliver: boolean;
  readonly next: DefinedState | typeof NO_STATE_CHANGE;
  /** The state when the user pre-approved the contact (RFC 6121 §3.4); then the server auto-replies. */
  readonly preApproved?: DefinedState;
  readonly autoReply?: 'subscribed';
}

type Table<Row> = { readonly [T in SubscriptionType]: { readonly [S in DefinedState]: Row } };

// RFC 6121 Appendix A.2: the user's server, on a subscription stanza the user sends.
const OUTBOUND: Table<OutboundRow> = {
  // A.2.1 Client Generates Outbound Subscription Request.
  subscribe: {
    None: { route: MUST, next: 'None + Pending Out' },
    'None + Pending Out': { route: MUST, next: NO_STATE_CHANGE },
    'None + Pending In': { route: MUST, next: 'None + Pending Out+In' },
    'None + Pending Out+In': { route: MUST, next: NO_STATE_CHANGE },
    To: { route: MUST, next: NO_STATE_CHANGE },
    'To + Pending In': { route: MUST, next: NO_STATE_CHANGE },
    From: { route: MUST, next: 'From + Pending Out' },
    'From + Pending Out': { route: MUST, next: NO_STATE_CHANGE },
    Both: { route: MUST, next: NO_STATE_CHANGE },
  },
  // A.2.2 Client Generates Outbound Unsubscribe.
  unsubscribe: {
    None: { route: MUST, next: NO_STATE_CHANGE },
    'None + Pending Out': { route: MUST, next: 'None' },
    'None + Pending In': { route: MUST, next: NO_STATE_CHANGE },
    'None + Pending Out+In': { route: MUST, next: 'None + Pending In' },
    To: { route: MUST, next: 'None' },
    'To + Pending In': { route: MUST, next: 'None + Pending In' },
    From: { route: MUST, next: NO_STATE_CHANGE },
    'From + Pending Out': { route: MUST, next: 'From' },
    Both: { route: MUST, next: 'From' },
  },
  // A.2.3 Client Generates Outbound Subscription Approval; "pre-approval" per §3.4.2.
  subscribed: {
    None: { route: MUST_NOT, next: PRE_APPROVAL },
    'None + Pending Out': { route: MUST_NOT, next: PRE_APPROVAL },
    'None + Pending In': { route: MUST, next: 'From' },
    'None + Pending Out+In': { route: MUST, next: 'From + Pending Out' },
    To: { route: MUST_NOT, next: PRE_APPROVAL },
    'To + Pending In': { route: MUST, next: 'Both' },
    From: { route: MUST_NOT, next: NO_STATE_CHANGE },
    'From + Pending Out': { route: MUST_NOT, next: NO_STATE_CHANGE },
    Both: { route: MUST_NOT, next: NO_STATE_CHANGE },
  },
  // A.2.4 Client Generates Outbound Unsubscribed.
  unsubscribed: {
    None: { route: MUST_NOT, next: NO_STATE_CHANGE },
    'None + Pending Out': { route: MUST_NOT, next: NO_STATE_CHANGE },
    'None + Pending In': { route: MUST, next: 'None' },
    'None + Pending Out+In': { route: MUST, next: 'None + Pending Out' },
    To: { route: MUST_NOT, next: NO_STATE_CHANGE },
    'To + Pending In': { route: MUST, next: 'To' },
    From: { route: MUST, next: 'None' },
    'From + Pending Out': { route: MUST, next: 'None + Pending Out' },
    Both: { route: MUST, next: 'To' },
  },
};

// RFC 6121 Appendix A.3: the user's server, on a subscription stanza from the contact.
const INBOUND: Table<InboundRow> = {
  // A.3.1 Server Processing of Inbound Subscription Request; auto-replies per §3.1.3 and §3.4.
  subscribe: {
    None: { deliver: MUST, next: 'None + Pending In', preApproved: 'From' },
    'None + Pending Out': { deliver: MUST, next: 'None + Pending Out+In', preApproved: 'From + Pending Out' },
    'None + Pending In': { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    'None + Pending Out+In': { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    To: { deliver: MUST, next: 'To + Pending In', preApproved: 'Both' },
    'To + Pending In': { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    From: { deliver: MUST_NOT, next: NO_STATE_CHANGE, autoReply: 'subscribed' },
    'From + Pending Out': { deliver: MUST_NOT, next: NO_STATE_CHANGE, autoReply: 'subscribed' },
    Both: { deliver: MUST_NOT, next: NO_STATE_CHANGE, autoReply: 'subscribed' },
  },
  // A.3.2 Server Processing of Inbound Unsubscribe.
  unsubscribe: {
    None: { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    'None + Pending Out': { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    'None + Pending In': { deliver: MUST, next: 'None' },
    'None + Pending Out+In': { deliver: MUST, next: 'None + Pending Out' },
    To: { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    'To + Pending In': { deliver: MUST, next: 'To' },
    From: { deliver: MUST, next: 'None' },
    'From + Pending Out': { deliver: MUST, next: 'None + Pending Out' },
    Both: { deliver: MUST, next: 'To' },
  },
  // A.3.3 Server Processing of Inbound Subscription Approval.
  subscribed: {
    None: { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    'None + Pending Out': { deliver: MUST, next: 'To' },
    'None + Pending In': { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    'None + Pending Out+In': { deliver: MUST, next: 'To + Pending In' },
    To: { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    'To + Pending In': { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    From: { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    'From + Pending Out': { deliver: MUST, next: 'Both' },
    Both: { deliver: MUST_NOT, next: NO_STATE_CHANGE },
  },
  // A.3.4 Server Processing of Inbound Unsubscribed.
  unsubscribed: {
    None: { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    'None + Pending Out': { deliver: MUST, next: 'None' },
    'None + Pending In': { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    'None + Pending Out+In': { deliver: MUST, next: 'None + Pending In' },
    To: { deliver: MUST, next: 'None' },
    'To + Pending In': { deliver: MUST, next: 'None + Pending In' },
    From: { deliver: MUST_NOT, next: NO_STATE_CHANGE },
    'From + Pending Out': { deliver: MUST, next: 'From' },
    Both: { deliver: MUST, next: 'From' },
  },
};

/**
 * RFC 6121 Appendix A.2: what the user's server does when the user sends a
 * subscription stanza of `type` to `contact` (a bare JID), given the user's
 * current record for the contact (null when there is none).
 */
export function outboundSubscription(
  item: RosterItem | null,
  type: SubscriptionType,
  contact: string,
  options: SubscriptionOptions = {},
): OutboundOutcome {
  const row = OUTBOUND[type][definedState(item)];
  let next = item;
  if (row.next === PRE_APPROVAL) {
    // §3.4.2: note the pre-approval, creating the item if necessary; without
    // pre-approval support the table's footnote leaves the state unchanged.
    if (options.preApproval !== false && item?.approved !== true) {
      next = itemInState(item ?? { jid: contact, groups: [] }, definedState(item), { approved: true });
    }
  } else if (row.next !== NO_STATE_CHANGE) {
    next = toState(item, contact, row.next);
  }
  if (type === 'unsubscribed' && next?.approved === true) {
    // §2.1.2.1: pre-approvals are managed with subscribed and unsubscribed, so this withdraws one.
    next = itemInState(next, definedState(next), { pendingInXml: next.pendingInXml, approved: false });
  }
  return { ...settle(item, next), forward: row.route };
}

/**
 * RFC 6121 Appendix A.3: what the user's server does when `contact` (a bare
 * JID) sends the user a subscription stanza of `type`, given the user's
 * current record for the contact (null when there is none).
 */
export function inboundSubscription(
  item: RosterItem | null,
  type: SubscriptionType,
  contact: string,
  options: InboundOptions = {},
): InboundOutcome {
  const row = INBOUND[type][definedState(item)];
  if (row.preApproved !== undefined && item?.approved === true && options.preApproval !== false) {
    // §3.1.3 and §3.4: a pre-approved request is approved on the user's
    // behalf instead of reaching the user; the pre-approval is used up.
    const next = toState(item, contact, row.preApproved);
    return { ...settle(item, next), deliverToUser: false, autoReply: 'subscribed' };
  }
  let next = item;
  if (row.next !== NO_STATE_CHANGE) {
    const entersPendingIn = stateFacts(row.next).pendingIn && item?.pendingIn !== true;
    next = toState(item, contact, row.next, entersPendingIn ? options.stanzaXml : item?.pendingInXml);
  }
  const outcome = settle(item, next);
  if (row.autoReply === undefined) return { ...outcome, deliverToUser: row.deliver };
  // §3.1.3 requires only the auto-reply; like Prosody we also send presence,
  // as the requester's server believes it has no subscription and will not probe.
  return { ...outcome, deliverToUser: row.deliver, autoReply: row.autoReply, sendPresence: true };
}

function toState(
  item: RosterItem | null,
  contact: string,
  state: DefinedState,
  pendingInXml = item?.pendingInXml,
): RosterItem {
  return itemInState(item ?? { jid: contact, groups: [] }, state, {
    pendingInXml,
    approved: item?.approved === true,
  });
}

function settle(before: RosterItem | null, after: RosterItem | null): SubscriptionOutcome {
  let item = after;
  // A.1: a record that only noted an inbound request goes once the request
  // is answered or withdrawn and nothing else is left in it.
  if (before !== null && !isRosterItem(before) && item !== null && isBareNone(item)) item = null;
  const fromBefore = before !== null && hasFrom(before.subscription);
  const fromAfter = item !== null && hasFrom(item.subscription);
  return {
    item,
    state: definedState(item),
    rosterPush: needsRosterPush(before, item),
    sendPresence: !fromBefore && fromAfter,
    sendUnavailable: fromBefore && !fromAfter,
  };
}

function isBareNone(item: RosterItem): boolean {
  return (
    definedState(item) === 'None' &&
    item.approved !== true &&
    item.name === undefined &&
    item.groups.length === 0
  );
}

/** Whether the user's presence goes to the contact: the contact is subscribed to the user (RFC 6121 §4.2.2, §4.4.2). */
export function shouldSendPresenceTo(item: RosterItem | null): boolean {
  return item !== null && hasFrom(item.subscription);
}

/**
 * Whether the user is subscribed to the contact's presence, so the user's
 * server probes the contact and accepts its presence (RFC 6121 §4.3.1).
 */
export function canReceivePresenceFrom(item: RosterItem | null): boolean {
  return item !== null && (item.subscription === 'to' || item.subscription === 'both');
}

export type ProbeResponse = 'send-presence' | 'unsubscribed';

/**
 * RFC 6121 §4.3.2, on a probe from a contact whose record in the user's
 * roster is `item`: without a subscription from the contact ("From",
 * "From + Pending Out" or "Both") the server SHOULD answer presence of type
 * unsubscribed; otherwise it answers with the user's presence (the last
 * presence of each available resource, or the last unavailable presence),
 * unless the user blocks the contact, which the caller checks first.
 */
export function probeResponse(item: RosterItem | null): ProbeResponse {
  return shouldSendPresenceTo(item) ? 'send-presence' : 'unsubscribed';
}
