import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFINED_STATES, definedState, isValidItem, itemInState, type RosterItem } from './states.js';
import { inboundSubscription, outboundSubscription, type SubscriptionType } from './subscription.js';
import { TwoServers } from './test/two-servers.js';
import { visibleItem } from './view.js';

const CONTACT = 'juliet@example.com';
const TYPES: SubscriptionType[] = ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed'];

const record: fc.Arbitrary<RosterItem> = fc
  .record({
    state: fc.constantFrom(...DEFINED_STATES),
    name: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }),
    groups: fc.uniqueArray(fc.constantFrom('Friends', 'Family', 'Work')),
    approved: fc.boolean(),
    xml: fc.option(fc.constant("<presence from='juliet@example.com' type='subscribe'/>"), { nil: undefined }),
  })
  .map(({ state, name, groups, approved, xml }) =>
    itemInState({ jid: CONTACT, ...(name !== undefined && { name }), groups }, state, {
      approved,
      pendingInXml: xml,
    }),
  );

const step = fc.record({
  inbound: fc.boolean(),
  type: fc.constantFrom(...TYPES),
  preApproval: fc.boolean(),
});

function checkState(item: RosterItem): void {
  expect(isValidItem(item)).toBe(true);
  // Spelled out from RFC 6121 A.1: no defined state has these combinations.
  if (item.subscription === 'to' || item.subscription === 'both') expect(item.ask).toBeUndefined();
  if (item.subscription === 'from' || item.subscription === 'both') {
    expect(item.pendingIn).toBeUndefined();
    expect(item.approved).toBeUndefined();
  }
  for (const [key, value] of Object.entries(item)) expect(value, key).not.toBeUndefined();
}

describe('every transition', () => {
  it('yields a defined state, keeps the user data, and pushes exactly when the client view changes', () => {
    fc.assert(
      fc.property(fc.option(record, { nil: null }), fc.array(step, { maxLength: 12 }), (start, steps) => {
        let item = start;
        for (const { inbound, type, preApproval } of steps) {
          const outcome = inbound
            ? inboundSubscription(item, type, CONTACT, { preApproval, stanzaXml: '<presence/>' })
            : outboundSubscription(item, type, CONTACT, { preApproval });
          const after = outcome.item;
          if (after !== null) {
            checkState(after);
            expect(after.jid).toBe(CONTACT);
            if (item !== null) {
              expect(after.name).toBe(item.name);
              expect(after.groups).toEqual(item.groups);
            }
          }
          expect(outcome.state).toBe(definedState(after));
          expect(outcome.rosterPush).toBe(!isDeepStrictEqual(visibleItem(item), visibleItem(after)));
          expect(outcome.sendPresence && outcome.sendUnavailable).toBe(false);
          if (after?.approved === true && item?.approved !== true) {
            // Only the user's own subscribed sets a pre-approval (RFC 6121 §3.4.2).
            expect([inbound, type, preApproval]).toEqual([false, 'subscribed', true]);
          }
          if ('forward' in outcome && (type === 'subscribe' || type === 'unsubscribe')) {
            // A.2.1 and A.2.2: MUST route in every state.
            expect(outcome.forward).toBe(true);
          }
          item = after;
        }
      }),
      { numRuns: 500 },
    );
  });
});

const ROMEO = 'romeo@example.net';
const action = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('send' as const),
      romeo: fc.boolean(),
      type: fc.constantFrom(...TYPES),
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ kind: fc.constant('remove' as const), romeo: fc.boolean() }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      romeo: fc.boolean(),
      name: fc.constantFrom('A', 'B'),
    }),
    weight: 1,
  },
);

function facts(item: RosterItem | null): { to: boolean; from: boolean; out: boolean; in: boolean } {
  const subscription = item?.subscription ?? 'none';
  return {
    to: subscription === 'to' || subscription === 'both',
    from: subscription === 'from' || subscription === 'both',
    out: item?.ask === 'subscribe',
    in: item?.pendingIn === true,
  };
}

describe('two servers applying the tables to each other', () => {
  it('always agree: one side is subscribed to or asking the other exactly when the other sees it so', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(action, { maxLength: 24 }), (preApproval, actions) => {
        const net = new TwoServers({ preApproval });
        for (const a of actions) {
          const [user, contact] = a.romeo ? [ROMEO, CONTACT] : [CONTACT, ROMEO];
          if (a.kind === 'send') net.send(user, contact, a.type);
          else if (a.kind === 'remove') net.remove(user, contact);
          else net.rosterSet(user, contact, { name: a.name, groups: [] });
          const romeo = facts(net.record(ROMEO, CONTACT));
          const juliet = facts(net.record(CONTACT, ROMEO));
          expect(romeo.to).toBe(juliet.from);
          expect(romeo.from).toBe(juliet.to);
          expect(romeo.out).toBe(juliet.in);
          expect(romeo.in).toBe(juliet.out);
        }
      }),
      { numRuns: 500 },
    );
  });
});
