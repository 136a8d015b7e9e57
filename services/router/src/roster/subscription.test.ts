import { describe, expect, it } from 'vitest';
import { DEFINED_STATES, itemInState, type DefinedState, type RosterItem } from './states.js';
import {
  canReceivePresenceFrom,
  inboundSubscription,
  isSubscriptionType,
  outboundSubscription,
  probeResponse,
  shouldSendPresenceTo,
  type SubscriptionType,
} from './subscription.js';
import { visibleItem } from './view.js';
import {
  A_2_1_OUTBOUND_SUBSCRIBE,
  A_2_2_OUTBOUND_UNSUBSCRIBE,
  A_2_3_OUTBOUND_SUBSCRIBED,
  A_2_4_OUTBOUND_UNSUBSCRIBED,
  A_3_1_INBOUND_SUBSCRIBE,
  A_3_2_INBOUND_UNSUBSCRIBE,
  A_3_3_INBOUND_SUBSCRIBED,
  A_3_4_INBOUND_UNSUBSCRIBED,
  parseTable,
} from './test/rfc6121-tables.js';

const CONTACT = 'juliet@example.com';
// RFC 6121 §3.1.3: the subscribe as the contact's server delivers it, 'from' stamped with the bare JID.
const SUBSCRIBE_XML =
  "<presence from='romeo@example.net' id='xk3h1v69' to='juliet@example.com' type='subscribe'/>";

/** A record the user created (named, grouped), so it is always shown in the roster. */
function recordIn(state: DefinedState): RosterItem {
  return itemInState({ jid: CONTACT, name: 'Juliet', groups: ['Friends'] }, state, {
    approved: false,
    pendingInXml: SUBSCRIBE_XML,
  });
}

/** What a client sees of a state: the subscription and ask='subscribe' (RFC 6121 A.1). */
function shown(state: string): string {
  return `${state.split(' ')[0]!.toLowerCase()}${state.includes('Pending Out') ? '+ask' : ''}`;
}

function fromSubscribed(state: string): boolean {
  return state.startsWith('From') || state === 'Both';
}

const OUTBOUND_TABLES: [SubscriptionType, string, string][] = [
  ['subscribe', 'A.2.1', A_2_1_OUTBOUND_SUBSCRIBE],
  ['unsubscribe', 'A.2.2', A_2_2_OUTBOUND_UNSUBSCRIBE],
  ['subscribed', 'A.2.3', A_2_3_OUTBOUND_SUBSCRIBED],
  ['unsubscribed', 'A.2.4', A_2_4_OUTBOUND_UNSUBSCRIBED],
];

const INBOUND_TABLES: [SubscriptionType, string, string][] = [
  ['subscribe', 'A.3.1', A_3_1_INBOUND_SUBSCRIBE],
  ['unsubscribe', 'A.3.2', A_3_2_INBOUND_UNSUBSCRIBE],
  ['subscribed', 'A.3.3', A_3_3_INBOUND_SUBSCRIBED],
  ['unsubscribed', 'A.3.4', A_3_4_INBOUND_UNSUBSCRIBED],
];

describe.each(OUTBOUND_TABLES)('outbound %s (RFC 6121 %s)', (type, _section, table) => {
  const rows = parseTable(table);

  it('has one row for each of the nine defined states', () => {
    expect(rows.map((row) => row.existing).sort()).toEqual([...DEFINED_STATES].sort());
  });

  it.each(rows)('in $existing routes: $must, new state: $next', (row) => {
    const existing = row.existing as DefinedState;
    const outcome = outboundSubscription(recordIn(existing), type, CONTACT);
    expect(outcome.forward).toBe(row.must);
    if (row.next === 'pre-approval') {
      expect(outcome.state).toBe(existing);
      expect(outcome.item?.approved).toBe(true);
      expect(outcome.rosterPush).toBe(true);
      return;
    }
    const expected = row.next === 'no state change' ? existing : row.next;
    expect(outcome.state).toBe(expected);
    expect(outcome.rosterPush).toBe(shown(existing) !== shown(expected));
    expect(outcome.sendPresence).toBe(!fromSubscribed(existing) && fromSubscribed(expected));
    expect(outcome.sendUnavailable).toBe(fromSubscribed(existing) && !fromSubscribed(expected));
    expect(outcome.item).toMatchObject({ jid: CONTACT, name: 'Juliet', groups: ['Friends'] });
  });
});

