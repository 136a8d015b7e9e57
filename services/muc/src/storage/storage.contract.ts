import { describe, expect, it } from 'vitest';
import type { ArchivedMessage, MucStorage, RoomRecord } from './storage.js';

const ROOM = 'coven@chat.shakespeare.lit';

function room(jid: string, persistent = true): RoomRecord {
  return {
    jid,
    config: {
      name: 'The Coven',
      description: '',
      persistent,
      public: true,
      membersOnly: false,
      moderated: false,
      password: '',
      whois: 'moderators',
      changeSubject: false,
      allowInvites: false,
      allowPm: 'anyone',
      maxUsers: 0,
      logging: false,
      language: 'en',
    },
    affiliations: { 'crone1@shakespeare.lit': 'owner' },
    subject: { text: 'Fire Burn and Cauldron Bubble!', nick: 'secondwitch', ts: 1 },
    createdAt: 1,
  };
}

function message(n: number, nick = 'thirdwitch'): ArchivedMessage {
  return {
    id: `id-${n}`,
    ts: 1000 * n,
    nick,
    realJid: `${nick}@shakespeare.lit`,
    xml: `<message from='${ROOM}/${nick}' type='groupchat'><body>${n}</body></message>`,
  };
}

/** One suite, both drivers (ARCHITECTURE.md, "Embedded mode"). */
export function mucStorageContract(name: string, open: () => Promise<MucStorage>): void {
  describe(`muc storage contract: ${name}`, () => {
    it('stores, lists, replaces and deletes room records', async () => {
      const store = await open();
      expect(await store.getRoom(ROOM)).toBeNull();
      await store.putRoom(room(ROOM));
      await store.putRoom(room('darkcave@chat.shakespeare.lit'));
      expect(await store.getRoom(ROOM)).toEqual(room(ROOM));
      await store.putRoom({ ...room(ROOM), subject: null });
      expect((await store.getRoom(ROOM))?.subject).toBeNull();
      expect((await store.listRooms()).map((r) => r.jid)).toEqual([ROOM, 'darkcave@chat.shakespeare.lit']);
      await store.deleteRoom(ROOM);
      expect(await store.getRoom(ROOM)).toBeNull();
      expect((await store.listRooms()).map((r) => r.jid)).toEqual(['darkcave@chat.shakespeare.lit']);
    });

    it('archives each id once and pages forward with after', async () => {
      const store = await open();
      for (let n = 1; n <= 5; n++) await store.appendMessage(ROOM, message(n));
      await store.appendMessage(ROOM, message(3));
      const first = await store.queryArchive(ROOM, { max: 2 });
      expect(first.messages.map((m) => m.id)).toEqual(['id-1', 'id-2']);
      expect(first.complete).toBe(false);
      const next = await store.queryArchive(ROOM, { max: 10, after: 'id-2' });
      expect(next.messages.map((m) => m.id)).toEqual(['id-3', 'id-4', 'id-5']);
      expect(next.complete).toBe(true);
      expect(next.messages[0]).toEqual(message(3));
      expect(await store.hasMessage(ROOM, 'id-4')).toBe(true);
      expect(await store.hasMessage(ROOM, 'id-9')).toBe(false);
    });

    it('pages backward from the end with before, oldest first within a page', async () => {
      const store = await open();
      for (let n = 1; n <= 5; n++) await store.appendMessage(ROOM, message(n));
      const last = await store.queryArchive(ROOM, { max: 2, before: '' });
      expect(last.messages.map((m) => m.id)).toEqual(['id-4', 'id-5']);
      expect(last.complete).toBe(false);
      const earlier = await store.queryArchive(ROOM, { max: 5, before: 'id-4' });
      expect(earlier.messages.map((m) => m.id)).toEqual(['id-1', 'id-2', 'id-3']);
      expect(earlier.complete).toBe(true);
    });

    it('filters by time and by sender', async () => {
      const store = await open();
      for (let n = 1; n <= 6; n++) await store.appendMessage(ROOM, message(n, n % 2 === 0 ? 'even' : 'odd'));
      const window = await store.queryArchive(ROOM, { max: 10, start: 2000, end: 4000 });
      expect(window.messages.map((m) => m.id)).toEqual(['id-2', 'id-3', 'id-4']);
      const byNick = await store.queryArchive(ROOM, { max: 10, with: `${ROOM}/even` });
      expect(byNick.messages.map((m) => m.id)).toEqual(['id-2', 'id-4', 'id-6']);
      const byJid = await store.queryArchive(ROOM, { max: 10, with: 'odd@shakespeare.lit' });
      expect(byJid.messages.map((m) => m.id)).toEqual(['id-1', 'id-3', 'id-5']);
    });

    it('deleting a room drops its archive and leaves other rooms alone', async () => {
      const store = await open();
      await store.putRoom(room(ROOM));
      await store.appendMessage(ROOM, message(1));
      await store.appendMessage('other@chat.shakespeare.lit', message(2));
      await store.deleteRoom(ROOM);
      expect((await store.queryArchive(ROOM, { max: 10 })).messages).toEqual([]);
      expect((await store.queryArchive('other@chat.shakespeare.lit', { max: 10 })).messages).toHaveLength(1);
    });
  });
}
