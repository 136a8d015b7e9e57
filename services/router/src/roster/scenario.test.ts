import { describe, expect, it } from 'vitest';
import { TwoServers } from './test/two-servers.js';

const ROMEO = 'romeo@example.net';
const JULIET = 'juliet@example.com';
// RFC 6121 §3.1.3: Romeo's request as Juliet's server receives it.
const REQUEST = "<presence from='romeo@example.net' id='xk3h1v69' to='juliet@example.com' type='subscribe'/>";

describe('RFC 6121 §3.1–§3.3: Romeo and Juliet', () => {
  it('walks a subscription request, its approval, the mutual subscription and both cancellations', () => {
    const net = new TwoServers();

    // §3.1.1–§3.1.3: Romeo asks; his server pushes ask='subscribe' and routes; Juliet's server delivers.
    net.send(ROMEO, JULIET, 'subscribe', REQUEST);
    expect(net.take()).toEqual([
      {
        kind: 'push',
        user: ROMEO,
        item: { jid: JULIET, subscription: 'none', ask: 'subscribe', groups: [] },
      },
      { kind: 'deliver', user: JULIET, from: ROMEO, type: 'subscribe' },
    ]);
    // A.1: Juliet had no item for Romeo, so the request is noted but not in her roster.
    expect(net.record(JULIET, ROMEO)).toEqual({
      jid: ROMEO,
      subscription: 'none',
      pendingIn: true,
      pendingInXml: REQUEST,
      groups: [],
    });

    // §3.1.5–§3.1.6: Juliet approves; her server pushes 'from' and sends her presence;
    // Romeo's server delivers the approval and pushes 'to'.
    net.send(JULIET, ROMEO, 'subscribed');
    expect(net.take()).toEqual([
      { kind: 'push', user: JULIET, item: { jid: ROMEO, subscription: 'from', groups: [] } },
      { kind: 'presence', from: JULIET, to: ROMEO, available: true },
      { kind: 'push', user: ROMEO, item: { jid: JULIET, subscription: 'to', groups: [] } },
      { kind: 'deliver', user: ROMEO, from: JULIET, type: 'subscribed' },
    ]);

    // Juliet subscribes back; Romeo approves; both end in 'both'.
    net.send(JULIET, ROMEO, 'subscribe');
    net.send(ROMEO, JULIET, 'subscribed');
    expect(net.take()).toEqual([
      {
        kind: 'push',
        user: JULIET,
        item: { jid: ROMEO, subscription: 'from', ask: 'subscribe', groups: [] },
      },
      { kind: 'deliver', user: ROMEO, from: JULIET, type: 'subscribe' },
      { kind: 'push', user: ROMEO, item: { jid: JULIET, subscription: 'both', groups: [] } },
      { kind: 'presence', from: ROMEO, to: JULIET, available: true },
      { kind: 'push', user: JULIET, item: { jid: ROMEO, subscription: 'both', groups: [] } },
      { kind: 'deliver', user: JULIET, from: ROMEO, type: 'subscribed' },
    ]);

    // §3.3: Romeo unsubscribes from Juliet; her server sends her unavailable presence (§3.3.3).
    net.send(ROMEO, JULIET, 'unsubscribe');
    expect(net.take()).toEqual([
      { kind: 'push', user: ROMEO, item: { jid: JULIET, subscription: 'from', groups: [] } },
      { kind: 'push', user: JULIET, item: { jid: ROMEO, subscription: 'to', groups: [] } },
      { kind: 'deliver', user: JULIET, from: ROMEO, type: 'unsubscribe' },
      { kind: 'presence', from: JULIET, to: ROMEO, available: false },
    ]);

    // §3.2: Romeo cancels Juliet's subscription to him; his server sends his unavailable presence (§3.2.2).
    net.send(ROMEO, JULIET, 'unsubscribed');
    expect(net.take()).toEqual([
      { kind: 'push', user: ROMEO, item: { jid: JULIET, subscription: 'none', groups: [] } },
      { kind: 'presence', from: ROMEO, to: JULIET, available: false },
      { kind: 'push', user: JULIET, item: { jid: ROMEO, subscription: 'none', groups: [] } },
      { kind: 'deliver', user: JULIET, from: ROMEO, type: 'unsubscribed' },
    ]);
  });

  it('pre-approval: Juliet approves before Romeo asks, and her server answers his request for her', () => {
    const net = new TwoServers();

    // §3.4.2: not routed; the item is created with approved='true' and pushed.
    net.send(JULIET, ROMEO, 'subscribed');
    expect(net.take()).toEqual([
      { kind: 'push', user: JULIET, item: { jid: ROMEO, subscription: 'none', approved: true, groups: [] } },
    ]);

    net.send(ROMEO, JULIET, 'subscribe', REQUEST);
    expect(net.take()).toEqual([
      {
        kind: 'push',
        user: ROMEO,
        item: { jid: JULIET, subscription: 'none', ask: 'subscribe', groups: [] },
      },
      // Juliet's clients never see the request: her server approves it (§3.1.3).
      { kind: 'push', user: JULIET, item: { jid: ROMEO, subscription: 'from', groups: [] } },
      { kind: 'presence', from: JULIET, to: ROMEO, available: true },
      { kind: 'push', user: ROMEO, item: { jid: JULIET, subscription: 'to', groups: [] } },
      { kind: 'deliver', user: ROMEO, from: JULIET, type: 'subscribed' },
    ]);
  });

  it('removing a mutual contact sends unsubscribe and unsubscribed so Juliet keeps only an item with subscription none', () => {
    const net = new TwoServers();
    net.send(ROMEO, JULIET, 'subscribe');
    net.send(JULIET, ROMEO, 'subscribed');
    net.send(JULIET, ROMEO, 'subscribe');
    net.send(ROMEO, JULIET, 'subscribed');
    net.take();

    expect(net.remove(ROMEO, JULIET)).toBe(true);
    expect(net.take()).toEqual([
      { kind: 'push', user: ROMEO, item: { jid: JULIET, subscription: 'remove' } },
      { kind: 'presence', from: ROMEO, to: JULIET, available: false },
      { kind: 'push', user: JULIET, item: { jid: ROMEO, subscription: 'to', groups: [] } },
      { kind: 'deliver', user: JULIET, from: ROMEO, type: 'unsubscribe' },
      { kind: 'presence', from: JULIET, to: ROMEO, available: false },
      { kind: 'push', user: JULIET, item: { jid: ROMEO, subscription: 'none', groups: [] } },
      { kind: 'deliver', user: JULIET, from: ROMEO, type: 'unsubscribed' },
    ]);
    expect(net.record(ROMEO, JULIET)).toBeNull();
    expect(net.record(JULIET, ROMEO)).toEqual({ jid: ROMEO, subscription: 'none', groups: [] });
  });
});