describe.each(INBOUND_TABLES)('inbound %s (RFC 6121 %s)', (type, _section, table) => {
  const rows = parseTable(table);

  it('has one row for each of the nine defined states', () => {
    expect(rows.map((row) => row.existing).sort()).toEqual([...DEFINED_STATES].sort());
  });

  it.each(rows)('in $existing delivers: $must, new state: $next', (row) => {
    const existing = row.existing as DefinedState;
    const outcome = inboundSubscription(recordIn(existing), type, CONTACT, { stanzaXml: SUBSCRIBE_XML });
    const expected = row.next === 'no state change' ? existing : row.next;
    expect(outcome.deliverToUser).toBe(row.must);
    expect(outcome.state).toBe(expected);
    expect(outcome.rosterPush).toBe(shown(existing) !== shown(expected));
    expect(outcome.sendUnavailable).toBe(fromSubscribed(existing) && !fromSubscribed(expected));
    // Footnote [2] of A.3.1 and §3.1.3: the contact is already subscribed, so the server answers for the user.
    const autoReplies = row.footnotes.includes('2');
    expect(outcome.autoReply).toBe(autoReplies ? 'subscribed' : undefined);
    expect(outcome.sendPresence).toBe(autoReplies);
    expect(outcome.item).toMatchObject({ jid: CONTACT, name: 'Juliet', groups: ['Friends'] });
  });
});

describe('no roster item for the contact', () => {
  it('outbound subscribe creates an item with ask=subscribe and pushes it (RFC 6121 §3.1.2)', () => {
    const outcome = outboundSubscription(null, 'subscribe', CONTACT);
    expect(outcome).toMatchObject({ state: 'None + Pending Out', forward: true, rosterPush: true });
    expect(visibleItem(outcome.item)).toEqual({
      jid: CONTACT,
      subscription: 'none',
      ask: 'subscribe',
      groups: [],
    });
  });

  it('outbound unsubscribe and unsubscribe inbound change nothing', () => {
    expect(outboundSubscription(null, 'unsubscribe', CONTACT)).toMatchObject({
      item: null,
      forward: true,
      rosterPush: false,
    });
    expect(inboundSubscription(null, 'unsubscribe', CONTACT)).toMatchObject({
      item: null,
      deliverToUser: false,
    });
  });

  it('outbound unsubscribed is not routed and inbound subscribed and unsubscribed are not delivered', () => {
    expect(outboundSubscription(null, 'unsubscribed', CONTACT)).toMatchObject({ item: null, forward: false });
    expect(inboundSubscription(null, 'subscribed', CONTACT)).toMatchObject({
      item: null,
      deliverToUser: false,
    });
    expect(inboundSubscription(null, 'unsubscribed', CONTACT)).toMatchObject({
      item: null,
      deliverToUser: false,
    });
  });

  it('inbound subscribe notes the request and its stanza without adding a roster item (RFC 6121 A.1)', () => {
    const outcome = inboundSubscription(null, 'subscribe', 'romeo@example.net', { stanzaXml: SUBSCRIBE_XML });
    expect(outcome).toMatchObject({ state: 'None + Pending In', deliverToUser: true, rosterPush: false });
    expect(outcome.item).toEqual({
      jid: 'romeo@example.net',
      subscription: 'none',
      pendingIn: true,
      pendingInXml: SUBSCRIBE_XML,
      groups: [],
    });
    expect(visibleItem(outcome.item)).toBeNull();
  });

  it('denying a noted request drops the note', () => {
    const noted = inboundSubscription(null, 'subscribe', 'romeo@example.net', {
      stanzaXml: SUBSCRIBE_XML,
    }).item;
    expect(outboundSubscription(noted, 'unsubscribed', 'romeo@example.net')).toMatchObject({
      item: null,
      state: 'None',
      forward: true,
      rosterPush: false,
    });
  });

  it('a withdrawn request drops the note and is delivered so clients stop showing it', () => {
    const noted = inboundSubscription(null, 'subscribe', 'romeo@example.net').item;
    expect(inboundSubscription(noted, 'unsubscribe', 'romeo@example.net')).toMatchObject({
      item: null,
      deliverToUser: true,
      rosterPush: false,
    });
  });

  it('approving a noted request adds the roster item with subscription from and drops the stored stanza', () => {
    const noted = inboundSubscription(null, 'subscribe', 'romeo@example.net', {
      stanzaXml: SUBSCRIBE_XML,
    }).item;
    const outcome = outboundSubscription(noted, 'subscribed', 'romeo@example.net');
    expect(outcome).toMatchObject({ forward: true, rosterPush: true, sendPresence: true });
    expect(outcome.item).toEqual({ jid: 'romeo@example.net', subscription: 'from', groups: [] });
  });

  it('subscribing back to a noted requester shows the item with ask=subscribe and keeps the request', () => {
    const noted = inboundSubscription(null, 'subscribe', 'romeo@example.net', {
      stanzaXml: SUBSCRIBE_XML,
    }).item;
    const outcome = outboundSubscription(noted, 'subscribe', 'romeo@example.net');
    expect(outcome).toMatchObject({ state: 'None + Pending Out+In', rosterPush: true });
    expect(outcome.item?.pendingInXml).toBe(SUBSCRIBE_XML);
  });
});

