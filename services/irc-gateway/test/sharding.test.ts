// Connection ownership sharded across two gateway replicas on a real Redis (bus, memberships,
// replica heartbeats) against a real ngircd: each user's IRC connection lives on the replica that
// owns them, stanzas reaching the other replica are forwarded, and a replica that leaves hands
// its users over to the survivor, which rejoins their channels.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { xml, type Element } from '@switchboard/xml';
import { ownerOf } from '../src/cluster/ownership.js';
import { DOMAIN, ShardingHarness, selfPresence } from './sharding-harness.js';

const ROOM = `#shard%127.0.0.1@${DOMAIN}`;
const REPLICAS = ['replica-a', 'replica-b'];

/** The first user JIDs the rendezvous hash gives to each replica. */
function usersOwnedBy(replica: string): string {
  for (let i = 0; ; i++) {
    const user = `user${i}@localhost`;
    if (ownerOf(user, REPLICAS) === replica) return user;
  }
}

describe('IRC connection ownership sharded across replicas', () => {
  const h = new ShardingHarness('irc-sharding', '#shard');
  const { apps } = h;
  const alice = usersOwnedBy('replica-a');
  const bob = usersOwnedBy('replica-b');

  /** Resolves once every running replica sees exactly `ids` alive. */
  function converged(ids: string[]): Promise<void> {
    const want = [...ids].sort().join(',');
    return Promise.all(
      [...apps.values()]
        .filter(({ replicas }) => ids.includes(replicas.self))
        .map(
          ({ replicas }) =>
            new Promise<void>((resolve) => {
              if (replicas.live().join(',') === want) return resolve();
              replicas.onChange((live) => {
                if (live.join(',') === want) resolve();
              });
            }),
        ),
    ).then(() => undefined);
  }

  /** A stanza as the router puts it on `svc:{irc.localhost}`. */
  async function fromUser(from: string, stanza: Element): Promise<void> {
    stanza.attrs['from'] = from;
    await h.publish(stanza);
  }

  beforeAll(async () => {
    await h.start();
    await Promise.all(REPLICAS.map((id) => h.startReplica(id, { heartbeatMs: 150 })));
    await converged(REPLICAS);
  }, 60_000);

  afterAll(() => h.stop());

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(h.logs.slice(-60).join(''));
  });

  it('connects each user from the replica that owns them, whichever replica read the stanza', async () => {
    await fromUser(
      `${alice}/r`,
      xml('presence', { to: `${ROOM}/alice` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })),
    );
    await fromUser(
      `${bob}/r`,
      xml('presence', { to: `${ROOM}/bob` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })),
    );
    await Promise.all([h.next(selfPresence(alice)), h.next(selfPresence(bob))]);
    await h.romeo.next('join', (e) => e.nick === 'alice');
    await h.romeo.next('join', (e) => e.nick === 'bob');
    expect(apps.get('replica-a')!.app.gateway.sessionCount).toBe(1);
    expect(apps.get('replica-b')!.app.gateway.sessionCount).toBe(1);
  });

  it('hands a leaving replica’s users to the survivor, which rejoins and tells them', async () => {
    const b = apps.get('replica-b')!;
    await b.app.stop();
    await b.bus.close();
    apps.delete('replica-b');
    await h.romeo.next('quit', (e) => e.nick === 'bob');
    await converged(['replica-a']);
    await h.romeo.next('join', (e) => e.nick === 'bob', 20_000);
    await h.next(selfPresence(bob));
    const notice = await h.next(
      (el) =>
        el.name === 'message' &&
        el.attrs['to'] === `${bob}/r` &&
        /another gateway replica/.test(el.getChildText('body') ?? ''),
    );
    expect(notice.attrs['from']).toBe(ROOM);
    expect(apps.get('replica-a')!.app.gateway.sessionCount).toBe(2);
  });
});
