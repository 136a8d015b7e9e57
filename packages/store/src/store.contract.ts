import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { compareUtf8 } from './addresses.js';
import {
  AccountExistsError,
  AccountNotFoundError,
  ArchiveItemNotFoundError,
  BlocklistFullError,
  InvalidCredentialsError,
  InvalidRosterItemError,
  OfflineFullError,
  PepNodeNotFoundError,
  PrivateStorageFullError,
  RosterFullError,
  TooLargeError,
} from './errors.js';
import { deriveCredentials } from './scram.js';
import type { Credentials, RosterItem, Store, StoreLimits } from './store.js';

/** Opens a store with the given caps; every call may share data with earlier ones (same file or server). */
export type StoreFactory = (limits?: StoreLimits) => Promise<Store>;

// RFC 6121 §5.2.2 example message, stored as offline fixture.
const CHAT = (n: number): string =>
  `<message from='juliet@example.com/balcony' to='romeo@example.net' type='chat' id='ktx72v49-${n}'><body>Art thou not Romeo, and a Montague?</body></message>`;
// RFC 6121 §3.1.2 example subscription request.
const SUBSCRIBE =
  "<presence from='romeo@example.net' id='xk3h1v69' to='juliet@example.com' type='subscribe'/>";
// XEP-0054 §3.1 example vCard (abridged to its first fields).
const VCARD =
  "<vCard xmlns='vcard-temp'><FN>Peter Saint-Andre</FN><N><FAMILY>Saint-Andre</FAMILY><GIVEN>Peter</GIVEN><MIDDLE/></N><NICKNAME>stpeter</NICKNAME><URL>http://www.xmpp.org/xsf/people/stpeter.shtml</URL><BDAY>1966-08-06</BDAY></vCard>";
// XEP-0049 §2.1 example private data.
const EXODUS_KEY = 'exodus exodus:ns';
const EXODUS = "<exodus xmlns='exodus:ns'><defaultnick>Hamlet</defaultnick></exodus>";

const item = (jid: string, extra: Partial<RosterItem> = {}): RosterItem => ({
  jid,
  subscription: 'none',
  groups: [],
  ...extra,
});

/**
 * The behaviour every Store driver must have. The factory's stores may share
 * one database, so each test works under a domain of its own.
 */