describe('pending inbound requests', () => {
  it('keeps the first stored request when the contact repeats it', () => {
    const first = inboundSubscription(null, 'subscribe', 'romeo@example.net', { stanzaXml: SUBSCRIBE_XML });
    const again = inboundSubscription(first.item, 'subscribe', 'romeo@example.net', {
      stanzaXml: "<presence from='romeo@example.net' type='subscribe'/>",
    });
    expect(again).toMatchObject({ deliverToUser: false, rosterPush: false });
    expect(again.item?.pendingInXml).toBe(SUBSCRIBE_XML);
  });

  it('hides the pending state from the roster item a user created', () => {
    const item: RosterItem = { jid: CONTACT, name: 'Juliet', subscription: 'to', groups: ['Friends'] };
    const outcome = inboundSubscription(item, 'subscribe', CONTACT, { stanzaXml: SUBSCRIBE_XML });
    expect(outcome).toMatchObject({ state: 'To + Pending In', rosterPush: false, deliverToUser: true });
    expect(visibleItem(outcome.item)).toEqual({
      jid: CONTACT,
      name: 'Juliet',
      subscription: 'to',
      groups: ['Friends'],
    });
  });
});

describe('pre-approval (RFC 6121 §3.4)', () => {
  it('notes a subscribed sent before any request as a pre-approval, creating the item and pushing it', () => {
    const outcome = outboundSubscription(null, 'subscribed', CONTACT);
    expect(outcome).toMatchObject({ forward: false, rosterPush: true, sendPresence: false, state: 'None' });
    expect(outcome.item).toEqual({ jid: CONTACT, subscription: 'none', approved: true, groups: [] });
    expect(visibleItem(outcome.item)).toEqual({
      jid: CONTACT,
      subscription: 'none',
      approved: true,
      groups: [],
    });
  });

  it('approves the later request on the user behalf: auto-reply subscribed, state From, presence sent', () => {
    const preApproved = outboundSubscription(null, 'subscribed', 'romeo@example.net').item;
    const outcome = inboundSubscription(preApproved, 'subscribe', 'romeo@example.net', {
      stanzaXml: SUBSCRIBE_XML,
    });
    expect(outcome).toMatchObject({
      state: 'From',
      deliverToUser: false,
      autoReply: 'subscribed',
      rosterPush: true,
      sendPresence: true,
    });
    expect(outcome.item).toEqual({ jid: 'romeo@example.net', subscription: 'from', groups: [] });
  });

  it.each([
    ['None + Pending Out', 'From + Pending Out'],
    ['To', 'Both'],
  ] as const)('in "%s" a pre-approved request leads to "%s"', (existing, expected) => {
    const preApproved = outboundSubscription(recordIn(existing), 'subscribed', CONTACT);
    expect(preApproved).toMatchObject({ forward: false, rosterPush: true, state: existing });
    const outcome = inboundSubscription(preApproved.item, 'subscribe', CONTACT);
    expect(outcome).toMatchObject({ state: expected, autoReply: 'subscribed', deliverToUser: false });
    expect(outcome.item?.approved).toBeUndefined();
  });

  it('a second subscribed while pre-approved changes nothing', () => {
    const preApproved = outboundSubscription(null, 'subscribed', CONTACT).item;
    expect(outboundSubscription(preApproved, 'subscribed', CONTACT)).toMatchObject({
      item: preApproved,
      forward: false,
      rosterPush: false,
    });
  });

  it('unsubscribed withdraws a pre-approval without routing it (RFC 6121 §2.1.2.1)', () => {
    const preApproved = outboundSubscription(recordIn('To'), 'subscribed', CONTACT).item;
    const outcome = outboundSubscription(preApproved, 'unsubscribed', CONTACT);
    expect(outcome).toMatchObject({ state: 'To', forward: false, rosterPush: true });
    expect(outcome.item?.approved).toBeUndefined();
    const request = inboundSubscription(outcome.item, 'subscribe', CONTACT);
    expect(request).toMatchObject({ state: 'To + Pending In', deliverToUser: true });
    expect(request.autoReply).toBeUndefined();
  });

  it('survives the user own subscription changing', () => {
    const preApproved = outboundSubscription(null, 'subscribed', CONTACT).item;
    const asked = outboundSubscription(preApproved, 'subscribe', CONTACT).item;
    const accepted = inboundSubscription(asked, 'subscribed', CONTACT).item;
    expect(accepted).toEqual({ jid: CONTACT, subscription: 'to', approved: true, groups: [] });
  });

  it('without server support a subscribed with no pending request changes nothing', () => {
    expect(outboundSubscription(null, 'subscribed', CONTACT, { preApproval: false })).toMatchObject({
      item: null,
      forward: false,
      rosterPush: false,
    });
    const stored: RosterItem = { jid: CONTACT, subscription: 'none', approved: true, groups: [] };
    expect(inboundSubscription(stored, 'subscribe', CONTACT, { preApproval: false })).toMatchObject({
      state: 'None + Pending In',
      deliverToUser: true,
    });
  });
});

