import { describe, expect, it } from 'vitest';
import { applyRosterSet, rosterRemove } from './roster-set.js';
import { itemInState, type DefinedState, type RosterItem } from './states.js';
import { inboundSubscription } from './subscription.js';
import { isRosterItem, needsRosterPush, visibleItem } from './view.js';

const CONTACT = 'nurse@example.com';

function named(state: DefinedState): RosterItem {
  return itemInState({ jid: CONTACT, name: 'Nurse', groups: ['Servants'] }, state, { approved: false });
}

describe('roster set (RFC 6121 §2.4)', () => {
  it('adds a new contact with subscription none', () => {
    // RFC 6121 §2.4.1: <item jid='nurse@example.com' name='Nurse'><group>Servants</group></item>
    expect(applyRosterSet(null, CONTACT, { name: 'Nurse', groups: ['Servants'] })).toEqual({
      jid: CONTACT,
      name: 'Nurse',
      subscription: 'none',
      groups: ['Servants'],
    });
  });

  it('changes name and groups but keeps the subscription state, the pending request and the pre-approval', () => {
    const item: RosterItem = {
      jid: CONTACT,
      name: 'Nurse',
      subscription: 'to',
      pendingIn: true,
      pendingInXml: "<presence from='nurse@example.com' type='subscribe'/>",
      groups: ['Servants'],
    };
    expect(applyRosterSet(item, CONTACT, { groups: ['Friends', 'Servants'] })).toEqual({
      jid: CONTACT,
      subscription: 'to',
      pendingIn: true,
      pendingInXml: "<presence from='nurse@example.com' type='subscribe'/>",
      groups: ['Friends', 'Servants'],
    });
    const preApproved: RosterItem = {
      jid: CONTACT,
      subscription: 'none',
      ask: 'subscribe',
      approved: true,
      groups: [],
    };
    expect(applyRosterSet(preApproved, CONTACT, { name: 'N', groups: [] })).toEqual({
      ...preApproved,
      name: 'N',
    });
  });

  it('turns a noted inbound request into a roster item once the user names it', () => {
    const noted = inboundSubscription(null, 'subscribe', CONTACT).item;
    expect(isRosterItem(noted)).toBe(false);
    const added = applyRosterSet(noted, CONTACT, { name: 'Nurse', groups: [] });
    expect(isRosterItem(added)).toBe(true);
    expect(added.pendingIn).toBe(true);
  });
});

describe('roster remove (RFC 6121 §2.5)', () => {
  it.each([
    ['Both', ['unsubscribe', 'unsubscribed'], true],
    ['To', ['unsubscribe'], false],
    ['To + Pending In', ['unsubscribe', 'unsubscribed'], false],
    ['From', ['unsubscribed'], true],
    ['From + Pending Out', ['unsubscribe', 'unsubscribed'], true],
    ['None + Pending Out', ['unsubscribe'], false],
    ['None + Pending In', ['unsubscribed'], false],
    ['None + Pending Out+In', ['unsubscribe', 'unsubscribed'], false],
    ['None', [], false],
  ] as const)('in "%s" sends %j to the contact (unavailable presence: %s)', (state, send, unavailable) => {
    expect(rosterRemove(named(state))).toEqual({ send, sendUnavailable: unavailable });
  });

  it('finds nothing to remove when there is no roster item (item-not-found, RFC 6121 §2.5.3)', () => {
    expect(rosterRemove(null)).toBeNull();
    expect(rosterRemove(inboundSubscription(null, 'subscribe', CONTACT).item)).toBeNull();
  });
});

describe('the client view of a record (RFC 6121 §2.1.2)', () => {
  it('shows subscription and ask but never the pending inbound request or its stanza', () => {
    const item: RosterItem = {
      jid: CONTACT,
      name: 'Nurse',
      subscription: 'none',
      ask: 'subscribe',
      pendingIn: true,
      pendingInXml: "<presence from='nurse@example.com' type='subscribe'/>",
      groups: ['Servants'],
    };
    expect(visibleItem(item)).toEqual({
      jid: CONTACT,
      name: 'Nurse',
      subscription: 'none',
      ask: 'subscribe',
      groups: ['Servants'],
    });
  });

  it('shows approved only when true', () => {
    expect(visibleItem({ jid: CONTACT, subscription: 'to', approved: true, groups: [] })).toEqual({
      jid: CONTACT,
      subscription: 'to',
      approved: true,
      groups: [],
    });
    expect(visibleItem({ jid: CONTACT, subscription: 'to', groups: [] })).not.toHaveProperty('approved');
  });

  it('does not show a record that only notes an inbound request, but does show a user-made item in that state', () => {
    expect(visibleItem({ jid: CONTACT, subscription: 'none', pendingIn: true, groups: [] })).toBeNull();
    expect(visibleItem(named('None + Pending In'))).toEqual({
      jid: CONTACT,
      name: 'Nurse',
      subscription: 'none',
      groups: ['Servants'],
    });
  });

  it('needs a push when what the client sees changes, and only then', () => {
    const to = named('To');
    expect(needsRosterPush(to, named('To + Pending In'))).toBe(false);
    expect(needsRosterPush(to, named('Both'))).toBe(true);
    expect(needsRosterPush(to, { ...to, groups: ['Other'] })).toBe(true);
    expect(needsRosterPush(null, null)).toBe(false);
    expect(needsRosterPush(to, null)).toBe(true);
  });
});
