import { describe, expect, it } from 'vitest';
import type { RoomMembership, RoomMemberships } from './memberships.js';

const base: RoomMembership = {
  phone: '+15551234567',
  room: 'coven@chat.shakespeare.lit',
  nick: 'thirdwitch',
  via: '+15550009999',
  selectedAt: 1000,
};

/** One suite, both drivers (ARCHITECTURE.md, "Embedded mode"). */
export function roomMembershipsContract(name: string, open: () => Promise<RoomMemberships>): void {
  describe(`room memberships contract: ${name}`, () => {
    it('stores a membership and finds it by phone and room', async () => {
      const store = await open();
      await store.put({ ...base, password: 'cauldronburn' });
      expect(await store.get(base.phone, base.room)).toEqual({ ...base, password: 'cauldronburn' });
      expect(await store.get(base.phone, 'other@chat.shakespeare.lit')).toBeNull();
      expect(await store.get('+15550000000', base.room)).toBeNull();
    });

    it('replaces a membership of the same phone and room (nick change)', async () => {
      const store = await open();
      await store.put(base);
      await store.put({ ...base, nick: 'oldhag', selectedAt: 2000 });
      expect(await store.byPhone(base.phone)).toEqual([{ ...base, nick: 'oldhag', selectedAt: 2000 }]);
    });

    it("lists a phone's rooms most recently selected first, and every membership", async () => {
      const store = await open();
      await store.put(base);
      await store.put({ ...base, room: 'heath@chat.shakespeare.lit', selectedAt: 3000 });
      await store.put({ ...base, phone: '+15557654321', nick: 'firstwitch' });
      expect((await store.byPhone(base.phone)).map((m) => m.room)).toEqual([
        'heath@chat.shakespeare.lit',
        'coven@chat.shakespeare.lit',
      ]);
      const all = await store.all();
      expect(all).toHaveLength(3);
      expect(all.map((m) => m.nick).sort()).toEqual(['firstwitch', 'thirdwitch', 'thirdwitch']);
    });

    it('remembers the number a phone last exchanged an SMS with', async () => {
      const store = await open();
      expect(await store.lastNumber(base.phone)).toBeNull();
      await store.noteConversation(base.phone, '+15550009999');
      await store.noteConversation(base.phone, '+15550008888');
      await store.noteConversation('+15557654321', '+15550009999');
      expect(await store.lastNumber(base.phone)).toBe('+15550008888');
    });

    it('removes a membership once', async () => {
      const store = await open();
      await store.put(base);
      expect(await store.remove(base.phone, base.room)).toBe(true);
      expect(await store.remove(base.phone, base.room)).toBe(false);
      expect(await store.byPhone(base.phone)).toEqual([]);
      expect(await store.all()).toEqual([]);
    });
  });
}
