import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signSlotToken, verifySlotToken, type SlotClaims } from './token.js';

const SECRET = 'a-test-secret-of-enough-length';
const CLAIMS: SlotClaims = {
  slotId: 'AAAAAAAAAAAAAAAAAAAAAA',
  filename: 'trip photo é.jpg',
  size: 23456,
  contentType: 'image/jpeg',
  owner: 'juliet@capulet.lit',
  expiresAt: 1_000_300,
};

describe('slot tokens', () => {
  it('round-trips the claims while unexpired', () => {
    const token = signSlotToken(CLAIMS, SECRET);
    expect(verifySlotToken(token, SECRET, 1_000_000)).toEqual({ ok: true, claims: CLAIMS });
  });

  it('is URL-safe, so it can sit in a query string unescaped', () => {
    expect(signSlotToken(CLAIMS, SECRET)).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  it('refuses a token whose claims were changed (a bigger size)', () => {
    const [, mac] = signSlotToken(CLAIMS, SECRET).split('.');
    const forged = Buffer.from(
      JSON.stringify({
        s: CLAIMS.slotId,
        f: CLAIMS.filename,
        n: 10 ** 9,
        t: 'image/jpeg',
        o: CLAIMS.owner,
        e: CLAIMS.expiresAt,
      }),
    ).toString('base64url');
    expect(verifySlotToken(`${forged}.${mac}`, SECRET, 1_000_000)).toEqual({
      ok: false,
      problem: 'bad-signature',
    });
  });

  it('refuses a token signed with another secret', () => {
    const token = signSlotToken(CLAIMS, 'another-secret-entirely-here');
    expect(verifySlotToken(token, SECRET, 1_000_000)).toEqual({ ok: false, problem: 'bad-signature' });
  });

  it('refuses a changed signature, including a truncated one', () => {
    const token = signSlotToken(CLAIMS, SECRET);
    const flipped = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    expect(verifySlotToken(flipped, SECRET, 1_000_000).ok).toBe(false);
    expect(verifySlotToken(token.slice(0, -5), SECRET, 1_000_000)).toEqual({
      ok: false,
      problem: 'bad-signature',
    });
  });

  it('refuses an expired token, at the second it expires', () => {
    const token = signSlotToken(CLAIMS, SECRET);
    expect(verifySlotToken(token, SECRET, CLAIMS.expiresAt - 1).ok).toBe(true);
    expect(verifySlotToken(token, SECRET, CLAIMS.expiresAt)).toEqual({ ok: false, problem: 'expired' });
  });

  it('calls garbage malformed', () => {
    for (const garbage of ['', 'abc', 'a.b.c', '.sig', 'x.'])
      expect(verifySlotToken(garbage, SECRET, 0).ok).toBe(false);
    expect(verifySlotToken('abc', SECRET, 0)).toEqual({ ok: false, problem: 'malformed' });
  });

  it('refuses well-signed claims of the wrong shape', () => {
    const body = Buffer.from(JSON.stringify({ s: 'x', n: '12' })).toString('base64url');
    const mac = createHmac('sha256', SECRET).update(body).digest('base64url');
    expect(verifySlotToken(`${body}.${mac}`, SECRET, 0)).toEqual({ ok: false, problem: 'malformed' });
  });
});
