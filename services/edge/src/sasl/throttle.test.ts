import { describe, expect, it } from 'vitest';
import { createMechanism } from './mechanisms.js';
import { accountsOf, contextFor, exchange } from './test/context.js';
import { ScramClient } from './test/scram-client.js';
import { ipKey, LoginThrottle } from './throttle.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('LoginThrottle', () => {
  it('refuses an account after 5 failures within a minute and lets it in again once the window passed', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now });
    for (let i = 0; i < 5; i++) {
      expect(throttle.check('192.0.2.1', 'juliet')).toEqual({ ok: true });
      throttle.recordFailure('192.0.2.1', 'juliet');
      time.advance(1_000);
    }
    // The first failure was 5 s ago; it leaves the window 55 s from now.
    expect(throttle.check('198.51.100.7', 'juliet')).toEqual({ ok: false, retryAfterMs: 55_000 });
    expect(throttle.check('198.51.100.7', 'romeo')).toEqual({ ok: true });
    time.advance(54_999);
    expect(throttle.check('198.51.100.7', 'juliet')).toEqual({ ok: false, retryAfterMs: 1 });
    time.advance(1);
    expect(throttle.check('198.51.100.7', 'juliet')).toEqual({ ok: true });
  });

  it('refuses an address after 20 failures across many accounts', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now });
    for (let i = 0; i < 20; i++) throttle.recordFailure('192.0.2.1', `user${i}`);
    expect(throttle.check('192.0.2.1')).toEqual({ ok: false, retryAfterMs: 60_000 });
    expect(throttle.check('192.0.2.1', 'someone-else')).toMatchObject({ ok: false });
    expect(throttle.check('192.0.2.2', 'someone-else')).toEqual({ ok: true });
    time.advance(60_000);
    expect(throttle.check('192.0.2.1')).toEqual({ ok: true });
  });

  it('takes its limits from the options', () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now, perAccount: { failures: 2, windowMs: 10_000 } });
    throttle.recordFailure('192.0.2.1', 'juliet');
    expect(throttle.check('192.0.2.1', 'juliet')).toEqual({ ok: true });
    throttle.recordFailure('192.0.2.1', 'juliet');
    expect(throttle.check('192.0.2.1', 'juliet')).toEqual({ ok: false, retryAfterMs: 10_000 });
  });

  it("clears an account's failures on success but keeps the address's", () => {
    const time = clock();
    const throttle = new LoginThrottle({ now: time.now, perIp: { failures: 5, windowMs: 60_000 } });
    for (let i = 0; i < 5; i++) throttle.recordFailure('192.0.2.1', 'juliet');
    throttle.recordSuccess('192.0.2.1', 'juliet');
    expect(throttle.check('192.0.2.9', 'juliet')).toEqual({ ok: true });
    expect(throttle.check('192.0.2.1', 'juliet')).toMatchObject({ ok: false });
  });

  it('counts IPv6 addresses of one /64 together and IPv4-mapped addresses as IPv4', () => {
    const throttle = new LoginThrottle({ perIp: { failures: 2, windowMs: 60_000 } });
    throttle.recordFailure('2001:db8:1:2::1');
    throttle.recordFailure('2001:db8:1:2:ffff::99');
    expect(throttle.check('2001:0db8:0001:0002:abcd::')).toMatchObject({ ok: false });
    expect(throttle.check('2001:db8:1:3::1')).toEqual({ ok: true });
    expect(ipKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(ipKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(ipKey('::1')).toBe('0:0:0:0::/64');
    expect(ipKey('2001:db8:a:b:c:d:1.2.3.4')).toBe('2001:db8:a:b::/64');
  });

  it('stays within maxEntries however many accounts and addresses fail', () => {
    const throttle = new LoginThrottle({ maxEntries: 100 });
    for (let i = 0; i < 1_000; i++) throttle.recordFailure(`10.0.${i >> 8}.${i & 255}`, `user${i}`);
    expect(throttle.size).toEqual({ ips: 100, accounts: 100 });
    // The most recent ones are the ones kept.
    for (let i = 0; i < 4; i++) throttle.recordFailure('10.0.0.1', 'user999');
    expect(throttle.check('10.0.0.1', 'user999')).toMatchObject({ ok: false });
  });
});

describe('throttling inside an authentication attempt', () => {
  it('answers temporary-auth-failure before revealing a salt once an account failed too often, then recovers', async () => {
    const time = clock();
    const limiter = new LoginThrottle({ now: time.now, perAccount: { failures: 3, windowMs: 60_000 } });
    const ctx = contextFor(await accountsOf({ juliet: 'secret' }), {
      throttle: { limiter, ip: '192.0.2.1' },
    });
    const attempt = (password: string) =>
      exchange(
        createMechanism('SCRAM-SHA-256', ctx),
        new ScramClient({ hash: 'sha256', username: 'juliet', password }),
      );
    for (let i = 0; i < 3; i++) {
      expect((await attempt('guess')).outcome).toEqual({ kind: 'failure', condition: 'not-authorized' });
    }
    const blocked = await attempt('secret');
    expect(blocked.serverFirst).toEqual({
      kind: 'failure',
      condition: 'temporary-auth-failure',
      text: 'too many failed logins',
      retryAfterMs: 60_000,
    });
    time.advance(60_000);
    expect((await attempt('secret')).outcome).toMatchObject({ kind: 'success', username: 'juliet' });
  });

  it('throttles PLAIN the same way, counting unknown accounts too', async () => {
    const time = clock();
    const limiter = new LoginThrottle({ now: time.now, perIp: { failures: 2, windowMs: 30_000 } });
    const ctx = contextFor(await accountsOf({ juliet: 'secret' }), {
      allowPlaintextPlain: true,
      throttle: { limiter, ip: '2001:db8::7' },
    });
    const login = (user: string, password: string) =>
      createMechanism('PLAIN', ctx).start(Buffer.from(`\0${user}\0${password}`));
    expect(await login('ghost', 'x')).toMatchObject({ condition: 'not-authorized' });
    expect(await login('juliet', 'x')).toMatchObject({ condition: 'not-authorized' });
    expect(await login('juliet', 'secret')).toMatchObject({
      condition: 'temporary-auth-failure',
      retryAfterMs: 30_000,
    });
    time.advance(30_000);
    expect(await login('juliet', 'secret')).toMatchObject({ kind: 'success' });
  });
});
