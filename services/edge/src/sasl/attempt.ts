import { createHmac } from 'node:crypto';
import { DEFAULT_ITERATIONS, SCRAM_HASHES, type ScramMechanism } from './credentials.js';
import { decodeBase64 } from './base64.js';
import type { Credentials, SaslCondition, SaslContext, SaslFailure, SaslStep } from './types.js';

// What every mechanism does around its own exchange: throttling, lookup, fake salts, authorization.

export function fail(condition: SaslCondition, text?: string): SaslFailure {
  return text === undefined ? { kind: 'failure', condition } : { kind: 'failure', condition, text };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** SASL payloads of SCRAM and PLAIN are UTF-8 (RFC 5802 §7, RFC 4616 §2); null when they are not. */
export function decodeUtf8(data: Buffer): string | null {
  try {
    return utf8.decode(data);
  } catch {
    return null;
  }
}

export function throttleGate(ctx: SaslContext, username: string): SaslFailure | null {
  if (ctx.throttle === undefined) return null;
  const decision = ctx.throttle.limiter.check(ctx.throttle.ip, username);
  if (decision.ok) return null;
  return {
    kind: 'failure',
    condition: 'temporary-auth-failure',
    text: 'too many failed logins',
    retryAfterMs: decision.retryAfterMs,
  };
}

/** The proof did not hold: count it and answer not-authorized, the same for unknown users. */
export function rejectCredentials(ctx: SaslContext, username: string): SaslFailure {
  ctx.throttle?.limiter.recordFailure(ctx.throttle.ip, username);
  return fail('not-authorized');
}

export async function lookupCredentials(
  ctx: SaslContext,
  username: string,
): Promise<{ ok: true; credentials: Credentials | null } | SaslFailure> {
  try {
    return { ok: true, credentials: await ctx.lookup(username) };
  } catch {
    // RFC 6120 §6.5.12: a store outage is the server's problem, not the client's credentials.
    return fail('temporary-auth-failure', 'credential store unavailable');
  }
}

export interface UsableCredential {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/**
 * The account's credential for one hash, decoded and checked; or, for an unknown account, a salt
 * and iteration count derived from a secret and the name, so that repeated probes see the same
 * stable answer a real account would give (RFC 5802 §9, user enumeration).
 */
export function credentialFor(
  ctx: SaslContext,
  mechanism: ScramMechanism,
  username: string,
  credentials: Credentials | null,
): { ok: true; known: UsableCredential | null; iterations: number; salt: Buffer } | SaslFailure {
  const stored = credentials?.[mechanism];
  if (stored === undefined) {
    const salt = createHmac('sha256', ctx.fakeSaltSecret)
      .update(`${mechanism}\0${username}`)
      .digest()
      .subarray(0, 16);
    return { ok: true, known: null, iterations: ctx.fakeIterations ?? DEFAULT_ITERATIONS, salt };
  }
  const { length } = SCRAM_HASHES[mechanism];
  const salt = decodeBase64(stored.salt);
  const storedKey = decodeBase64(stored.storedKey);
  const serverKey = decodeBase64(stored.serverKey);
  if (
    salt === null ||
    salt.length === 0 ||
    storedKey?.length !== length ||
    serverKey?.length !== length ||
    !Number.isSafeInteger(stored.iterations) ||
    stored.iterations < 1
  ) {
    return fail('temporary-auth-failure', 'stored credential is unusable');
  }
  if (stored.iterations < (ctx.minIterations ?? DEFAULT_ITERATIONS)) {
    return fail('mechanism-too-weak', 'stored credential has too few iterations');
  }
  return {
    ok: true,
    known: { iterations: stored.iterations, salt, storedKey, serverKey },
    iterations: stored.iterations,
    salt,
  };
}

/** RFC 6120 §6.3.8: an authzid is fine when absent or the user's own bare JID. */
function isOwnJid(ctx: SaslContext, authzid: string, username: string): boolean {
  if (ctx.isOwnJid !== undefined) return ctx.isOwnJid(authzid, username);
  const at = authzid.indexOf('@');
  if (at < 0 || authzid.includes('/')) return false;
  return (
    authzid.slice(0, at) === username && authzid.slice(at + 1).toLowerCase() === ctx.domain.toLowerCase()
  );
}

/** After the credentials were proven: account state, then the authzid (RFC 6120 §6.4.6). */
export async function authorize(
  ctx: SaslContext,
  username: string,
  authzid: string | null,
  data?: Buffer,
): Promise<SaslStep> {
  ctx.throttle?.limiter.recordSuccess(ctx.throttle.ip, username);
  if (ctx.checkAccount !== undefined) {
    let status;
    try {
      status = await ctx.checkAccount(username);
    } catch {
      return fail('temporary-auth-failure', 'account store unavailable');
    }
    if (status !== 'ok') return fail(status);
  }
  if (authzid !== null && authzid !== '' && !isOwnJid(ctx, authzid, username)) return fail('invalid-authzid');
  return {
    kind: 'success',
    username,
    ...(data === undefined ? {} : { data }),
    ...(authzid === null || authzid === '' ? {} : { authzid }),
  };
}