export function storeContract(name: string, factory: StoreFactory): void {
  describe(`${name} store contract`, () => {
    const open: Store[] = [];
    const make = async (limits?: StoreLimits): Promise<Store> => {
      const store = await factory(limits);
      open.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });

    let credentials: Credentials | undefined;
    const creds = async (): Promise<Credentials> => (credentials ??= await deriveCredentials('pencil'));
    const fresh = (): string => `${randomBytes(4).toString('hex')}.example`;

    describe('accounts', () => {
      it('creates an account and reads it back with its credentials and creation time', async () => {
        const store = await make();
        const jid = `juliet@${fresh()}`;
        const before = Date.now();
        const created = await store.accounts.create(jid, await creds());
        const got = await store.accounts.get(jid);
        expect(got).toEqual(created);
        expect(got?.jid).toBe(jid);
        expect(got?.credentials).toEqual(await creds());
        expect(got?.createdAt).toBeGreaterThanOrEqual(before);
        expect(got?.createdAt).toBeLessThanOrEqual(Date.now());
        expect(await store.accounts.get(`romeo@${fresh()}`)).toBeNull();
      });

      it('rejects a second create of the same JID with AccountExistsError and keeps the first', async () => {
        const store = await make();
        const jid = `juliet@${fresh()}`;
        await store.accounts.create(jid, await creds());
        const other = await deriveCredentials('other');
        const err = await store.accounts.create(jid, other).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AccountExistsError);
        expect((err as Error).name).toBe('AccountExistsError');
        expect((await store.accounts.get(jid))?.credentials).toEqual(await creds());
      });

      it('lets exactly one of many concurrent creates win', async () => {
        const store = await make();
        const jid = `juliet@${fresh()}`;
        const candidates = await Promise.all(
          Array.from({ length: 8 }, (_, i) => deriveCredentials(`pw${i}`, 1)),
        );
        const results = await Promise.allSettled(candidates.map((c) => store.accounts.create(jid, c)));
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        expect(won).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(AccountExistsError);
        }
        expect((await store.accounts.get(jid))?.credentials).toEqual(candidates[won[0]!]);
        expect(await store.accounts.count(jid.split('@')[1])).toBe(1);
      });

      it('stores only the SCRAM fields, never a password the caller left on the object', async () => {
        const store = await make();
        const jid = `juliet@${fresh()}`;
        const c = await creds();
        const leaky = {
          password: 'pencil',
          'SCRAM-SHA-1': { ...c['SCRAM-SHA-1'], password: 'pencil' },
          'SCRAM-SHA-256': { ...c['SCRAM-SHA-256'], plain: 'pencil' },
        } as unknown as Credentials;
        await store.accounts.create(jid, leaky);
        const stored = JSON.stringify(await store.accounts.get(jid));
        expect(stored).not.toContain('pencil');
        expect(stored).not.toContain('password');
        expect(Object.keys((await store.accounts.get(jid))!.credentials['SCRAM-SHA-256']).sort()).toEqual([
          'iterations',
          'salt',
          'serverKey',
          'storedKey',
        ]);
      });

      it('rejects credentials missing a mechanism or with a bad iteration count', async () => {
        const store = await make();
        const c = await creds();
        const jid = `juliet@${fresh()}`;
        const onlySha1 = { 'SCRAM-SHA-1': c['SCRAM-SHA-1'] } as unknown as Credentials;
        await expect(store.accounts.create(jid, onlySha1)).rejects.toBeInstanceOf(InvalidCredentialsError);
        const zero = { ...c, 'SCRAM-SHA-1': { ...c['SCRAM-SHA-1'], iterations: 0 } };
        await expect(store.accounts.create(jid, zero)).rejects.toBeInstanceOf(InvalidCredentialsError);
        expect(await store.accounts.get(jid)).toBeNull();
      });

      it('replaces credentials of an existing account and refuses a missing one', async () => {
        const store = await make();
        const jid = `juliet@${fresh()}`;
        await store.accounts.create(jid, await creds());
        const next = await deriveCredentials('new password');
        await store.accounts.setCredentials(jid, next);
        expect((await store.accounts.get(jid))?.credentials).toEqual(next);
        await expect(store.accounts.setCredentials(`nobody@${fresh()}`, next)).rejects.toBeInstanceOf(
          AccountNotFoundError,
        );
      });

      it('deletes the account with its roster, offline messages, private XML, vCard and blocklist', async () => {
        const store = await make();
        const domain = fresh();
        const jid = `juliet@${domain}`;
        const neighbour = `nurse@${domain}`;
        for (const user of [jid, neighbour]) {
          await store.accounts.create(user, await creds());
          await store.rosters.update(user, 'romeo@example.net', () => item('romeo@example.net'));
          await store.offline.push(user, { id: 'e1', xml: CHAT(1), ts: 1 });
          await store.privateXml.set(user, EXODUS_KEY, EXODUS);
          await store.vcards.set(user, VCARD);
          await store.blocklists.add(user, ['iago@shakespeare.lit']);
        }

        expect(await store.accounts.delete(jid)).toBe(true);
        expect(await store.accounts.get(jid)).toBeNull();
        expect(await store.rosters.get(jid)).toEqual({ version: '0', items: [] });
        expect(await store.offline.count(jid)).toBe(0);
        expect(await store.privateXml.get(jid, EXODUS_KEY)).toBeNull();
        expect(await store.vcards.get(jid)).toBeNull();
        expect(await store.blocklists.list(jid)).toEqual([]);
        expect(await store.accounts.list({ domain })).toEqual([neighbour]);
        expect(await store.accounts.count(domain)).toBe(1);
        expect(await store.accounts.delete(jid)).toBe(false);

        expect((await store.rosters.get(neighbour)).items).toHaveLength(1);
        expect(await store.offline.count(neighbour)).toBe(1);
        expect(await store.vcards.get(neighbour)).toBe(VCARD);
        expect(await store.privateXml.get(neighbour, EXODUS_KEY)).toBe(EXODUS);
        expect(await store.blocklists.list(neighbour)).toEqual(['iago@shakespeare.lit']);
      });

      it('lists accounts by domain and prefix in byte order, page by page, and counts them', async () => {
        const store = await make();
        const [a, b] = [fresh(), fresh()];
        const tag = `u${randomBytes(3).toString('hex')}`;
        const inA = ['bob', 'alice', 'carol', 'dave', 'erin'].map((l) => `${tag}-${l}@${a}`);
        const inB = [`${tag}-zed@${b}`, `other@${b}`];
        for (const jid of [...inA, ...inB]) await store.accounts.create(jid, await creds());

        const sortedA = [...inA].sort(compareUtf8);
        expect(await store.accounts.list({ domain: a })).toEqual(sortedA);
        expect(await store.accounts.count(a)).toBe(5);
        expect(await store.accounts.count(b)).toBe(2);
        expect(await store.accounts.count()).toBeGreaterThanOrEqual(7);

        const page1 = await store.accounts.list({ domain: a, limit: 2 });
        const page2 = await store.accounts.list({ domain: a, limit: 2, after: page1[1]! });
        const page3 = await store.accounts.list({ domain: a, limit: 2, after: page2[1]! });
        expect([...page1, ...page2, ...page3]).toEqual(sortedA);
        expect(page3).toHaveLength(1);

        expect(await store.accounts.list({ domain: b, prefix: `${tag}-` })).toEqual([`${tag}-zed@${b}`]);
        // Without a domain the prefix spans domains.
        expect(await store.accounts.list({ prefix: `${tag}-` })).toEqual(
          [...sortedA, `${tag}-zed@${b}`].sort(compareUtf8),
        );
        expect(await store.accounts.list({ prefix: `${tag}-c`, after: `${tag}-a` })).toEqual([
          `${tag}-carol@${a}`,
        ]);
      });

      it('handles Unicode JIDs as opaque strings, sorted by UTF-8 bytes', async () => {
        const store = await make();
        const domain = `bücher-${randomBytes(3).toString('hex')}.例子`;
        const jids = ['müller', '张三', '𠜎', 'zoë', '한국'].map((l) => `${l}@${domain}`);
        for (const jid of jids) await store.accounts.create(jid, await creds());
        expect(await store.accounts.list({ domain })).toEqual([...jids].sort(compareUtf8));
        expect(await store.accounts.list({ domain, prefix: '张' })).toEqual([`张三@${domain}`]);
        expect(await store.accounts.list({ prefix: `张三@${domain}` })).toEqual([`张三@${domain}`]);
        expect((await store.accounts.get(`𠜎@${domain}`))?.jid).toBe(`𠜎@${domain}`);

        const user = jids[0]!;
        await store.rosters.update(user, jids[1]!, () =>
          item(jids[1]!, { name: 'Zhāng Sān', groups: ['朋友'] }),
        );
        expect(await store.rosters.getItem(user, jids[1]!)).toEqual(
          item(jids[1]!, { name: 'Zhāng Sān', groups: ['朋友'] }),
        );
        await store.blocklists.add(user, [jids[2]!, jids[4]!]);
        expect(await store.blocklists.list(user)).toEqual([jids[2]!, jids[4]!].sort(compareUtf8));
        expect(await store.blocklists.isBlocked(user, `${jids[2]!}/ресурс`)).toBe(true);
      });
    });

    describe('rosters', () => {
      it('gives a never-written roster version "0" and no items', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        expect(await store.rosters.get(user)).toEqual({ version: '0', items: [] });
        expect(await store.rosters.getItem(user, 'romeo@example.net')).toBeNull();
      });

      it('adds an item, stores groups as a sorted set, and returns the new version', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        const result = await store.rosters.update(user, 'romeo@example.net', () =>
          item('romeo@example.net', { name: 'Romeo', groups: ['Friends', 'Lovers', 'Friends'] }),
        );
        const expected = item('romeo@example.net', { name: 'Romeo', groups: ['Friends', 'Lovers'] });
        expect(result.changed).toBe(true);
        expect(result.item).toEqual(expected);
        expect(result.version).not.toBe('0');
        expect(await store.rosters.getItem(user, 'romeo@example.net')).toEqual(expected);
        expect(await store.rosters.get(user)).toEqual({ version: result.version, items: [expected] });
      });

      it('bumps the version only when the item really changes', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        const first = await store.rosters.update(user, 'romeo@example.net', () =>
          item('romeo@example.net', { groups: ['b', 'a'] }),
        );
        // Same content, groups in another order and a false flag: no change.
        const same = await store.rosters.update(user, 'romeo@example.net', (cur) => ({
          ...cur!,
          groups: ['a', 'b'],
          approved: false,
        }));
        expect(same).toEqual({ item: first.item, version: first.version, changed: false });
        const absent = await store.rosters.update(user, 'nurse@example.com', () => null);
        expect(absent).toEqual({ item: null, version: first.version, changed: false });

        const changed = await store.rosters.update(user, 'romeo@example.net', (cur) => ({
          ...cur!,
          subscription: 'to',
        }));
        expect(changed.changed).toBe(true);
        expect(changed.version).not.toBe(first.version);
        expect((await store.rosters.get(user)).version).toBe(changed.version);
      });

      it('removes an item when the mutation returns null', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        await store.rosters.update(user, 'romeo@example.net', () => item('romeo@example.net'));
        const removed = await store.rosters.update(user, 'romeo@example.net', () => null);
        expect(removed.changed).toBe(true);
        expect(removed.item).toBeNull();
        expect(await store.rosters.get(user)).toEqual({ version: removed.version, items: [] });
      });

      it('keeps every one of 50 concurrent updates of one item', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            store.rosters.update(user, 'romeo@example.net', (cur) =>
              item('romeo@example.net', {
                groups: [...(cur?.groups ?? []), `g${String(i).padStart(2, '0')}`],
              }),
            ),
          ),
        );
        const final = await store.rosters.getItem(user, 'romeo@example.net');
        expect(final?.groups).toEqual(Array.from({ length: 50 }, (_, i) => `g${String(i).padStart(2, '0')}`));
        expect(results.every((r) => r.changed)).toBe(true);
        expect(new Set(results.map((r) => r.version)).size).toBe(50);
      });

      it('serializes concurrent updates of different items of one roster', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        const contacts = Array.from({ length: 20 }, (_, i) => `c${i}@example.net`);
        const results = await Promise.all(contacts.map((c) => store.rosters.update(user, c, () => item(c))));
        const roster = await store.rosters.get(user);
        expect(roster.items.map((i) => i.jid)).toEqual([...contacts].sort(compareUtf8));
        expect(new Set(results.map((r) => r.version)).size).toBe(20);
        expect(results.map((r) => r.version)).toContain(roster.version);
      });

      it('keeps the pending inbound subscribe stanza and the pre-approval flag', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        const contact = 'romeo@example.net';
        await store.rosters.update(user, contact, () =>
          item(contact, { pendingIn: true, pendingInXml: SUBSCRIBE }),
        );
        expect(await store.rosters.getItem(user, contact)).toEqual(
          item(contact, { pendingIn: true, pendingInXml: SUBSCRIBE }),
        );
        // RFC 6121 §3.1.5: approving clears the pending request and its stanza.
        await store.rosters.update(user, contact, (cur) => ({
          ...cur!,
          subscription: 'from',
          pendingIn: false,
        }));
        expect(await store.rosters.getItem(user, contact)).toEqual(item(contact, { subscription: 'from' }));
        await store.rosters.update(user, 'nurse@example.com', () =>
          item('nurse@example.com', { approved: true, ask: 'subscribe' }),
        );
        expect(await store.rosters.getItem(user, 'nurse@example.com')).toEqual(
          item('nurse@example.com', { approved: true, ask: 'subscribe' }),
        );
      });

      it('rejects a mutation result with another jid or an unknown subscription, changing nothing', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        await expect(
          store.rosters.update(user, 'romeo@example.net', () => item('mercutio@example.net')),
        ).rejects.toBeInstanceOf(InvalidRosterItemError);
        await expect(
          store.rosters.update(user, 'romeo@example.net', () =>
            item('romeo@example.net', { subscription: 'remove' as unknown as 'none' }),
          ),
        ).rejects.toBeInstanceOf(InvalidRosterItemError);
        expect(await store.rosters.get(user)).toEqual({ version: '0', items: [] });
      });

      it('propagates an error thrown by the mutation and changes nothing', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        const before = await store.rosters.update(user, 'romeo@example.net', () => item('romeo@example.net'));
        const boom = new Error('not allowed');
        await expect(
          store.rosters.update(user, 'romeo@example.net', () => {
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await store.rosters.get(user)).toEqual({ version: before.version, items: [before.item] });
      });

      it('refuses a new item past the roster cap but still updates and removes existing ones', async () => {
        const store = await make({ rosterCap: 2 });
        const user = `juliet@${fresh()}`;
        await store.rosters.update(user, 'a@example.net', () => item('a@example.net'));
        await store.rosters.update(user, 'b@example.net', () => item('b@example.net'));
        const err = await store.rosters
          .update(user, 'c@example.net', () => item('c@example.net'))
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RosterFullError);
        expect((err as Error).name).toBe('RosterFullError');
        expect(
          (await store.rosters.update(user, 'a@example.net', () => item('a@example.net', { name: 'A' })))
            .changed,
        ).toBe(true);
        await store.rosters.update(user, 'b@example.net', () => null);
        await store.rosters.update(user, 'c@example.net', () => item('c@example.net'));
        expect((await store.rosters.get(user)).items.map((i) => i.jid)).toEqual([
          'a@example.net',
          'c@example.net',
        ]);
      });

      it('reports items changed and contacts removed since a version (RFC 6121 §2.6)', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        for (const c of ['a@example.net', 'b@example.net', 'd@example.net']) {
          await store.rosters.update(user, c, () => item(c));
        }
        const v0 = (await store.rosters.get(user)).version;
        await store.rosters.update(user, 'a@example.net', () =>
          item('a@example.net', { subscription: 'both' }),
        );
        await store.rosters.update(user, 'b@example.net', () => null);
        await store.rosters.update(user, 'c@example.net', () => item('c@example.net'));
        // Removed and added back: reported as an item, not as a removal.
        await store.rosters.update(user, 'd@example.net', () => null);
        await store.rosters.update(user, 'd@example.net', () => item('d@example.net', { name: 'D' }));
        const current = (await store.rosters.get(user)).version;

        expect(await store.rosters.changesSince(user, v0)).toEqual({
          version: current,
          items: [
            item('a@example.net', { subscription: 'both' }),
            item('c@example.net'),
            item('d@example.net', { name: 'D' }),
          ],
          removed: ['b@example.net'],
        });
        expect(await store.rosters.changesSince(user, current)).toEqual({
          version: current,
          items: [],
          removed: [],
        });
      });

      it('answers null for versions it cannot compute a delta from', async () => {
        const store = await make();
        const domain = fresh();
        const user = `juliet@${domain}`;
        const other = `nurse@${domain}`;
        await store.accounts.create(user, await creds());
        const v1 = (await store.rosters.update(user, 'a@example.net', () => item('a@example.net'))).version;
        const otherVersion = (await store.rosters.update(other, 'a@example.net', () => item('a@example.net')))
          .version;
        expect(await store.rosters.changesSince(user, 'not-a-version')).toBeNull();
        expect(await store.rosters.changesSince(user, '')).toBeNull();
        expect(await store.rosters.changesSince(user, '0')).toBeNull();
        expect(await store.rosters.changesSince(user, otherVersion)).toBeNull();
        expect(await store.rosters.changesSince(`romeo@${domain}`, '0')).toEqual({
          version: '0',
          items: [],
          removed: [],
        });

        // A re-created account's roster is another incarnation: the old cache is unknown.
        await store.accounts.delete(user);
        await store.accounts.create(user, await creds());
        await store.rosters.update(user, 'a@example.net', () => item('a@example.net'));
        await store.rosters.update(user, 'b@example.net', () => item('b@example.net'));
        expect(await store.rosters.changesSince(user, v1)).toBeNull();
      });

      it('answers null for versions older than the oldest remembered removal', async () => {
        const store = await make({ rosterTombstoneCap: 2 });
        const user = `juliet@${fresh()}`;
        for (const c of ['a@example.net', 'b@example.net', 'c@example.net', 'd@example.net']) {
          await store.rosters.update(user, c, () => item(c));
        }
        const beforeRemovals = (await store.rosters.get(user)).version;
        const afterA = (await store.rosters.update(user, 'a@example.net', () => null)).version;
        const afterB = (await store.rosters.update(user, 'b@example.net', () => null)).version;
        expect((await store.rosters.changesSince(user, beforeRemovals))?.removed).toEqual([
          'a@example.net',
          'b@example.net',
        ]);
        await store.rosters.update(user, 'c@example.net', () => null);
        // The removal of a was forgotten: only clients that saw it can get a delta.
        expect(await store.rosters.changesSince(user, beforeRemovals)).toBeNull();
        expect((await store.rosters.changesSince(user, afterA))?.removed).toEqual([
          'b@example.net',
          'c@example.net',
        ]);
        expect((await store.rosters.changesSince(user, afterB))?.removed).toEqual(['c@example.net']);
      });
    });

    describe('offline messages', () => {
      it('lists messages in arrival order, all or the oldest few', async () => {
        const store = await make();
        const user = `romeo@${fresh()}`;
        // Ids deliberately not in lexical order: order is arrival, not id.
        const ids = ['m-c', 'm-a', 'm-b', 'm-e', 'm-d'];
        for (const [n, id] of ids.entries()) {
          expect(await store.offline.push(user, { id, xml: CHAT(n), ts: 1_700_000_000_000 + n })).toBe(true);
        }
        expect(await store.offline.list(user)).toEqual(
          ids.map((id, n) => ({ id, xml: CHAT(n), ts: 1_700_000_000_000 + n })),
        );
        expect((await store.offline.list(user, 2)).map((m) => m.id)).toEqual(['m-c', 'm-a']);
        expect(await store.offline.count(user)).toBe(5);
        expect(await store.offline.list(`nobody@${fresh()}`)).toEqual([]);
      });

      it('stores a message pushed twice with the same envelope id once', async () => {
        const store = await make();
        const user = `romeo@${fresh()}`;
        expect(await store.offline.push(user, { id: 'e1', xml: CHAT(1), ts: 1 })).toBe(true);
        expect(await store.offline.push(user, { id: 'e1', xml: CHAT(1), ts: 1 })).toBe(false);
        const concurrent = await Promise.all(
          Array.from({ length: 10 }, () => store.offline.push(user, { id: 'e2', xml: CHAT(2), ts: 2 })),
        );
        expect(concurrent.filter(Boolean)).toHaveLength(1);
        expect((await store.offline.list(user)).map((m) => m.id)).toEqual(['e1', 'e2']);
      });

      it('rejects a new message with OfflineFullError at the cap, but not a duplicate', async () => {
        const store = await make({ offlineCap: 3 });
        const user = `romeo@${fresh()}`;
        for (let n = 0; n < 3; n++) await store.offline.push(user, { id: `e${n}`, xml: CHAT(n), ts: n });
        const err = await store.offline
          .push(user, { id: 'e3', xml: CHAT(3), ts: 3 })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(OfflineFullError);
        expect((err as Error).name).toBe('OfflineFullError');
        expect(await store.offline.push(user, { id: 'e1', xml: CHAT(1), ts: 1 })).toBe(false);
        expect(await store.offline.count(user)).toBe(3);
        await store.offline.remove(user, ['e0']);
        expect(await store.offline.push(user, { id: 'e3', xml: CHAT(3), ts: 3 })).toBe(true);
      });

      it('removes delivered messages by id and keeps the others in order', async () => {
        const store = await make();
        const user = `romeo@${fresh()}`;
        for (let n = 0; n < 5; n++) await store.offline.push(user, { id: `e${n}`, xml: CHAT(n), ts: n });
        expect(await store.offline.remove(user, ['e1', 'e3', 'e3', 'unknown'])).toBe(2);
        expect(await store.offline.remove(user, [])).toBe(0);
        expect((await store.offline.list(user)).map((m) => m.id)).toEqual(['e0', 'e2', 'e4']);
        await store.offline.push(user, { id: 'e5', xml: CHAT(5), ts: 5 });
        expect((await store.offline.list(user)).map((m) => m.id)).toEqual(['e0', 'e2', 'e4', 'e5']);
        expect(await store.offline.count(user)).toBe(4);
      });
    });

    describe('private XML', () => {
      it('stores, replaces and deletes values per key', async () => {
        const store = await make();
        const user = `hamlet@${fresh()}`;
        expect(await store.privateXml.get(user, EXODUS_KEY)).toBeNull();
        await store.privateXml.set(user, EXODUS_KEY, EXODUS);
        await store.privateXml.set(user, 'storage storage:bookmarks', "<storage xmlns='storage:bookmarks'/>");
        expect(await store.privateXml.get(user, EXODUS_KEY)).toBe(EXODUS);
        const replaced = "<exodus xmlns='exodus:ns'><defaultnick>Ophelia</defaultnick></exodus>";
        await store.privateXml.set(user, EXODUS_KEY, replaced);
        expect(await store.privateXml.get(user, EXODUS_KEY)).toBe(replaced);
        await store.privateXml.delete(user, EXODUS_KEY);
        expect(await store.privateXml.get(user, EXODUS_KEY)).toBeNull();
        expect(await store.privateXml.get(user, 'storage storage:bookmarks')).toBe(
          "<storage xmlns='storage:bookmarks'/>",
        );
      });

      it('refuses values over the byte cap and new keys over the key cap', async () => {
        const store = await make({ privateXmlCap: 2, privateXmlMaxBytes: 100 });
        const user = `hamlet@${fresh()}`;
        const big = `<x xmlns='big'>${'é'.repeat(41)}</x>`; // 101 bytes in 60 characters
        const err = await store.privateXml.set(user, 'x big', big).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TooLargeError);
        expect(err).toMatchObject({ name: 'TooLargeError', what: 'private', bytes: 101, limit: 100 });
        await store.privateXml.set(user, 'a a', '<a xmlns="a"/>');
        await store.privateXml.set(user, 'b b', '<b xmlns="b"/>');
        await expect(store.privateXml.set(user, 'c c', '<c xmlns="c"/>')).rejects.toBeInstanceOf(
          PrivateStorageFullError,
        );
        await store.privateXml.set(user, 'a a', '<a xmlns="a">again</a>');
        expect(await store.privateXml.get(user, 'a a')).toBe('<a xmlns="a">again</a>');
      });
    });

    describe('vCards', () => {
      it('stores, replaces and deletes a vCard', async () => {
        const store = await make();
        const user = `stpeter@${fresh()}`;
        expect(await store.vcards.get(user)).toBeNull();
        await store.vcards.set(user, VCARD);
        expect(await store.vcards.get(user)).toBe(VCARD);
        await store.vcards.set(user, "<vCard xmlns='vcard-temp'/>");
        expect(await store.vcards.get(user)).toBe("<vCard xmlns='vcard-temp'/>");
        await store.vcards.delete(user);
        expect(await store.vcards.get(user)).toBeNull();
      });

      it('refuses a vCard over the byte cap and keeps the previous one', async () => {
        const store = await make({ vcardMaxBytes: VCARD.length });
        const user = `stpeter@${fresh()}`;
        await store.vcards.set(user, VCARD);
        const err = await store.vcards.set(user, VCARD.replace('Peter', 'Pëter')).catch((e: unknown) => e);
        expect(err).toMatchObject({ name: 'TooLargeError', what: 'vcard', limit: VCARD.length });
        expect(await store.vcards.get(user)).toBe(VCARD);
      });
    });

    describe('blocklists', () => {
      it('adds, lists sorted without duplicates, removes and clears', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        expect(await store.blocklists.list(user)).toEqual([]);
        // XEP-0191 §3.3 example items.
        await store.blocklists.add(user, ['romeo@montague.net', 'iago@shakespeare.lit']);
        await store.blocklists.add(user, ['iago@shakespeare.lit', 'example.org']);
        expect(await store.blocklists.list(user)).toEqual([
          'example.org',
          'iago@shakespeare.lit',
          'romeo@montague.net',
        ]);
        await store.blocklists.remove(user, ['romeo@montague.net', 'never@blocked.example']);
        expect(await store.blocklists.list(user)).toEqual(['example.org', 'iago@shakespeare.lit']);
        await store.blocklists.clear(user);
        expect(await store.blocklists.list(user)).toEqual([]);
      });

      it('matches full JID, bare JID, domain/resource and domain entries (XEP-0016 §2.1)', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        await store.blocklists.add(user, [
          'iago@shakespeare.lit',
          'montague.net',
          'capulet.lit/tybalt',
          'a@b.lit/r',
        ]);
        expect(await store.blocklists.isBlocked(user, 'iago@shakespeare.lit')).toBe(true);
        expect(await store.blocklists.isBlocked(user, 'iago@shakespeare.lit/pda')).toBe(true);
        expect(await store.blocklists.isBlocked(user, 'othello@shakespeare.lit')).toBe(false);
        expect(await store.blocklists.isBlocked(user, 'romeo@montague.net/orchard')).toBe(true);
        expect(await store.blocklists.isBlocked(user, 'montague.net')).toBe(true);
        expect(await store.blocklists.isBlocked(user, 'nurse@capulet.lit/tybalt')).toBe(true);
        expect(await store.blocklists.isBlocked(user, 'nurse@capulet.lit/kitchen')).toBe(false);
        expect(await store.blocklists.isBlocked(user, 'a@b.lit/r')).toBe(true);
        expect(await store.blocklists.isBlocked(user, 'a@b.lit')).toBe(false);
        expect(await store.blocklists.isBlocked(user, 'a@b.lit/other')).toBe(false);
      });

      it('refuses an addition that would pass the cap and adds none of it', async () => {
        const store = await make({ blocklistCap: 3 });
        const user = `juliet@${fresh()}`;
        await store.blocklists.add(user, ['a.example', 'b.example']);
        await expect(store.blocklists.add(user, ['c.example', 'd.example'])).rejects.toBeInstanceOf(
          BlocklistFullError,
        );
        expect(await store.blocklists.list(user)).toEqual(['a.example', 'b.example']);
        await store.blocklists.add(user, ['a.example', 'c.example']);
        expect(await store.blocklists.list(user)).toEqual(['a.example', 'b.example', 'c.example']);
      });
    });
    describe('archive (XEP-0313)', () => {
      const msg = (n: number, withJid = 'juliet@capulet.lit', ts = 1_000 + n) => ({
        id: `a${n}`,
        ts,
        with: withJid,
        xml: CHAT(n),
      });
      const fill = async (store: Store, user: string, n: number, withOf?: (i: number) => string) => {
        for (let i = 1; i <= n; i++) {
          await store.archive.append(user, msg(i, withOf?.(i) ?? 'juliet@capulet.lit'), { cap: 1000 });
        }
      };
      const ids = (page: { messages: { id: string }[] }) => page.messages.map((m) => m.id);

      it('appends idempotently by id and reads messages back as stored', async () => {
        const store = await make();
        const user = `romeo@${fresh()}`;
        expect(await store.archive.append(user, msg(1), { cap: 10 })).toBe(true);
        expect(await store.archive.append(user, msg(1), { cap: 10 })).toBe(false);
        expect(await store.archive.count(user)).toBe(1);
        const page = await store.archive.query(user, { max: 10 });
        expect(page).toEqual({ messages: [msg(1)], count: 1, firstIndex: 0, complete: true });
      });

      it('appends a batch for several users in order, idempotently', async () => {
        const store = await make();
        const romeo = `romeo@${fresh()}`;
        const juliet = `juliet@${fresh()}`;
        const entries = [
          { user: romeo, message: msg(1) },
          { user: juliet, message: msg(2) },
          { user: romeo, message: msg(3) },
        ];
        expect(await store.archive.appendMany(entries, { cap: 10 })).toBe(3);
        expect(await store.archive.appendMany(entries, { cap: 10 })).toBe(0);
        expect(ids(await store.archive.query(romeo, { max: 10 }))).toEqual(['a1', 'a3']);
        expect(ids(await store.archive.query(juliet, { max: 10 }))).toEqual(['a2']);
      });

      it('pages forwards with after, backwards from the end with before (XEP-0059 §2)', async () => {
        const store = await make();
        const user = `romeo@${fresh()}`;
        await fill(store, user, 7);
        const first = await store.archive.query(user, { max: 3 });
        expect([ids(first), first.count, first.firstIndex, first.complete]).toEqual([
          ['a1', 'a2', 'a3'],
          7,
          0,
          false,
        ]);
        const second = await store.archive.query(user, { max: 3, afterId: 'a3' });
        expect([ids(second), second.firstIndex, second.complete]).toEqual([['a4', 'a5', 'a6'], 3, false]);
        const third = await store.archive.query(user, { max: 3, afterId: 'a6' });
        expect([ids(third), third.complete]).toEqual([['a7'], true]);
        const last = await store.archive.query(user, { max: 3, fromEnd: true });
        expect([ids(last), last.firstIndex, last.complete]).toEqual([['a5', 'a6', 'a7'], 4, false]);
        const before = await store.archive.query(user, { max: 3, fromEnd: true, beforeId: 'a5' });
        expect([ids(before), before.complete]).toEqual([['a2', 'a3', 'a4'], false]);
        const rest = await store.archive.query(user, { max: 3, fromEnd: true, beforeId: 'a2' });
        expect([ids(rest), rest.complete]).toEqual([['a1'], true]);
        const between = await store.archive.query(user, { max: 10, afterId: 'a2', beforeId: 'a6' });
        expect([ids(between), between.complete]).toEqual([['a3', 'a4', 'a5'], true]);
        const countOnly = await store.archive.query(user, { max: 0 });
        expect([ids(countOnly), countOnly.count]).toEqual([[], 7]);
      });

      it('filters by contact and time, and rejects a cursor outside the result set', async () => {
        const store = await make();
        const user = `romeo@${fresh()}`;
        await fill(store, user, 6, (i) => (i % 2 === 0 ? 'juliet@capulet.lit' : 'nurse@capulet.lit'));
        const juliet = await store.archive.query(user, { max: 10, with: 'juliet@capulet.lit' });
        expect([ids(juliet), juliet.count]).toEqual([['a2', 'a4', 'a6'], 3]);
        const window = await store.archive.query(user, { max: 10, start: 1_002, end: 1_004 });
        expect(ids(window)).toEqual(['a2', 'a3', 'a4']);
        const chosen = await store.archive.query(user, { max: 10, ids: ['a5', 'a1', 'nope'] });
        expect([ids(chosen), chosen.count]).toEqual([['a1', 'a5'], 2]);
        await expect(
          store.archive.query(user, { max: 10, with: 'juliet@capulet.lit', afterId: 'a3' }),
        ).rejects.toBeInstanceOf(ArchiveItemNotFoundError);
      });

      it('keeps at most the cap, dropping the oldest, and purges by age', async () => {
        const store = await make();
        const user = `romeo@${fresh()}`;
        for (let i = 1; i <= 5; i++) await store.archive.append(user, msg(i), { cap: 3 });
        expect(ids(await store.archive.query(user, { max: 10 }))).toEqual(['a3', 'a4', 'a5']);
        await store.archive.append(user, msg(6), { cap: 3, notBefore: 1_005 });
        expect(ids(await store.archive.query(user, { max: 10 }))).toEqual(['a5', 'a6']);
        expect(await store.archive.purge(user, 1_006)).toBe(1);
        expect(ids(await store.archive.query(user, { max: 10 }))).toEqual(['a6']);
      });

      it('stores preferences and removes everything with the account', async () => {
        const store = await make();
        const user = `romeo@${fresh()}`;
        expect(await store.archive.getPrefs(user)).toBeNull();
        const prefs = {
          default: 'roster',
          always: ['romeo@montague.lit'],
          never: ['montague@montague.lit'],
        } as const;
        await store.archive.setPrefs(user, prefs);
        expect(await store.archive.getPrefs(user)).toEqual(prefs);
        await store.accounts.create(user, await creds());
        await fill(store, user, 2);
        await store.pep.putNode(user, 'urn:xmpp:avatar:data', {
          accessModel: 'presence',
          persistItems: true,
          maxItems: 1,
        });
        await store.pep.publish(user, 'urn:xmpp:avatar:data', { id: 'i1', xml: '<item id="i1"/>', ts: 1 });
        await store.push.put(user, { jid: 'push.example', node: 'n1', formXml: '', resource: 'phone' });
        expect(await store.accounts.delete(user)).toBe(true);
        expect(await store.archive.count(user)).toBe(0);
        expect(await store.archive.getPrefs(user)).toBeNull();
        expect(await store.pep.listNodes(user)).toEqual([]);
        expect(await store.pep.items(user, 'urn:xmpp:avatar:data')).toEqual([]);
        expect(await store.push.list(user)).toEqual([]);
      });
    });

    describe('PEP nodes and items (XEP-0163)', () => {
      const config = (maxItems = 1, accessModel: 'presence' | 'whitelist' = 'presence') => ({
        accessModel,
        persistItems: true,
        maxItems,
      });
      const item = (id: string, ts = 1) => ({ id, xml: `<item id='${id}'><x/></item>`, ts });

      it('creates, lists, reconfigures and deletes nodes', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        expect(await store.pep.getNode(user, 'urn:xmpp:bookmarks:1')).toBeNull();
        await store.pep.putNode(user, 'urn:xmpp:bookmarks:1', config(100, 'whitelist'));
        await store.pep.putNode(user, 'urn:xmpp:avatar:metadata', config());
        expect(await store.pep.getNode(user, 'urn:xmpp:bookmarks:1')).toEqual(config(100, 'whitelist'));
        expect((await store.pep.listNodes(user)).map((n) => n.node)).toEqual([
          'urn:xmpp:avatar:metadata',
          'urn:xmpp:bookmarks:1',
        ]);
        expect(await store.pep.deleteNode(user, 'urn:xmpp:avatar:metadata')).toBe(true);
        expect(await store.pep.deleteNode(user, 'urn:xmpp:avatar:metadata')).toBe(false);
        expect((await store.pep.listNodes(user)).map((n) => n.node)).toEqual(['urn:xmpp:bookmarks:1']);
      });

      it('keeps the newest max_items items, newest first; a republished id moves to the front', async () => {
        const store = await make();
        const user = `juliet@${fresh()}`;
        const node = 'urn:xmpp:bookmarks:1';
        await store.pep.putNode(user, node, config(3));
        for (const id of ['a', 'b', 'c']) await store.pep.publish(user, node, item(id));
        await store.pep.publish(user, node, item('a', 2));
        expect((await store.pep.items(user, node)).map((i) => i.id)).toEqual(['a', 'c', 'b']);
        await store.pep.publish(user, node, item('d'));
        expect((await store.pep.items(user, node)).map((i) => i.id)).toEqual(['d', 'a', 'c']);
        expect((await store.pep.items(user, node, 1)).map((i) => i.id)).toEqual(['d']);
        expect(await store.pep.item(user, node, 'a')).toEqual(item('a', 2));
        await store.pep.putNode(user, node, config(2));
        expect((await store.pep.items(user, node)).map((i) => i.id)).toEqual(['d', 'a']);
        expect(await store.pep.retract(user, node, 'd')).toBe(true);
        expect(await store.pep.retract(user, node, 'd')).toBe(false);
        expect(await store.pep.item(user, node, 'd')).toBeNull();
        await store.pep.putNode(user, node, { accessModel: 'presence', persistItems: false, maxItems: 10 });
        await store.pep.publish(user, node, item('e'));
        expect((await store.pep.items(user, node)).map((i) => i.id)).toEqual(['e']);
      });

      it('refuses to publish to a node that does not exist', async () => {
        const store = await make();
        await expect(store.pep.publish(`juliet@${fresh()}`, 'nope', item('a'))).rejects.toBeInstanceOf(
          PepNodeNotFoundError,
        );
      });
    });

    describe('push registrations (XEP-0357)', () => {
      it('adds, replaces, lists and removes registrations by node or by app server', async () => {
        const store = await make();
        const user = `romeo@${fresh()}`;
        const form = "<x xmlns='jabber:x:data' type='submit'/>";
        await store.push.put(user, {
          jid: 'push-5.client.example',
          node: 'yxs32uqsflafdk3iuqo',
          formXml: '',
          resource: 'tablet',
        });
        await store.push.put(user, {
          jid: 'push-5.client.example',
          node: 'yxs32uqsflafdk3iuqo',
          formXml: form,
          resource: 'phone',
        });
        await store.push.put(user, {
          jid: 'push-5.client.example',
          node: 'another',
          formXml: '',
          resource: 'phone',
        });
        await store.push.put(user, {
          jid: 'push-1.client.example',
          node: 'n',
          formXml: '',
          resource: 'phone',
        });
        expect(await store.push.list(user)).toEqual([
          { jid: 'push-1.client.example', node: 'n', formXml: '', resource: 'phone' },
          { jid: 'push-5.client.example', node: 'another', formXml: '', resource: 'phone' },
          { jid: 'push-5.client.example', node: 'yxs32uqsflafdk3iuqo', formXml: form, resource: 'phone' },
        ]);
        expect(await store.push.remove(user, 'push-5.client.example', 'another')).toBe(1);
        expect(await store.push.remove(user, 'push-5.client.example')).toBe(1);
        expect(await store.push.list(user)).toEqual([
          { jid: 'push-1.client.example', node: 'n', formXml: '', resource: 'phone' },
        ]);
      });
    });
  });
}
