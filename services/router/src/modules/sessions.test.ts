import { afterEach, describe, expect, it } from 'vitest';
import { Harness, befriend } from '../test/harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

describe('sessions', () => {
  it('closes the old session with conflict when a new one binds the same full JID (RFC 6120 §7.7.2.2)', async () => {
    h = await Harness.start();
    await befriend(h.store, 'juliet@example.com', 'romeo@example.net');
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send('<presence/>');
    const old = await h.login('juliet@example.com/balcony', { edge: 'edge1', session: 'old' });
    await old.send('<presence/>');
    romeo.received();
    old.received();
    const fresh = await h.login('juliet@example.com/balcony', { edge: 'edge2', session: 'new' });
    expect(old.deliveries()).toEqual([
      expect.objectContaining({
        kind: 'close',
        condition: 'conflict',
        sessionId: 'old',
        to: 'juliet@example.com/balcony',
      }),
    ]);
    // Contacts saw the old session go.
    expect(romeo.received().map((el) => el.attrs['type'])).toEqual(['unavailable']);
    // The old session's late session-end does not remove the new one.
    await old.logout();
    const sessions = await h.registries[0]!.list('juliet@example.com');
    expect(sessions.map((s) => [s.sessionId, s.edgeId])).toEqual([['new', 'edge2']]);
    await romeo.send(
      "<message to='juliet@example.com/balcony' type='chat'><body>still there?</body></message>",
    );
    expect(fresh.received().map((el) => el.getChildText('body'))).toEqual(['still there?']);
  });

  it('ignores a redelivered session-start', async () => {
    h = await Harness.start();
    const juliet = await h.login('juliet@example.com/balcony', { session: 'one' });
    await juliet.send('<presence/>');
    await juliet.event('session-start');
    expect(juliet.deliveries().filter((d) => d.kind === 'close')).toEqual([]);
    expect((await h.registries[0]!.get('juliet@example.com', 'balcony'))?.available).toBe(true);
  });
});
