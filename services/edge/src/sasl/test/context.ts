import { deriveCredentials } from '../credentials.js';
import type { SaslServer } from '../types.js';
import type { Credentials, SaslContext, SaslStep } from '../types.js';
import type { ScramClient } from './scram-client.js';

export const DOMAIN = 'example.com';

/** Credentials for each user, derived the way registration does. */
export async function accountsOf(users: Record<string, string>): Promise<Map<string, Credentials>> {
  const entries = await Promise.all(
    Object.entries(users).map(async ([name, password]) => [name, await deriveCredentials(password)] as const),
  );
  return new Map(entries);
}

export function contextFor(
  accounts: Map<string, Credentials>,
  overrides: Partial<SaslContext> = {},
): SaslContext {
  return {
    lookup: (username) => Promise.resolve(accounts.get(username) ?? null),
    domain: DOMAIN,
    tls: null,
    bindings: [],
    fakeSaltSecret: Buffer.from('test fake-salt secret'),
    ...overrides,
  };
}

/** Runs client-first and client-final; stops at the first non-challenge answer. */
export async function exchange(
  server: SaslServer,
  client: ScramClient,
): Promise<{ serverFirst: SaslStep; outcome: SaslStep }> {
  const serverFirst = await server.start(client.first());
  if (serverFirst.kind !== 'challenge') return { serverFirst, outcome: serverFirst };
  return { serverFirst, outcome: await server.step(client.final(serverFirst.data)) };
}