describe('presence rules', () => {
  const shares: DefinedState[] = ['From', 'From + Pending Out', 'Both'];
  const receives: DefinedState[] = ['To', 'To + Pending In', 'Both'];

  it.each(DEFINED_STATES)(
    'in "%s" the user presence goes to the contact only with a subscription from it',
    (state) => {
      expect(shouldSendPresenceTo(recordIn(state))).toBe(shares.includes(state));
      expect(probeResponse(recordIn(state))).toBe(shares.includes(state) ? 'send-presence' : 'unsubscribed');
    },
  );

  it.each(DEFINED_STATES)(
    'in "%s" the user receives the contact presence only with a subscription to it',
    (state) => {
      expect(canReceivePresenceFrom(recordIn(state))).toBe(receives.includes(state));
    },
  );

  it('answers a probe from an entity not in the roster with unsubscribed (RFC 6121 §4.3.2)', () => {
    expect(probeResponse(null)).toBe('unsubscribed');
    expect(shouldSendPresenceTo(null)).toBe(false);
    expect(canReceivePresenceFrom(null)).toBe(false);
  });

  it('recognises the four subscription types and nothing else', () => {
    expect(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed'].every(isSubscriptionType)).toBe(true);
    expect(['', 'probe', 'unavailable', 'error', 'Subscribe'].some(isSubscriptionType)).toBe(false);
  });
});
