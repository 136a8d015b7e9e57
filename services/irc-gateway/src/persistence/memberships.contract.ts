import { describe, expect, it } from 'vitest';
import type { Memberships } from './memberships.js';

/** One suite, both drivers (ARCHITECTURE.md, "Embedded mode"). */
export function membershipsContract(name: string, open: () => Promise<Memberships>): void {
  describe(`IRC memberships contract: ${name}`, () => {
    const juliet = {
      user: 'juliet@example.com',
      server: 'irc.example.net',
      channel: '#Test',
      nick: 'juliet',
      resources: ['juliet@example.com/balcony'],
    };

    it('keeps the channels a user is in and lists them all', async () => {
      const store = await open();
      await store.put(juliet);
      await store.put({ ...juliet, channel: '#other' });
      await store.put({
        ...juliet,
        user: 'romeo@example.com',
        nick: 'romeo',
        resources: ['romeo@example.com/a'],
      });
      const all = await store.all();
      expect(all).toHaveLength(3);
      expect(all).toContainEqual(juliet);
    });

    it('replaces a membership of the same channel whatever its case', async () => {
      const store = await open();
      await store.put(juliet);
      await store.put({
        ...juliet,
        channel: '#test',
        resources: ['juliet@example.com/balcony', 'juliet@example.com/b'],
      });
      const all = await store.all();
      expect(all).toHaveLength(1);
      expect(all[0]!.resources).toHaveLength(2);
    });

    it('forgets a channel the user left', async () => {
      const store = await open();
      await store.put(juliet);
      await store.put({ ...juliet, channel: '#other' });
      await store.remove(juliet.user, juliet.server, '#TEST');
      expect((await store.all()).map((m) => m.channel)).toEqual(['#other']);
      await store.remove(juliet.user, juliet.server, '#other');
      expect(await store.all()).toEqual([]);
    });

    it('keeps per-server settings per user', async () => {
      const store = await open();
      expect(await store.settings(juliet.user, juliet.server)).toBeNull();
      const settings = {
        nick: 'jules',
        saslUsername: 'jules',
        saslPassword: 's3cret',
        afterConnect: ['MODE jules +i'],
      };
      await store.putSettings(juliet.user, juliet.server, settings);
      expect(await store.settings(juliet.user, juliet.server)).toEqual(settings);
      expect(await store.settings('romeo@example.com', juliet.server)).toBeNull();
      expect(await store.settings(juliet.user, 'irc.other.net')).toBeNull();
    });
  });
}
