import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import saslprep from '@mongodb-js/saslprep';
import { InvalidCredentialsError } from './errors.js';
import type { Credentials, ScramCredential, ScramMechanism } from './store.js';

const pbkdf2Async = promisify(pbkdf2);

/** RFC 7677 §4 asks for at least 4096 iterations. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;

const SALT_BYTES = 16;
const MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-1', 'SCRAM-SHA-256'];

/**
 * The salted credential a server stores for SCRAM (RFC 5802 §3, RFC 7677):
 * SaltedPassword = Hi(password, salt, i) (that is PBKDF2 with HMAC-H),
 * ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
 * ServerKey = HMAC(SaltedPassword, "Server Key").
 * The password must already be SASLprep'd / OpaqueString-prepared by the
 * caller (RFC 5802 §2.2, RFC 8265). A random 16-byte salt is drawn when none is given.
 */
export async function deriveScramCredential(
  hash: 'sha1' | 'sha256',
  password: string,
  iterations: number = DEFAULT_SCRAM_ITERATIONS,
  salt: Uint8Array = randomBytes(SALT_BYTES),
): Promise<ScramCredential> {
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new InvalidCredentialsError(`iteration count must be a positive integer, got ${iterations}`);
  }
  const keyLength = hash === 'sha1' ? 20 : 32;
  const saltedPassword = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, keyLength, hash);
  const clientKey = createHmac(hash, saltedPassword).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const serverKey = createHmac(hash, saltedPassword).update('Server Key').digest();
  return {
    iterations,
    salt: Buffer.from(salt).toString('base64'),
    storedKey: storedKey.toString('base64'),
    serverKey: serverKey.toString('base64'),
  };
}

/**
 * Both credentials for a password, each with its own random salt. The password
 * is SASLprep'd as a stored string first (RFC 5802 §2.2, RFC 4013); one that
 * SASLprep refuses (or that maps to nothing) is an InvalidCredentialsError.
 */
export async function deriveCredentials(
  password: string,
  iterations: number = DEFAULT_SCRAM_ITERATIONS,
): Promise<Credentials> {
  let prepared: string;
  try {
    prepared = saslprep(password);
  } catch (err) {
    throw new InvalidCredentialsError(
      `password refused by SASLprep: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (prepared === '') throw new InvalidCredentialsError('password is empty after SASLprep');
  const [sha1, sha256] = await Promise.all([
    deriveScramCredential('sha1', prepared, iterations),
    deriveScramCredential('sha256', prepared, iterations),
  ]);
  return { 'SCRAM-SHA-1': sha1, 'SCRAM-SHA-256': sha256 };
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * A copy holding only the SCRAM fields, so that nothing else a caller's
 * object carries (a password, above all) ever reaches storage.
 */
export function sanitizeCredentials(credentials: Credentials): Credentials {
  const pick = (mechanism: ScramMechanism): ScramCredential => {
    const c = (credentials as Partial<Credentials> | null)?.[mechanism];
    if (c === undefined || c === null || typeof c !== 'object') {
      throw new InvalidCredentialsError(`missing ${mechanism} credential`);
    }
    const { iterations, salt, storedKey, serverKey } = c;
    if (!Number.isInteger(iterations) || iterations < 1) {
      throw new InvalidCredentialsError(`${mechanism}: iteration count must be a positive integer`);
    }
    for (const [field, value] of [
      ['salt', salt],
      ['storedKey', storedKey],
      ['serverKey', serverKey],
    ] as const) {
      if (typeof value !== 'string' || !BASE64.test(value)) {
        throw new InvalidCredentialsError(`${mechanism}: ${field} must be base64`);
      }
    }
    return { iterations, salt, storedKey, serverKey };
  };
  const [sha1, sha256] = MECHANISMS.map(pick) as [ScramCredential, ScramCredential];
  return { 'SCRAM-SHA-1': sha1, 'SCRAM-SHA-256': sha256 };
}
