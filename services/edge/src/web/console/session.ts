import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import saslprep from '@mongodb-js/saslprep';
import { deriveScramCredential, type Store } from '@switchboard/store';

/** Who logged in: the holder of the admin token, or one of the configured admin accounts. */
export interface ConsoleSession {
  /** `token` or the admin's bare JID. */
  readonly subject: string;
  /** Milliseconds since the epoch. */
  readonly expires: number;
  /** Random per login; the CSRF token is derived from it. */
  readonly nonce: string;
}

/**
 * Stateless console sessions: the cookie carries the session and an HMAC over it, so any edge that
 * shares the key accepts it (no session store across edges). The CSRF token is a second HMAC of the
 * session's nonce (a "signed double-submit" token): a page gets it in a meta tag, a state-changing
 * request must echo it in `x-csrf-token`; another origin can read neither.
 */
export class SessionSigner {
  private readonly key: Buffer;

  constructor(secret: string | undefined, adminToken: string) {
    this.key =
      secret !== undefined
        ? Buffer.from(secret, 'utf8')
        : Buffer.from(hkdfSync('sha256', adminToken, 'switchboard', 'console session cookies', 32));
  }

  issue(subject: string, ttlMs: number, now = Date.now()): { cookie: string; session: ConsoleSession } {
    const session: ConsoleSession = {
      subject,
      expires: now + ttlMs,
      nonce: randomBytes(16).toString('base64url'),
    };
    const body = Buffer.from(JSON.stringify(session), 'utf8').toString('base64url');
    return { cookie: `${body}.${this.mac('session', body)}`, session };
  }

  /** The session a cookie carries, or null when it is forged, malformed or expired. */
  verify(cookie: string | undefined, now = Date.now()): ConsoleSession | null {
    if (cookie === undefined) return null;
    const dot = cookie.indexOf('.');
    if (dot <= 0) return null;
    const body = cookie.slice(0, dot);
    if (!safeEqual(cookie.slice(dot + 1), this.mac('session', body))) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    if (typeof parsed !== 'object' || parsed === null) return null;
    const { subject, expires, nonce } = parsed as Record<string, unknown>;
    if (typeof subject !== 'string' || typeof expires !== 'number' || typeof nonce !== 'string') return null;
    if (expires <= now) return null;
    return { subject, expires, nonce };
  }

  csrfToken(session: ConsoleSession): string {
    return this.mac('csrf', session.nonce);
  }

  checkCsrf(session: ConsoleSession, presented: string | undefined): boolean {
    return presented !== undefined && safeEqual(presented, this.csrfToken(session));
  }

  /** The login form's own token, bound to the pre-login cookie (double submit). */
  loginToken(preLogin: string): string {
    return this.mac('login', preLogin);
  }

  private mac(purpose: string, value: string): string {
    return createHmac('sha256', this.key).update(`${purpose}\0${value}`).digest('base64url');
  }
}

export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Checks an admin account's password the way SCRAM-SHA-256 would (RFC 5802 §3, RFC 7677): the
 * stored key is H(HMAC(Hi(password, salt, i), "Client Key")); the password itself is never stored.
 */
export async function checkAccountPassword(
  store: Store,
  bareJid: string,
  password: string,
): Promise<boolean> {
  const account = await store.accounts.get(bareJid);
  // Unknown accounts cost the same work, so a timing difference does not tell which exist.
  const stored = account?.credentials['SCRAM-SHA-256'];
  let prepared: string;
  try {
    prepared = saslprep(password); // RFC 5802 §2.2: passwords are SASLprep'd stored strings.
  } catch {
    return false;
  }
  if (prepared === '') return false;
  const salt = stored === undefined ? randomBytes(16) : Buffer.from(stored.salt, 'base64');
  const derived = await deriveScramCredential('sha256', prepared, stored?.iterations ?? 4096, salt);
  return stored !== undefined && safeEqual(derived.storedKey, stored.storedKey);
}

/** Failed console logins per client address in a window; past the limit, logins are refused until it ends. */
export class LoginFailures {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly limit = 10,
    private readonly windowMs = 15 * 60_000,
  ) {}

  blocked(ip: string, now = Date.now()): boolean {
    const entry = this.failures.get(ip);
    if (entry === undefined) return false;
    if (now - entry.since > this.windowMs) {
      this.failures.delete(ip);
      return false;
    }
    return entry.count >= this.limit;
  }

  fail(ip: string, now = Date.now()): void {
    const entry = this.failures.get(ip);
    if (entry === undefined || now - entry.since > this.windowMs)
      this.failures.set(ip, { count: 1, since: now });
    else entry.count += 1;
    if (this.failures.size > 10_000) this.failures.clear(); // bounded memory under a spray of addresses
  }

  succeed(ip: string): void {
    this.failures.delete(ip);
  }
}
