import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveCredentials, openEmbeddedStore, type Store } from '@switchboard/store';
import { LoginFailures, SessionSigner, checkAccountPassword } from './session.js';

const TOKEN = 'an-admin-token-of-enough-length';

describe('SessionSigner', () => {
  const signer = new SessionSigner(undefined, TOKEN);

  it('accepts the cookie it issued until it expires', () => {
    const { cookie, session } = signer.issue('token', 60_000, 1_000);
    expect(signer.verify(cookie, 2_000)).toEqual(session);
    expect(signer.verify(cookie, 61_000)).toBeNull();
  });

  it('refuses a cookie whose payload was changed, or signed with another key', () => {
    const { cookie } = signer.issue('token', 60_000);
    const [body, mac] = cookie.split('.') as [string, string];
    const forged = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(body, 'base64url').toString()),
        subject: 'root@example.com',
      }),
    ).toString('base64url');
    expect(signer.verify(`${forged}.${mac}`)).toBeNull();
    expect(new SessionSigner(undefined, `${TOKEN}-rotated`).verify(cookie)).toBeNull();
    expect(signer.verify('not-a-cookie')).toBeNull();
    expect(signer.verify(undefined)).toBeNull();
  });

  it('accepts sessions from another edge that shares the secret', () => {
    const secret = 'a-session-secret-shared-by-every-edge';
    const { cookie } = new SessionSigner(secret, TOKEN).issue('token', 60_000);
    expect(new SessionSigner(secret, 'a-different-token-on-that-edge').verify(cookie)).not.toBeNull();
  });

  it('binds the CSRF token to one session', () => {
    const first = signer.issue('token', 60_000).session;
    const second = signer.issue('token', 60_000).session;
    expect(signer.checkCsrf(first, signer.csrfToken(first))).toBe(true);
    expect(signer.checkCsrf(first, signer.csrfToken(second))).toBe(false);
    expect(signer.checkCsrf(first, undefined)).toBe(false);
    expect(signer.checkCsrf(first, '')).toBe(false);
  });
});

describe('checkAccountPassword', () => {
  let dir: string;
  let store: Store;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'console-session-'));
    store = openEmbeddedStore({ path: join(dir, 'store.db') });
    await store.accounts.create('root@example.com', await deriveCredentials('correct horse', 64));
  });

  afterAll(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('checks the password against the stored SCRAM-SHA-256 key', async () => {
    await expect(checkAccountPassword(store, 'root@example.com', 'correct horse')).resolves.toBe(true);
    await expect(checkAccountPassword(store, 'root@example.com', 'Correct horse')).resolves.toBe(false);
    await expect(checkAccountPassword(store, 'nobody@example.com', 'correct horse')).resolves.toBe(false);
    await expect(checkAccountPassword(store, 'root@example.com', '')).resolves.toBe(false);
  });
});

describe('LoginFailures', () => {
  it('blocks an address after the limit until the window has passed', () => {
    const failures = new LoginFailures(3, 1000);
    for (let i = 0; i < 3; i++) failures.fail('192.0.2.1', 0);
    expect(failures.blocked('192.0.2.1', 500)).toBe(true);
    expect(failures.blocked('192.0.2.2', 500)).toBe(false);
    expect(failures.blocked('192.0.2.1', 1500)).toBe(false);
  });
});
