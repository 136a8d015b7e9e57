import { xml } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '@switchboard/protocol';
import { cluster, type ClusterDeployment, type Session } from './deployments.js';
import { barrier, befriend, isPresence, online, scenarioSuite } from './scenarios.js';

// Edge and router processes (dist/main.js) on a private redis-server: every scenario crosses
// edges and partitions, then routers and edges die under load.
scenarioSuite('cluster (2 edges, 2 routers, Redis)', () => cluster({ edges: 2, routers: 2 }));

function reportOnFailure(get: () => ClusterDeployment | undefined): void {
  afterEach((ctx) => {
    const d = get();
    if (ctx.task.result?.state === 'fail' && d !== undefined) process.stderr.write(`${d.diagnostics()}\n`);
  });
}

describe('cluster: a router dies mid-stream', () => {
  let d: ClusterDeployment | undefined;
  beforeAll(async () => {
    d = await cluster({ edges: 2, routers: 2, leaseTtlMs: 1500 });
  }, 90_000);
  afterAll(async () => {
    await d?.stop();
  });
  reportOnFailure(() => d);

  it('delivers 1,000 numbered messages exactly once and in order per sender→recipient pair across a SIGKILLed router (ARCHITECTURE.md, "Delivery guarantees")', async () => {
    const c = d!;
    const doomed = new Set(c.partitionsOf(1));
    const onDoomed = (user: string): boolean => doomed.has(partitionOf(`${user}@${c.domain}`, c.partitions));
    // Sender and recipient on each side of the router that dies, in every combination.
    const wanted: [boolean, boolean][] = [
      [true, false],
      [false, true],
      [true, true],
      [false, false],
    ];
    const pairs: { sender: string; recipient: string }[] = [];
    const used = new Set<number>();
    let n = 0;
    const pick = (prefix: string, doomedSide: boolean): string => {
      // Bounded: a synchronous loop that never ends would hang the test worker past any timeout.
      while (n < 100_000) {
        const user = `${prefix}${++n}`;
        const p = partitionOf(`${user}@${c.domain}`, c.partitions);
        if (onDoomed(user) === doomedSide && !used.has(p)) {
          used.add(p);
          return user;
        }
      }
      throw new Error(
        `no free partition ${doomedSide ? 'on' : 'off'} router 1 (it holds ${[...doomed].join(',')})`,
      );
    };
    for (const [s, r] of wanted) pairs.push({ sender: pick('sender', s), recipient: pick('recipient', r) });
    for (const { sender, recipient } of pairs) {
      await c.createAccount(sender, `${sender}-secret`);
      await c.createAccount(recipient, `${recipient}-secret`);
    }
    const sessions = await Promise.all(
      pairs.map(async ({ sender, recipient }, i) => ({
        sender: await c.connect(sender, 'out', { edge: i % 2 }),
        recipient: await online(c, recipient, 'in', [], { edge: (i + 1) % 2 }),
      })),
    );

    const PER_PAIR = 250;
    let sent = 0;
    let killed: Promise<void> | undefined;
    let inFlightAtKill = 0;
    for (let k = 0; k < PER_PAIR; k++) {
      for (const { sender, recipient } of sessions) {
        await sender.send(
          xml('message', { to: recipient.bare, type: 'chat', id: `m${k}` }, xml('body', {}, String(k))),
        );
        // A quarter of the way in, with hundreds of messages in flight, the router dies.
        if (++sent === 250) {
          const delivered = sessions.reduce(
            (sum, p) => sum + p.recipient.inbox.history.filter((m) => m.is('message')).length,
            0,
          );
          inFlightAtKill = sent - delivered;
          killed = c.killRouter(1);
        }
      }
    }
    await killed;

    const numbered = (from: Session) => (s: Element) =>
      s.is('message') && s.attrs.from === from.jid && s.getChildText('body') !== 'end';
    await Promise.all(
      sessions.map(async ({ sender, recipient }) => {
        await recipient.inbox.collect(numbered(sender), PER_PAIR, `messages from ${sender.jid}`, 30_000);
        // A fence behind the last: a duplicate redelivered late would show up before it.
        await sender.send(
          xml('message', { to: recipient.bare, type: 'chat', id: 'end' }, xml('body', {}, 'end')),
        );
        await recipient.inbox.next((s) => s.is('message') && s.attrs.id === 'end', 'the end marker', 15_000);
      }),
    );
    const expected = Array.from({ length: PER_PAIR }, (_, k) => String(k));
    for (const { sender, recipient } of sessions) {
      const bodies = recipient.inbox.history.filter(numbered(sender)).map((s) => s.getChildText('body'));
      expect(bodies, `${sender.jid} → ${recipient.bare}`).toEqual(expected);
    }
    // The kill did land mid-stream: messages sent but not yet delivered were in the routers' hands.
    expect(inFlightAtKill).toBeGreaterThan(0);
    // The survivor took over every partition.
    expect(new Set(c.partitionsOf(0)).size).toBe(c.partitions);
  }, 60_000);
});

describe('cluster: an edge dies', () => {
  let d: ClusterDeployment | undefined;
  beforeAll(async () => {
    d = await cluster({ edges: 2, routers: 2, edgeTimeoutMs: 3000 });
  }, 90_000);
  afterAll(async () => {
    await d?.stop();
  });
  reportOnFailure(() => d);

  it("ends the dead edge's sessions with unavailable presence and moves what was queued for them to offline storage (RFC 6121 §4.5.2, §8.5.3.2.1)", async () => {
    const c = d!;
    await c.createAccount('romeo', 'romeo-secret');
    await c.createAccount('juliet', 'juliet-secret');
    const romeo = await online(c, 'romeo', 'orchard', [], { edge: 0 });
    const juliet = await online(c, 'juliet', 'balcony', [], { edge: 1 });
    await befriend(romeo, juliet);

    await c.killEdge(0);
    const killedAt = Date.now();
    // The router still holds romeo's session: these wait in the dead edge's delivery stream.
    for (let i = 1; i <= 3; i++) {
      await juliet.send(
        xml('message', { to: romeo.jid, type: 'chat', id: `queued-${i}` }, xml('body', {}, `queued ${i}`)),
      );
    }
    // The janitor notices after edgeTimeoutMs (3 s) plus at most a sweep interval and a heartbeat.
    await juliet.inbox.next(isPresence(romeo.jid, 'unavailable'), 'unavailable from the janitor', 8000);
    expect(Date.now() - killedAt).toBeLessThan(8000);

    for (let i = 1; i <= 3; i++) {
      await juliet.send(
        xml('message', { to: romeo.bare, type: 'chat', id: `after-${i}` }, xml('body', {}, `after ${i}`)),
      );
    }
    await barrier(juliet, romeo.bare);

    const back = await c.connect('romeo', 'orchard', { edge: 1 });
    await back.send(xml('presence'));
    const got = await back.inbox.collect(
      (s) => s.is('message') && s.attrs.from === juliet.jid,
      6,
      'the stored messages',
    );
    expect(got.map((m) => String(m.attrs.id))).toEqual([
      'queued-1',
      'queued-2',
      'queued-3',
      'after-1',
      'after-2',
      'after-3',
    ]);
    for (const m of got) expect(m.getChild('delay', 'urn:xmpp:delay')?.attrs.from).toBe(c.domain);
    expect(back.inbox.history.filter((s) => s.is('message') && s.attrs.from === juliet.jid)).toHaveLength(6);
  }, 40_000);
});
