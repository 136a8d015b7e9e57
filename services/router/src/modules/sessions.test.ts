import { afterEach, describe, expect, it } from 'vitest';
import { Client, Harness, befriend } from '../test/harness.js';

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

  it('moves a session resumed on another edge (XEP-0198 §5): state kept, old edge told, contacts see nothing', async () => {
    h = await Harness.start();
    await befriend(h.store, 'juliet@example.com', 'romeo@example.net');
    const romeo = await h.login('romeo@example.net/orchard');
    await romeo.send('<presence/>');
    const phone = await h.login('juliet@example.com/phone', { edge: 'edge1', session: 'sm-1' });
    await phone.send('<presence><show>away</show></presence>');
    romeo.received();
    phone.received();
    // The edge the client resumed on announces the same session id.
    const resumed = new Client(h, 'juliet@example.com/phone', 'edge2', 'sm-1');
    await resumed.event('session-start');
    expect(phone.deliveries()).toEqual([
      expect.objectContaining({
        kind: 'moved',
        sessionId: 'sm-1',
        edgeId: 'edge2',
        to: 'juliet@example.com/phone',
      }),
    ]);
    const record = await h.registries[0]!.get('juliet@example.com', 'phone');
    expect(record).toMatchObject({ edgeId: 'edge2', sessionId: 'sm-1', available: true });
    expect(romeo.received()).toEqual([]);
    await romeo.send(
      "<message to='juliet@example.com/phone' type='chat'><body>where are you?</body></message>",
    );
    expect(
      h.take((d) => d.kind === 'stanza' && d.sessionId === 'sm-1').map((d) => d.kind === 'stanza' && d.xml),
    ).toEqual([expect.stringContaining('where are you?')]);
  });

  it('records what the holding edge says about a session: detached, resumed, inactive, active (for XEP-0357)', async () => {
    h = await Harness.start();
    const phone = await h.login('juliet@example.com/phone', { edge: 'edge1', session: 'sm-2' });
    const state = async (client: Client, type: string): Promise<void> => {
      await h.publish({
        v: 1,
        id: h.nextId(),
        kind: 'session-state',
        edgeId: client.edgeId,
        sessionId: client.sessionId,
        from: client.jid,
        to: '',
        type,
        stanzaId: '',
        xml: '',
        ts: Date.now(),
      });
      await h.settle();
    };
    const record = () => h.registries[0]!.get('juliet@example.com', 'phone');
    await state(phone, 'inactive');
    expect(await record()).toMatchObject({ inactive: true });
    await state(phone, 'detached');
    expect(await record()).toMatchObject({ detached: true, inactive: true });
    // Another edge cannot speak for the session.
    await state(new Client(h, 'juliet@example.com/phone', 'edge9', 'sm-2'), 'resumed');
    expect(await record()).toMatchObject({ detached: true });
    await state(phone, 'resumed');
    expect(await record()).toMatchObject({ detached: false, inactive: false });
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
