import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** XEP-0220 namespaces: the `db:` elements and the stream feature (§2.4). */
export const NS_DIALBACK = 'jabber:server:dialback';
export const NS_DIALBACK_FEATURE = 'urn:xmpp:features:dialback';

/**
 * XEP-0185 §3: key = HMAC-SHA256(SHA256(secret), receiving + ' ' + originating + ' ' + stream id),
 * hex. Only the authoritative server (us) ever checks it, so the exact recipe is ours to keep.
 */
export function dialbackKey(
  secret: string,
  receiving: string,
  originating: string,
  streamId: string,
): string {
  const key = createHash('sha256').update(secret).digest('hex');
  return createHmac('sha256', key).update(`${receiving} ${originating} ${streamId}`).digest('hex');
}

export function keysMatch(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
