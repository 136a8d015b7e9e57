import { deriveCredentials, type Store } from '../../packages/store/src/index.js';
import { SCRAM_ITERATIONS, ringContacts, type PeerStartOptions } from './peer.js';

/**
 * The accounts (and, with `contacts`, the ring of mutual subscriptions) a scenario needs, written
 * straight into a Switchboard store (embedded or Redis) before the server starts.
 */
export async function provisionAccounts(
  store: Store,
  options: PeerStartOptions,
  domain: string,
): Promise<void> {
  const { users, password } = options;
  const batch = 64;
  for (let i = 0; i < users.length; i += batch) {
    await Promise.all(
      users.slice(i, i + batch).map(async (user) => {
        await store.accounts.create(`${user}@${domain}`, await deriveCredentials(password, SCRAM_ITERATIONS));
      }),
    );
  }
  const contacts = options.contacts ?? 0;
  if (contacts === 0) return;
  for (let i = 0; i < users.length; i++) {
    const user = `${users[i]!}@${domain}`;
    await Promise.all(
      ringContacts(i, users.length, contacts).map((j) => {
        const jid = `${users[j]!}@${domain}`;
        return store.rosters.update(user, jid, () => ({ jid, subscription: 'both', groups: [] }));
      }),
    );
  }
}
