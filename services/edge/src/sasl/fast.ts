import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Keys } from '@switchboard/protocol';
import { authorize, fail, rejectCredentials, throttleGate } from './attempt.js';
import { prep, SaslPrepError } from './credentials.js';
import type { SaslContext, SaslFailure, SaslServer, SaslStep } from './types.js';

/** XEP-0484 namespace. */
export const FAST_NS = 'urn:xmpp:fast:0';

/** The token mechanisms we offer (draft-schmaus-kitten-sasl-ht, no channel binding). */
export const FAST_MECHANISMS = ['HT-SHA-256-NONE'] as const;

/** One token as stored: an id and when it expires. The secret is derived from the id (see `tokenSecret`). */
export interface StoredToken {
  readonly id: string;
  readonly mechanism: string;
  readonly expiresAt: number;
  readonly issuedAt: number;
}

/**
 * The tokens of one account for one client (its XEP-0388 user-agent id): the current one and the
 * one it replaced, which stays valid until the client has used the new one (XEP-0484 §5 rotation).
 */
export interface TokenPair {
  readonly current: StoredToken | null;
  readonly previous: StoredToken | null;
}

export interface FastTokenStore {
  get(bare: string, agentId: string): Promise<TokenPair>;
  put(bare: string, agentId: string, pair: TokenPair): Promise<void>;
}

/** Tokens in this process (embedded mode): a restart loses them and clients log in with their password once. */
export function createMemoryFastTokenStore(now: () => number = Date.now): FastTokenStore {
  const pairs = new Map<string, TokenPair>();
  return {
    get(bare, agentId) {
      const pair = pairs.get(`${bare}\0${agentId}`);
      return Promise.resolve(live(pair ?? { current: null, previous: null }, now()));
    },
    put(bare, agentId, pair) {
      pairs.set(`${bare}\0${agentId}`, pair);
      return Promise.resolve();
    },
  };
}

/** The Redis commands the token store needs; an ioredis `Redis` satisfies it. */
export interface FastTokenRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, px: 'PX', ms: number): Promise<unknown>;
  del(key: string): Promise<number>;
}

/**
 * Tokens in Redis under the user's hash tag (`Keys.user(bare, 'fast:' + H(agent id))`), expiring
 * with the later of the two tokens. Only token ids are stored; the secrets need the edges' key.
 */
export function createRedisFastTokenStore(
  redis: FastTokenRedis,
  now: () => number = Date.now,
): FastTokenStore {
  const keyOf = (bare: string, agentId: string): string =>
    Keys.user(bare, `fast:${createHash('sha256').update(agentId).digest('base64url').slice(0, 22)}`);
  return {
    async get(bare, agentId) {
      const raw = await redis.get(keyOf(bare, agentId));
      return live(raw === null ? { current: null, previous: null } : (JSON.parse(raw) as TokenPair), now());
    },
    async put(bare, agentId, pair) {
      const expiry = Math.max(pair.current?.expiresAt ?? 0, pair.previous?.expiresAt ?? 0) - now();
      if (expiry <= 0) await redis.del(keyOf(bare, agentId));
      else await redis.set(keyOf(bare, agentId), JSON.stringify(pair), 'PX', Math.ceil(expiry));
    },
  };
}

function live(pair: TokenPair, at: number): TokenPair {
  const ok = (t: StoredToken | null): StoredToken | null => (t !== null && t.expiresAt > at ? t : null);
  return { current: ok(pair.current), previous: ok(pair.previous) };
}

/**
 * The token the client holds: the id, then a MAC of it under the edges' shared secret. Storage
 * keeps only ids, so a copy of Redis does not let anyone log in.
 */
export function tokenSecret(secret: Buffer, bare: string, id: string): string {
  const mac = createHmac('sha256', secret).update(`xep-0484\0${bare}\0${id}`).digest('base64url');
  return `${id}.${mac}`;
}

export interface FastOptions {
  readonly tokens: FastTokenStore;
  readonly secret: Buffer;
  /** XEP-0388 user-agent id of this login; tokens are bound to it (XEP-0484 §3). */
  readonly agentId: string;
  readonly lifetimeMs: number;
  readonly now?: () => number;
}

/** Issues a new token for the client, keeping the one it replaces as `previous` (XEP-0484 §5). */
export async function issueToken(
  options: FastOptions,
  bare: string,
  mechanism: string,
): Promise<{ token: string; expiresAt: number }> {
  const now = (options.now ?? Date.now)();
  const pair = await options.tokens.get(bare, options.agentId);
  const fresh: StoredToken = {
    id: randomBytes(18).toString('base64url'),
    mechanism,
    expiresAt: now + options.lifetimeMs,
    issuedAt: now,
  };
  await options.tokens.put(bare, options.agentId, { current: fresh, previous: pair.current });
  return { token: tokenSecret(options.secret, bare, fresh.id), expiresAt: fresh.expiresAt };
}

/** Forgets the client's tokens (XEP-0484 §6, `<fast invalidate='true'/>`). */
export async function invalidateTokens(options: FastOptions, bare: string): Promise<void> {
  await options.tokens.put(bare, options.agentId, { current: null, previous: null });
}

/**
 * HT-SHA-256-NONE (draft-schmaus-kitten-sasl-ht §3): the client sends `authcid NUL
 * HMAC-SHA-256(token, "Initiator")`; the server answers with HMAC-SHA-256(token, "Responder").
 * Success also says which token was used, so the caller can rotate it.
 */
export class HtSha256NoneServer implements SaslServer {
  readonly mechanism = 'HT-SHA-256-NONE';
  /** Set on success: the stored token that matched, and whether it was the current one. */
  used: { token: StoredToken; current: boolean } | null = null;
  private started = false;

  constructor(
    private readonly ctx: SaslContext,
    private readonly options: FastOptions,
  ) {}

  async start(data: Buffer | null): Promise<SaslStep> {
    if (this.started || data === null) return fail('malformed-request', 'HT needs an initial response');
    this.started = true;
    const nul = data.indexOf(0);
    if (nul <= 0) return fail('malformed-request', 'HT needs authcid NUL proof');
    const proof = data.subarray(nul + 1);
    let username: string;
    try {
      username = prep(data.subarray(0, nul).toString('utf8'), 'query');
    } catch (error) {
      if (error instanceof SaslPrepError) return fail('malformed-request', 'username refused by SASLprep');
      throw error;
    }
    const throttled = throttleGate(this.ctx, username);
    if (throttled !== null) return throttled;
    const bare = `${username}@${this.ctx.domain}`;
    let pair;
    try {
      pair = await this.options.tokens.get(bare, this.options.agentId);
    } catch {
      return fail('temporary-auth-failure', 'token store unavailable');
    }
    for (const [token, current] of [
      [pair.current, true],
      [pair.previous, false],
    ] as const) {
      if (token === null || token.mechanism !== this.mechanism) continue;
      const key = tokenSecret(this.options.secret, bare, token.id);
      const expected = createHmac('sha256', key).update('Initiator').digest();
      if (expected.length === proof.length && timingSafeEqual(expected, proof)) {
        this.used = { token, current };
        const responder = createHmac('sha256', key).update('Responder').digest();
        return authorize(this.ctx, username, null, responder);
      }
    }
    return rejectCredentials(this.ctx, username);
  }

  step(): Promise<SaslStep> {
    return Promise.resolve(fail('malformed-request', 'HT has a single message'));
  }

  abort(): SaslFailure {
    return fail('aborted');
  }
}
