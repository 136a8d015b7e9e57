import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import saslprep from '@mongodb-js/saslprep';
import type { Credentials, ScramCredential } from './types.js';

const pbkdf2Async = promisify(pbkdf2);

export type ScramMechanism = 'SCRAM-SHA-1' | 'SCRAM-SHA-256';

interface HashSpec {
  readonly digest: 'sha1' | 'sha256';
  readonly length: number;
}

export const SCRAM_HASHES: Readonly<Record<ScramMechanism, HashSpec>> = {
  'SCRAM-SHA-1': { digest: 'sha1', length: 20 },
  'SCRAM-SHA-256': { digest: 'sha256', length: 32 },
};

export const DEFAULT_ITERATIONS = 4096;
const DEFAULT_SALT_BYTES = 16;

/** A password or username that SASLprep (RFC 4013) refuses; registration reports it to the user. */
export class SaslPrepError extends Error {
  override readonly name = 'SaslPrepError';
}

/**
 * SASLprep (RFC 4013). Stored strings refuse unassigned code points, queries allow them
 * (RFC 3454 §7); RFC 5802 §2.2 prepares passwords as stored strings, §5.1 usernames as queries.
 */
export function prep(value: string, kind: 'stored' | 'query'): string {
  let out: string;
  try {
    out = saslprep(value, { allowUnassigned: kind === 'query' });
  } catch (err) {
    // The library throws TypeError for input that maps to nothing; report both alike.
    throw new SaslPrepError(
      `SASLprep refused the string: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (out.length === 0) throw new SaslPrepError('empty after SASLprep');
  return out;
}

/** RFC 5802 §2.2 Hi(): PBKDF2 with HMAC as the PRF and one block of output. */
export async function saltedPassword(
  mechanism: ScramMechanism,
  normalizedPassword: string,
  salt: Buffer,
  iterations: number,
): Promise<Buffer> {
  const { digest, length } = SCRAM_HASHES[mechanism];
  return pbkdf2Async(Buffer.from(normalizedPassword, 'utf8'), salt, iterations, length, digest);
}

export function hmac(mechanism: ScramMechanism, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(SCRAM_HASHES[mechanism].digest, key).update(data).digest();
}

export function hash(mechanism: ScramMechanism, data: Buffer): Buffer {
  return createHash(SCRAM_HASHES[mechanism].digest).update(data).digest();
}

/** RFC 5802 §3: the keys a server keeps instead of the password. */
export function scramKeys(
  mechanism: ScramMechanism,
  salted: Buffer,
): { clientKey: Buffer; storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(mechanism, salted, 'Client Key');
  return {
    clientKey,
    storedKey: hash(mechanism, clientKey),
    serverKey: hmac(mechanism, salted, 'Server Key'),
  };
}

export interface DeriveOptions {
  /** Default 4096, the RFC 7677 §4 minimum. */
  iterations?: number;
  /** Fixed salt, for reproducing known vectors; a fresh random one otherwise. */
  salt?: Buffer;
}

/** One SCRAM credential from a password that is SASLprep'd here (as a stored string). */
export async function deriveScramCredential(
  mechanism: ScramMechanism,
  password: string,
  options: DeriveOptions = {},
): Promise<ScramCredential> {
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  const salt = options.salt ?? randomBytes(DEFAULT_SALT_BYTES);
  const salted = await saltedPassword(mechanism, prep(password, 'stored'), salt, iterations);
  const { storedKey, serverKey } = scramKeys(mechanism, salted);
  return {
    iterations,
    salt: salt.toString('base64'),
    storedKey: storedKey.toString('base64'),
    serverKey: serverKey.toString('base64'),
  };
}

/**
 * What registration and password change store: both hashes, each with its own random salt.
 * Throws SaslPrepError for passwords SASLprep refuses.
 */
export async function deriveCredentials(
  password: string,
  options: { iterations?: number } = {},
): Promise<Credentials> {
  const opts: DeriveOptions = options.iterations === undefined ? {} : { iterations: options.iterations };
  const [sha1, sha256] = await Promise.all([
    deriveScramCredential('SCRAM-SHA-1', password, opts),
    deriveScramCredential('SCRAM-SHA-256', password, opts),
  ]);
  return { 'SCRAM-SHA-1': sha1, 'SCRAM-SHA-256': sha256 };
}
