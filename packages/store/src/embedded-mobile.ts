import type Database from 'better-sqlite3';
import { pageBounds, selectIds } from './archive-page.js';
import { PepNodeNotFoundError } from './errors.js';
import type {
  ArchivedMessage,
  ArchivePrefs,
  ArchiveStore,
  PepItem,
  PepNodeConfig,
  PepStore,
  PushStore,
} from './store.js';

/** Schema of the archive (XEP-0313), PEP (XEP-0163) and push (XEP-0357) tables: one migration. */
export const MOBILE_MIGRATION = `
  CREATE TABLE archive (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    with_jid TEXT NOT NULL,
    xml TEXT NOT NULL,
    UNIQUE (user, id)
  );
  CREATE INDEX archive_by_user ON archive (user, seq);
  CREATE INDEX archive_by_time ON archive (user, ts);
  CREATE TABLE archive_counts (
    user TEXT PRIMARY KEY,
    n INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE archive_prefs (
    user TEXT PRIMARY KEY,
    prefs TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE pep_nodes (
    user TEXT NOT NULL,
    node TEXT NOT NULL,
    config TEXT NOT NULL,
    PRIMARY KEY (user, node)
  ) WITHOUT ROWID;
  CREATE TABLE pep_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    node TEXT NOT NULL,
    id TEXT NOT NULL,
    xml TEXT NOT NULL,
    ts INTEGER NOT NULL,
    UNIQUE (user, node, id)
  );
  CREATE INDEX pep_items_by_node ON pep_items (user, node, seq);

  CREATE TABLE push_registrations (
    user TEXT NOT NULL,
    jid TEXT NOT NULL,
    node TEXT NOT NULL,
    form TEXT NOT NULL,
    resource TEXT NOT NULL,
    PRIMARY KEY (user, jid, node)
  ) WITHOUT ROWID;
`;

/** Statements that remove one user's rows of these tables (account deletion). */
export const MOBILE_PURGE_USER: readonly string[] = [
  'DELETE FROM archive WHERE user = ?',
  'DELETE FROM archive_counts WHERE user = ?',
  'DELETE FROM archive_prefs WHERE user = ?',
  'DELETE FROM pep_nodes WHERE user = ?',
  'DELETE FROM pep_items WHERE user = ?',
  'DELETE FROM push_registrations WHERE user = ?',
];

function sync<T>(f: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(f()));
}

interface ArchiveRow {
  id: string;
  ts: number;
  with_jid: string;
  xml: string;
}

const toMessage = (r: ArchiveRow): ArchivedMessage => ({ id: r.id, ts: r.ts, with: r.with_jid, xml: r.xml });

