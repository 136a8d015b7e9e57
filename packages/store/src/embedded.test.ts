import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedStore } from './embedded.js';
import { deriveCredentials } from './scram.js';
import { storeContract } from './store.contract.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchboard-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
storeContract('embedded', (limits) =>
  Promise.resolve(openEmbeddedStore({ ...limits, path: join(dir, `contract-${n++}.db`) })),
);

describe('embedded store on disk', () => {
  it('creates missing directories and keeps everything across a close and reopen', async () => {
    const path = join(dir, 'nested', 'deeper', 'switchboard.db');
    const first = openEmbeddedStore({ path });
    const credentials = await deriveCredentials('pencil');
    const account = await first.accounts.create('juliet@example.com', credentials);
    const update = await first.rosters.update('juliet@example.com', 'romeo@example.net', () => ({
      jid: 'romeo@example.net',
      subscription: 'both',
      groups: ['Friends'],
    }));
    await first.rosters.update('juliet@example.com', 'tybalt@example.net', () => ({
      jid: 'tybalt@example.net',
      subscription: 'none',
      groups: [],
    }));
    await first.rosters.update('juliet@example.com', 'tybalt@example.net', () => null);
    await first.offline.push('juliet@example.com', { id: 'e1', xml: '<message/>', ts: 1 });
    await first.offline.push('juliet@example.com', { id: 'e2', xml: '<message id="2"/>', ts: 2 });
    await first.vcards.set('juliet@example.com', "<vCard xmlns='vcard-temp'><FN>Juliet</FN></vCard>");
    await first.privateXml.set('juliet@example.com', 'exodus exodus:ns', "<exodus xmlns='exodus:ns'/>");
    await first.blocklists.add('juliet@example.com', ['iago@shakespeare.lit']);
    const roster = await first.rosters.get('juliet@example.com');
    await first.close();
    await first.close();
    expect(existsSync(path)).toBe(true);

    const second = openEmbeddedStore({ path });
    try {
      expect(await second.accounts.get('juliet@example.com')).toEqual(account);
      expect(await second.rosters.get('juliet@example.com')).toEqual(roster);
      expect(await second.rosters.changesSince('juliet@example.com', update.version)).toEqual({
        version: roster.version,
        items: [],
        removed: ['tybalt@example.net'],
      });
      expect((await second.offline.list('juliet@example.com')).map((m) => m.id)).toEqual(['e1', 'e2']);
      expect(await second.vcards.get('juliet@example.com')).toBe(
        "<vCard xmlns='vcard-temp'><FN>Juliet</FN></vCard>",
      );
      expect(await second.privateXml.get('juliet@example.com', 'exodus exodus:ns')).toBe(
        "<exodus xmlns='exodus:ns'/>",
      );
      expect(await second.blocklists.list('juliet@example.com')).toEqual(['iago@shakespeare.lit']);
      // Offline order continues after the restart.
      await second.offline.push('juliet@example.com', { id: 'e0', xml: '<message id="0"/>', ts: 3 });
      expect((await second.offline.list('juliet@example.com')).map((m) => m.id)).toEqual(['e1', 'e2', 'e0']);
    } finally {
      await second.close();
    }
  });

  it('runs in WAL mode and records the schema version in PRAGMA user_version', async () => {
    const path = join(dir, 'pragmas.db');
    await openEmbeddedStore({ path }).close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(2);
    } finally {
      db.close();
    }
  });

  it('refuses a database written by a newer schema', () => {
    const path = join(dir, 'future.db');
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => openEmbeddedStore({ path })).toThrow(/newer/);
  });
});
