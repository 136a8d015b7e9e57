import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * What a PUT token promises: the slot, the exact size and content type the
 * client asked for (XEP-0363 §4: the upload must match the request), the
 * file name in the URL, the uploader and when the promise lapses. Signed with
 * HMAC-SHA256 so any replica holding the secret can check it without shared state.
 */
export interface SlotClaims {
  readonly slotId: string;
  readonly filename: string;
  readonly size: number;
  readonly contentType: string;
  /** Bare JID of the requester (kept with the file, for operators). */
  readonly owner: string;
  /** Unix time, seconds. */
  readonly expiresAt: number;
}

export type TokenProblem = 'malformed' | 'bad-signature' | 'expired';

export type TokenCheck =
  { readonly ok: true; readonly claims: SlotClaims } | { readonly ok: false; readonly problem: TokenProblem };

interface WireClaims {
  s: string;
  f: string;
  n: number;
  t: string;
  o: string;
  e: number;
}

/** `base64url(JSON claims) "." base64url(HMAC-SHA256(secret, first part))`. */
export function signSlotToken(claims: SlotClaims, secret: string): string {
  const wire: WireClaims = {
    s: claims.slotId,
    f: claims.filename,
    n: claims.size,
    t: claims.contentType,
    o: claims.owner,
    e: claims.expiresAt,
  };
  const body = Buffer.from(JSON.stringify(wire), 'utf8').toString('base64url');
  return `${body}.${mac(body, secret).toString('base64url')}`;
}

/** Checks the signature first (constant time), then the claims' shape, then expiry. */
export function verifySlotToken(token: string, secret: string, nowSeconds: number): TokenCheck {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return { ok: false, problem: 'malformed' };
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = mac(body, secret);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, problem: 'bad-signature' };
  let wire: unknown;
  try {
    wire = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, problem: 'malformed' };
  }
  if (!isWireClaims(wire)) return { ok: false, problem: 'malformed' };
  if (wire.e <= nowSeconds) return { ok: false, problem: 'expired' };
  return {
    ok: true,
    claims: {
      slotId: wire.s,
      filename: wire.f,
      size: wire.n,
      contentType: wire.t,
      owner: wire.o,
      expiresAt: wire.e,
    },
  };
}

function mac(body: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

function isWireClaims(value: unknown): value is WireClaims {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['s'] === 'string' &&
    typeof v['f'] === 'string' &&
    typeof v['t'] === 'string' &&
    typeof v['o'] === 'string' &&
    Number.isSafeInteger(v['n']) &&
    Number.isSafeInteger(v['e'])
  );
}