/** The archive, PEP and push stores of the embedded driver, on its open database. */
export function embeddedMobileStores(db: Database.Database): {
  archive: ArchiveStore;
  pep: PepStore;
  push: PushStore;
} {
  const q = {
    archiveInsert: db.prepare<[string, string, number, string, string]>(
      'INSERT INTO archive (user, id, ts, with_jid, xml) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    archiveCount: db.prepare<[string], { n: number }>('SELECT n FROM archive_counts WHERE user = ?'),
    archiveCountAdd: db.prepare<[string, number]>(
      `INSERT INTO archive_counts (user, n) VALUES (?, ?)
       ON CONFLICT (user) DO UPDATE SET n = n + excluded.n`,
    ),
    archiveDropOldest: db.prepare<[string, number]>(
      'DELETE FROM archive WHERE seq IN (SELECT seq FROM archive WHERE user = ? ORDER BY seq LIMIT ?)',
    ),
    archivePurge: db.prepare<[string, number]>('DELETE FROM archive WHERE user = ? AND ts < ?'),
    archiveIds: db.prepare<
      { user: string; with: string | null; start: number | null; end: number | null },
      { id: string }
    >(
      `SELECT id FROM archive WHERE user = @user
         AND (@with IS NULL OR with_jid = @with)
         AND (@start IS NULL OR ts >= @start)
         AND (@end IS NULL OR ts <= @end)
       ORDER BY seq`,
    ),
    archiveGet: db.prepare<[string, string], ArchiveRow>(
      'SELECT id, ts, with_jid, xml FROM archive WHERE user = ? AND id = ?',
    ),
    prefsGet: db.prepare<[string], { prefs: string }>('SELECT prefs FROM archive_prefs WHERE user = ?'),
    prefsSet: db.prepare<[string, string]>(
      'INSERT INTO archive_prefs (user, prefs) VALUES (?, ?) ON CONFLICT (user) DO UPDATE SET prefs = excluded.prefs',
    ),

    nodeGet: db.prepare<[string, string], { config: string }>(
      'SELECT config FROM pep_nodes WHERE user = ? AND node = ?',
    ),
    nodeList: db.prepare<[string], { node: string; config: string }>(
      'SELECT node, config FROM pep_nodes WHERE user = ? ORDER BY node',
    ),
    nodeUpsert: db.prepare<[string, string, string]>(
      `INSERT INTO pep_nodes (user, node, config) VALUES (?, ?, ?)
       ON CONFLICT (user, node) DO UPDATE SET config = excluded.config`,
    ),
    nodeDelete: db.prepare<[string, string]>('DELETE FROM pep_nodes WHERE user = ? AND node = ?'),
    itemsDeleteNode: db.prepare<[string, string]>('DELETE FROM pep_items WHERE user = ? AND node = ?'),
    itemDelete: db.prepare<[string, string, string]>(
      'DELETE FROM pep_items WHERE user = ? AND node = ? AND id = ?',
    ),
    itemInsert: db.prepare<[string, string, string, string, number]>(
      'INSERT INTO pep_items (user, node, id, xml, ts) VALUES (?, ?, ?, ?, ?)',
    ),
    itemsTrim: db.prepare<[string, string, string, string, number]>(
      `DELETE FROM pep_items WHERE seq IN (
         SELECT seq FROM pep_items WHERE user = ? AND node = ? ORDER BY seq
         LIMIT max(0, (SELECT count(*) FROM pep_items WHERE user = ? AND node = ?) - ?))`,
    ),
    items: db.prepare<[string, string, number], PepItem>(
      'SELECT id, xml, ts FROM pep_items WHERE user = ? AND node = ? ORDER BY seq DESC LIMIT ?',
    ),
    item: db.prepare<[string, string, string], PepItem>(
      'SELECT id, xml, ts FROM pep_items WHERE user = ? AND node = ? AND id = ?',
    ),

    pushList: db.prepare<[string], { jid: string; node: string; form: string; resource: string }>(
      'SELECT jid, node, form, resource FROM push_registrations WHERE user = ? ORDER BY jid, node',
    ),
    pushUpsert: db.prepare<[string, string, string, string, string]>(
      `INSERT INTO push_registrations (user, jid, node, form, resource) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user, jid, node) DO UPDATE SET form = excluded.form, resource = excluded.resource`,
    ),
    pushDeleteNode: db.prepare<[string, string, string]>(
      'DELETE FROM push_registrations WHERE user = ? AND jid = ? AND node = ?',
    ),
    pushDeleteJid: db.prepare<[string, string]>('DELETE FROM push_registrations WHERE user = ? AND jid = ?'),
  };

  // The count is kept in its own table: counting the rows on every append would cost O(n).
  const purge = (user: string, before: number): number => {
    const removed = q.archivePurge.run(user, before).changes;
    if (removed > 0) q.archiveCountAdd.run(user, -removed);
    return removed;
  };

  const appendOne = (
    user: string,
    m: ArchivedMessage,
    cap: number,
    notBefore: number | undefined,
  ): boolean => {
    if (notBefore !== undefined) purge(user, notBefore);
    if (q.archiveInsert.run(user, m.id, m.ts, m.with, m.xml).changes === 0) return false;
    q.archiveCountAdd.run(user, 1);
    const excess = (q.archiveCount.get(user)?.n ?? 0) - cap;
    if (excess > 0) q.archiveCountAdd.run(user, -q.archiveDropOldest.run(user, excess).changes);
    return true;
  };
  const append = db.transaction(appendOne);

  const purgeTx = db.transaction(purge);
  // One transaction for a whole batch: a commit per message costs more than the inserts themselves.
  const appendMany = db.transaction(
    (
      entries: readonly { user: string; message: ArchivedMessage }[],
      cap: number,
      notBefore: number | undefined,
    ): number => {
      let added = 0;
      for (const e of entries) if (appendOne(e.user, e.message, cap, notBefore)) added++;
      return added;
    },
  );

  const trim = (user: string, node: string, maxItems: number): void => {
    q.itemsTrim.run(user, node, user, node, maxItems);
  };

  const putNode = db.transaction((user: string, node: string, config: PepNodeConfig): void => {
    q.nodeUpsert.run(user, node, JSON.stringify(config));
    trim(user, node, config.persistItems ? config.maxItems : 1);
  });

  const deleteNode = db.transaction((user: string, node: string): boolean => {
    q.itemsDeleteNode.run(user, node);
    return q.nodeDelete.run(user, node).changes > 0;
  });

  const publish = db.transaction((user: string, node: string, item: PepItem): void => {
    const row = q.nodeGet.get(user, node);
    if (row === undefined) throw new PepNodeNotFoundError(user, node);
    const config = JSON.parse(row.config) as PepNodeConfig;
    q.itemDelete.run(user, node, item.id);
    q.itemInsert.run(user, node, item.id, item.xml, item.ts);
    // A node that does not persist items still keeps the last one (XEP-0163 §4.3.4 "last published").
    trim(user, node, config.persistItems ? config.maxItems : 1);
  });

  const query = db.transaction((user: string, qy: Parameters<ArchiveStore['query']>[1]) => {
    const ids = selectIds(
      q.archiveIds
        .all({ user, with: qy.with ?? null, start: qy.start ?? null, end: qy.end ?? null })
        .map((r) => r.id),
      qy,
    );
    const bounds = pageBounds(ids, qy);
    const messages = ids.slice(bounds.from, bounds.to).map((id) => toMessage(q.archiveGet.get(user, id)!));
    return { messages, count: ids.length, firstIndex: bounds.from, complete: bounds.complete };
  });

  const pushRemove = db.transaction((user: string, jid: string, node: string | undefined): number =>
    node === undefined
      ? q.pushDeleteJid.run(user, jid).changes
      : q.pushDeleteNode.run(user, jid, node).changes,
  );

  return {
    archive: {
      append: (user, message, options) => sync(() => append(user, message, options.cap, options.notBefore)),
      appendMany: (entries, options) => sync(() => appendMany(entries, options.cap, options.notBefore)),
      query: (user, qy) => sync(() => query(user, qy)),
      purge: (user, before) => sync(() => purgeTx(user, before)),
      count: (user) => sync(() => q.archiveCount.get(user)?.n ?? 0),
      getPrefs: (user) =>
        sync(() => {
          const row = q.prefsGet.get(user);
          return row === undefined ? null : (JSON.parse(row.prefs) as ArchivePrefs);
        }),
      setPrefs: (user, prefs) =>
        sync(() => {
          q.prefsSet.run(user, JSON.stringify(prefs));
        }),
    },
    pep: {
      getNode: (user, node) =>
        sync(() => {
          const row = q.nodeGet.get(user, node);
          return row === undefined ? null : (JSON.parse(row.config) as PepNodeConfig);
        }),
      listNodes: (user) =>
        sync(() =>
          q.nodeList.all(user).map((r) => ({ node: r.node, config: JSON.parse(r.config) as PepNodeConfig })),
        ),
      putNode: (user, node, config) =>
        sync(() => {
          putNode(user, node, config);
        }),
      deleteNode: (user, node) => sync(() => deleteNode(user, node)),
      publish: (user, node, item) =>
        sync(() => {
          publish(user, node, item);
        }),
      items: (user, node, max) =>
        sync(() =>
          max !== undefined && max <= 0
            ? []
            : q.items.all(user, node, max ?? -1).map((r) => ({ id: r.id, xml: r.xml, ts: r.ts })),
        ),
      item: (user, node, id) =>
        sync(() => {
          const r = q.item.get(user, node, id);
          return r === undefined ? null : { id: r.id, xml: r.xml, ts: r.ts };
        }),
      retract: (user, node, id) => sync(() => q.itemDelete.run(user, node, id).changes > 0),
    },
    push: {
      list: (user) =>
        sync(() =>
          q.pushList
            .all(user)
            .map((r) => ({ jid: r.jid, node: r.node, formXml: r.form, resource: r.resource })),
        ),
      put: (user, reg) =>
        sync(() => {
          q.pushUpsert.run(user, reg.jid, reg.node, reg.formXml, reg.resource);
        }),
      remove: (user, jid, node) => sync(() => pushRemove(user, jid, node)),
    },
  };
}
