import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * XEP-0114 §3: the component proves it knows the shared secret with the lowercase hex SHA-1 of
 * the stream id followed by the secret, both as UTF-8.
 */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash('sha1')
    .update(streamId + secret, 'utf8')
    .digest('hex');
}

/** Whether `supplied` is the right digest; hex case is ignored (Prosody compares lowercased). */
export function verifyHandshake(streamId: string, secret: string, supplied: string): boolean {
  const expected = Buffer.from(handshakeDigest(streamId, secret), 'utf8');
  const given = Buffer.from(supplied.trim().toLowerCase(), 'utf8');
  // timingSafeEqual needs equal lengths; the length of a SHA-1 hex digest is no secret.
  return given.length === expected.length && timingSafeEqual(given, expected);
}
