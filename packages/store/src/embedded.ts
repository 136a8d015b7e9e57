import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { blockCandidates, domainOf, utf8Bytes } from './addresses.js';
import {
  AccountExistsError,
  AccountNotFoundError,
  BlocklistFullError,
  OfflineFullError,
  PrivateStorageFullError,
  RosterFullError,
  TooLargeError,
} from './errors.js';
import { embeddedMobileStores, MOBILE_MIGRATION, MOBILE_PURGE_USER } from './embedded-mobile.js';
import { canonicalItem, EMPTY_ROSTER_VERSION, formatVersion, parseVersion, sameItem } from './roster-item.js';
import { sanitizeCredentials } from './scram.js';
import {
  resolveLimits,
  type Account,
  type AccountListOptions,
  type Credentials,
  type OfflineMessage,
  type RosterDelta,
  type RosterItem,
  type RosterMutation,
  type RosterUpdate,
  type Store,
  type StoreLimits,
} from './store.js';

export interface EmbeddedStoreOptions extends StoreLimits {
  /** SQLite file; its directory is created. Default `./data/switchboard.db`; `:memory:` for a throwaway store. */
  readonly path?: string;
}

export const DEFAULT_EMBEDDED_PATH = './data/switchboard.db';

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many
 * ran. Append only: never edit a migration that has shipped.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE accounts (
    jid TEXT PRIMARY KEY,
    domain TEXT NOT NULL,
    credentials TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX accounts_by_domain ON accounts (domain, jid);

  CREATE TABLE roster_meta (
    user TEXT PRIMARY KEY,
    epoch TEXT NOT NULL,
    version INTEGER NOT NULL,
    base INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE roster_items (
    user TEXT NOT NULL,
    contact TEXT NOT NULL,
    item TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (user, contact)
  ) WITHOUT ROWID;
  CREATE TABLE roster_tombstones (
    user TEXT NOT NULL,
    contact TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (user, contact)
  ) WITHOUT ROWID;
  CREATE INDEX roster_tombstones_by_version ON roster_tombstones (user, version);

  CREATE TABLE offline (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    id TEXT NOT NULL,
    xml TEXT NOT NULL,
    ts INTEGER NOT NULL,
    UNIQUE (user, id)
  );
  CREATE INDEX offline_by_user ON offline (user, seq);

  CREATE TABLE private_xml (
    user TEXT NOT NULL,
    key TEXT NOT NULL,
    xml TEXT NOT NULL,
    PRIMARY KEY (user, key)
  ) WITHOUT ROWID;

  CREATE TABLE vcards (
    user TEXT PRIMARY KEY,
    xml TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE blocklist (
    user TEXT NOT NULL,
    jid TEXT NOT NULL,
    PRIMARY KEY (user, jid)
  ) WITHOUT ROWID;
  `,
  MOBILE_MIGRATION,
];

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this build (${MIGRATIONS.length})`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

interface AccountRow {
  jid: string;
  credentials: string;
  created_at: number;
}
interface MetaRow {
  epoch: string;
  version: number;
  base: number;
}
interface ItemRow {
  item: string;
}
interface OfflineRow {
  id: string;
  xml: string;
  ts: number;
}

/** Runs synchronous driver code as a promise, turning a throw into a rejection. */
function sync<T>(f: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(f()));
}

function newEpoch(): string {
  return randomBytes(4).toString('hex');
}

/**
 * The embedded driver: one SQLite file under `./data` for the single-process
 * mode. better-sqlite3 is synchronous, which suits one process owning the
 * file; each method is one transaction, so every operation is atomic and a
 * roster update is a plain read-modify-write inside it.
 */
export function openEmbeddedStore(options: EmbeddedStoreOptions = {}): Store {
  const limits = resolveLimits(options);
  const path = options.path ?? DEFAULT_EMBEDDED_PATH;
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    // WAL with NORMAL survives process crashes; a power cut may lose the last
    // transactions, the same bargain as Redis' `appendfsync everysec`.
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }

  const q = {
    accountInsert: db.prepare<[string, string, string, number]>(
      'INSERT INTO accounts (jid, domain, credentials, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    accountGet: db.prepare<[string], AccountRow>(
      'SELECT jid, credentials, created_at FROM accounts WHERE jid = ?',
    ),
    accountSetCredentials: db.prepare<[string, string]>('UPDATE accounts SET credentials = ? WHERE jid = ?'),
    accountDelete: db.prepare<[string]>('DELETE FROM accounts WHERE jid = ?'),
    accountList: db.prepare<
      { domain: string | null; prefix: string; after: string | null; limit: number },
      { jid: string }
    >(
      `SELECT jid FROM accounts
       WHERE (@domain IS NULL OR domain = @domain)
         AND (@after IS NULL OR jid > @after)
         AND jid >= @prefix AND substr(jid, 1, length(@prefix)) = @prefix
       ORDER BY jid LIMIT @limit`,
    ),
    accountCountAll: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM accounts'),
    accountCountDomain: db.prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM accounts WHERE domain = ?',
    ),

    metaGet: db.prepare<[string], MetaRow>('SELECT epoch, version, base FROM roster_meta WHERE user = ?'),
    metaInsert: db.prepare<[string, string]>(
      'INSERT INTO roster_meta (user, epoch, version, base) VALUES (?, ?, 0, 0)',
    ),
    metaBump: db.prepare<[string], { version: number }>(
      'UPDATE roster_meta SET version = version + 1 WHERE user = ? RETURNING version',
    ),
    metaSetBase: db.prepare<[number, string]>('UPDATE roster_meta SET base = max(base, ?) WHERE user = ?'),
    itemsAll: db.prepare<[string], ItemRow>('SELECT item FROM roster_items WHERE user = ? ORDER BY contact'),
    itemGet: db.prepare<[string, string], ItemRow>(
      'SELECT item FROM roster_items WHERE user = ? AND contact = ?',
    ),
    itemCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM roster_items WHERE user = ?'),
    itemUpsert: db.prepare<[string, string, string, number]>(
      `INSERT INTO roster_items (user, contact, item, version) VALUES (?, ?, ?, ?)
       ON CONFLICT (user, contact) DO UPDATE SET item = excluded.item, version = excluded.version`,
    ),
    itemDelete: db.prepare<[string, string]>('DELETE FROM roster_items WHERE user = ? AND contact = ?'),
    itemsSince: db.prepare<[string, number], ItemRow>(
      'SELECT item FROM roster_items WHERE user = ? AND version > ? ORDER BY contact',
    ),
    tombUpsert: db.prepare<[string, string, number]>(
      `INSERT INTO roster_tombstones (user, contact, version) VALUES (?, ?, ?)
       ON CONFLICT (user, contact) DO UPDATE SET version = excluded.version`,
    ),
    tombDelete: db.prepare<[string, string]>('DELETE FROM roster_tombstones WHERE user = ? AND contact = ?'),
    tombCount: db.prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM roster_tombstones WHERE user = ?',
    ),
    tombOldest: db.prepare<[string, number], { contact: string; version: number }>(
      'SELECT contact, version FROM roster_tombstones WHERE user = ? ORDER BY version LIMIT ?',
    ),
    tombsSince: db.prepare<[string, number], { contact: string }>(
      'SELECT contact FROM roster_tombstones WHERE user = ? AND version > ? ORDER BY contact',
    ),

    offlineHas: db.prepare<[string, string], { one: number }>(
      'SELECT 1 AS one FROM offline WHERE user = ? AND id = ?',
    ),
    offlineCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM offline WHERE user = ?'),
    offlineInsert: db.prepare<[string, string, string, number]>(
      'INSERT INTO offline (user, id, xml, ts) VALUES (?, ?, ?, ?)',
    ),
    offlineList: db.prepare<[string, number], OfflineRow>(
      'SELECT id, xml, ts FROM offline WHERE user = ? ORDER BY seq LIMIT ?',
    ),
    offlineDelete: db.prepare<[string, string]>('DELETE FROM offline WHERE user = ? AND id = ?'),

    privateGet: db.prepare<[string, string], { xml: string }>(
      'SELECT xml FROM private_xml WHERE user = ? AND key = ?',
    ),
    privateHas: db.prepare<[string, string], { one: number }>(
      'SELECT 1 AS one FROM private_xml WHERE user = ? AND key = ?',
    ),
    privateCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM private_xml WHERE user = ?'),
    privateUpsert: db.prepare<[string, string, string]>(
      `INSERT INTO private_xml (user, key, xml) VALUES (?, ?, ?)
       ON CONFLICT (user, key) DO UPDATE SET xml = excluded.xml`,
    ),
    privateDelete: db.prepare<[string, string]>('DELETE FROM private_xml WHERE user = ? AND key = ?'),

    vcardGet: db.prepare<[string], { xml: string }>('SELECT xml FROM vcards WHERE user = ?'),
    vcardUpsert: db.prepare<[string, string]>(
      'INSERT INTO vcards (user, xml) VALUES (?, ?) ON CONFLICT (user) DO UPDATE SET xml = excluded.xml',
    ),
    vcardDelete: db.prepare<[string]>('DELETE FROM vcards WHERE user = ?'),

    blockList: db.prepare<[string], { jid: string }>('SELECT jid FROM blocklist WHERE user = ? ORDER BY jid'),
    blockHas: db.prepare<[string, string], { one: number }>(
      'SELECT 1 AS one FROM blocklist WHERE user = ? AND jid = ?',
    ),
    blockCount: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM blocklist WHERE user = ?'),
    blockInsert: db.prepare<[string, string]>(
      'INSERT INTO blocklist (user, jid) VALUES (?, ?) ON CONFLICT DO NOTHING',
    ),
    blockDelete: db.prepare<[string, string]>('DELETE FROM blocklist WHERE user = ? AND jid = ?'),
    blockClear: db.prepare<[string]>('DELETE FROM blocklist WHERE user = ?'),
  };

  const purgeUser = [
    'DELETE FROM roster_meta WHERE user = ?',
    'DELETE FROM roster_items WHERE user = ?',
    'DELETE FROM roster_tombstones WHERE user = ?',
    'DELETE FROM offline WHERE user = ?',
    'DELETE FROM private_xml WHERE user = ?',
    'DELETE FROM vcards WHERE user = ?',
    'DELETE FROM blocklist WHERE user = ?',
    ...MOBILE_PURGE_USER,
  ].map((sql) => db.prepare<[string]>(sql));

  const toAccount = (row: AccountRow): Account => ({
    jid: row.jid,
    credentials: JSON.parse(row.credentials) as Credentials,
    createdAt: row.created_at,
  });
  const parseItem = (row: ItemRow): RosterItem => JSON.parse(row.item) as RosterItem;
  const versionOf = (meta: MetaRow | undefined): string =>
    meta === undefined ? EMPTY_ROSTER_VERSION : formatVersion(meta.epoch, meta.version);

  const deleteAccount = db.transaction((jid: string): boolean => {
    const existed = q.accountDelete.run(jid).changes > 0;
    for (const stmt of purgeUser) stmt.run(jid);
    return existed;
  });

  const rosterUpdate = db.transaction((user: string, contact: string, fn: RosterMutation): RosterUpdate => {
    const row = q.itemGet.get(user, contact);
    const current = row === undefined ? null : parseItem(row);
    const returned = fn(current);
    const next = returned === null ? null : canonicalItem(contact, returned);
    let meta = q.metaGet.get(user);
    if (sameItem(current, next)) return { item: current, version: versionOf(meta), changed: false };

    if (current === null && q.itemCount.get(user)!.n >= limits.rosterCap) {
      throw new RosterFullError(user, limits.rosterCap);
    }
    if (meta === undefined) {
      q.metaInsert.run(user, newEpoch());
      meta = q.metaGet.get(user)!;
    }
    const version = q.metaBump.get(user)!.version;
    if (next === null) {
      q.itemDelete.run(user, contact);
      q.tombUpsert.run(user, contact, version);
      const excess = q.tombCount.get(user)!.n - limits.rosterTombstoneCap;
      if (excess > 0) {
        // Forgetting a removal means versions before it can no longer get a delta.
        const oldest = q.tombOldest.all(user, excess);
        for (const t of oldest) q.tombDelete.run(user, t.contact);
        q.metaSetBase.run(oldest[oldest.length - 1]!.version, user);
      }
    } else {
      q.itemUpsert.run(user, contact, JSON.stringify(next), version);
      q.tombDelete.run(user, contact);
    }
    return { item: next, version: formatVersion(meta.epoch, version), changed: true };
  });

  const changesSince = db.transaction((user: string, version: string): RosterDelta | null => {
    const meta = q.metaGet.get(user);
    if (meta === undefined) {
      return version === EMPTY_ROSTER_VERSION ? { version, items: [], removed: [] } : null;
    }
    const parsed = parseVersion(version);
    if (parsed === null || parsed.epoch !== meta.epoch) return null;
    if (parsed.counter < meta.base || parsed.counter > meta.version) return null;
    return {
      version: versionOf(meta),
      items: q.itemsSince.all(user, parsed.counter).map(parseItem),
      removed: q.tombsSince.all(user, parsed.counter).map((r) => r.contact),
    };
  });

  const rosterGet = db.transaction((user: string) => ({
    version: versionOf(q.metaGet.get(user)),
    items: q.itemsAll.all(user).map(parseItem),
  }));

  const offlinePush = db.transaction((user: string, m: OfflineMessage): boolean => {
    if (q.offlineHas.get(user, m.id) !== undefined) return false;
    if (q.offlineCount.get(user)!.n >= limits.offlineCap) throw new OfflineFullError(user, limits.offlineCap);
    q.offlineInsert.run(user, m.id, m.xml, m.ts);
    return true;
  });

  const offlineRemove = db.transaction((user: string, ids: readonly string[]): number => {
    let n = 0;
    for (const id of new Set(ids)) n += q.offlineDelete.run(user, id).changes;
    return n;
  });

  const privateSet = db.transaction((user: string, key: string, xml: string): void => {
    const bytes = utf8Bytes(xml);
    if (bytes > limits.privateXmlMaxBytes)
      throw new TooLargeError('private', bytes, limits.privateXmlMaxBytes);
    if (q.privateHas.get(user, key) === undefined && q.privateCount.get(user)!.n >= limits.privateXmlCap) {
      throw new PrivateStorageFullError(user, limits.privateXmlCap);
    }
    q.privateUpsert.run(user, key, xml);
  });

  const blockAdd = db.transaction((user: string, jids: readonly string[]): void => {
    const fresh = [...new Set(jids)].filter((jid) => q.blockHas.get(user, jid) === undefined);
    if (q.blockCount.get(user)!.n + fresh.length > limits.blocklistCap) {
      throw new BlocklistFullError(user, limits.blocklistCap);
    }
    for (const jid of fresh) q.blockInsert.run(user, jid);
  });

  const blockRemove = db.transaction((user: string, jids: readonly string[]): void => {
    for (const jid of jids) q.blockDelete.run(user, jid);
  });

  return {
    accounts: {
      create: (jid, credentials) =>
        sync(() => {
          const clean = sanitizeCredentials(credentials);
          const createdAt = Date.now();
          const inserted =
            q.accountInsert.run(jid, domainOf(jid), JSON.stringify(clean), createdAt).changes > 0;
          if (!inserted) throw new AccountExistsError(jid);
          return { jid, credentials: clean, createdAt };
        }),
      get: (jid) =>
        sync(() => {
          const row = q.accountGet.get(jid);
          return row === undefined ? null : toAccount(row);
        }),
      setCredentials: (jid, credentials) =>
        sync(() => {
          const clean = sanitizeCredentials(credentials);
          if (q.accountSetCredentials.run(JSON.stringify(clean), jid).changes === 0) {
            throw new AccountNotFoundError(jid);
          }
        }),
      delete: (jid) => sync(() => deleteAccount(jid)),
      list: (opts: AccountListOptions = {}) =>
        sync(() =>
          q.accountList
            .all({
              domain: opts.domain ?? null,
              prefix: opts.prefix ?? '',
              after: opts.after ?? null,
              limit: opts.limit ?? 100,
            })
            .map((r) => r.jid),
        ),
      count: (domain) =>
        sync(() => (domain === undefined ? q.accountCountAll.get() : q.accountCountDomain.get(domain))!.n),
    },
    rosters: {
      get: (user) => sync(() => rosterGet(user)),
      getItem: (user, contact) =>
        sync(() => {
          const row = q.itemGet.get(user, contact);
          return row === undefined ? null : parseItem(row);
        }),
      update: (user, contact, fn) => sync(() => rosterUpdate(user, contact, fn)),
      changesSince: (user, version) => sync(() => changesSince(user, version)),
    },
    offline: {
      push: (user, message) => sync(() => offlinePush(user, message)),
      list: (user, limit) =>
        sync(() =>
          limit !== undefined && limit <= 0
            ? []
            : q.offlineList.all(user, limit ?? -1).map((r) => ({ id: r.id, xml: r.xml, ts: r.ts })),
        ),
      remove: (user, ids) => sync(() => offlineRemove(user, ids)),
      count: (user) => sync(() => q.offlineCount.get(user)!.n),
    },
    privateXml: {
      get: (user, key) => sync(() => q.privateGet.get(user, key)?.xml ?? null),
      set: (user, key, xml) =>
        sync(() => {
          privateSet(user, key, xml);
        }),
      delete: (user, key) =>
        sync(() => {
          q.privateDelete.run(user, key);
        }),
    },
    vcards: {
      get: (user) => sync(() => q.vcardGet.get(user)?.xml ?? null),
      set: (user, xml) =>
        sync(() => {
          const bytes = utf8Bytes(xml);
          if (bytes > limits.vcardMaxBytes) throw new TooLargeError('vcard', bytes, limits.vcardMaxBytes);
          q.vcardUpsert.run(user, xml);
        }),
      delete: (user) =>
        sync(() => {
          q.vcardDelete.run(user);
        }),
    },
    blocklists: {
      list: (user) => sync(() => q.blockList.all(user).map((r) => r.jid)),
      add: (user, jids) =>
        sync(() => {
          blockAdd(user, jids);
        }),
      remove: (user, jids) =>
        sync(() => {
          blockRemove(user, jids);
        }),
      clear: (user) =>
        sync(() => {
          q.blockClear.run(user);
        }),
      isBlocked: (user, jid) =>
        sync(() => blockCandidates(jid).some((candidate) => q.blockHas.get(user, candidate) !== undefined)),
    },
    ...embeddedMobileStores(db),
    close: () =>
      sync(() => {
        if (db.open) db.close();
      }),
  };
}
