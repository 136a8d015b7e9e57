import type { LastActivity, SessionRecord, SessionRegistry } from './registry.js';

/** Sessions in this process only: the embedded mode, and tests. */
export function createMemorySessionRegistry(): SessionRegistry {
  const users = new Map<string, Map<string, SessionRecord>>();
  // Shared empty result so an offline lookup allocates nothing.
  const none: readonly SessionRecord[] = [];
  const lists = new Map<string, readonly SessionRecord[]>();
  const last = new Map<string, LastActivity>();

  const listOf = (bare: string): readonly SessionRecord[] => {
    let list = lists.get(bare);
    if (list === undefined) {
      const sessions = users.get(bare);
      list = sessions === undefined ? none : [...sessions.values()];
      lists.set(bare, list);
    }
    return list;
  };

  return {
    list: (bare) => Promise.resolve(listOf(bare)),
    peek: listOf,
    get(bare, resource) {
      return Promise.resolve(users.get(bare)?.get(resource) ?? null);
    },
    put(bare, record) {
      let sessions = users.get(bare);
      if (sessions === undefined) users.set(bare, (sessions = new Map<string, SessionRecord>()));
      sessions.set(record.resource, record);
      lists.delete(bare);
      return Promise.resolve();
    },
    remove(bare, resource) {
      const sessions = users.get(bare);
      const record = sessions?.get(resource) ?? null;
      if (sessions !== undefined && record !== null) {
        sessions.delete(resource);
        if (sessions.size === 0) users.delete(bare);
        lists.delete(bare);
      }
      return Promise.resolve(record);
    },
    getLastActivity(bare) {
      return Promise.resolve(last.get(bare) ?? null);
    },
    setLastActivity(bare, activity) {
      last.set(bare, activity);
      return Promise.resolve();
    },
    // The memory registry is the truth, not a cache: nothing to forget.
    forget() {},
    close() {
      return Promise.resolve();
    },
  };
}
