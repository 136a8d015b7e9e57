import { describe, expect, it } from 'vitest';
import { deriveCredentials, SaslPrepError } from './credentials.js';
import { createMechanism, mechanismsFor } from './mechanisms.js';
import { accountsOf, contextFor } from './test/context.js';
import type { Credentials, SaslContext, TlsChannel } from './types.js';

// PLAIN only looks at whether the stream is encrypted, never at the binding data.
const encrypted: TlsChannel = {
  exporter: () => Buffer.alloc(32, 1),
  serverEndPoint: () => Buffer.alloc(32, 2),
  unique: () => Buffer.alloc(12, 3),
};

const plain = (authzid: string, authcid: string, password: string): Buffer =>
  Buffer.from(`${authzid}\0${authcid}\0${password}`, 'utf8');

async function tlsContext(accounts?: Map<string, Credentials>, overrides: Partial<SaslContext> = {}) {
  return contextFor(accounts ?? (await accountsOf({ juliet: 'r0m30myr0m30' })), {
    tls: encrypted,
    ...overrides,
  });
}

describe('PLAIN', () => {
  it('authenticates with the right password over TLS, checked against the SCRAM-SHA-256 keys', async () => {
    const server = createMechanism('PLAIN', await tlsContext());
    expect(await server.start(plain('', 'juliet', 'r0m30myr0m30'))).toEqual({
      kind: 'success',
      username: 'juliet',
    });
  });

  it('answers a wrong password and an unknown user alike with not-authorized', async () => {
    const ctx = await tlsContext();
    expect(await createMechanism('PLAIN', ctx).start(plain('', 'juliet', 'wherefore'))).toEqual({
      kind: 'failure',
      condition: 'not-authorized',
    });
    expect(await createMechanism('PLAIN', ctx).start(plain('', 'romeo', 'wherefore'))).toEqual({
      kind: 'failure',
      condition: 'not-authorized',
    });
  });

  it('is not offered and refused with encryption-required on an unencrypted stream', async () => {
    expect(mechanismsFor({ tls: false, bindings: [] })).not.toContain('PLAIN');
    const ctx = contextFor(await accountsOf({ juliet: 'r0m30myr0m30' }));
    expect(await createMechanism('PLAIN', ctx).start(plain('', 'juliet', 'r0m30myr0m30'))).toEqual({
      kind: 'failure',
      condition: 'encryption-required',
    });
  });

  it('works without TLS only when the configuration explicitly allows plaintext PLAIN', async () => {
    expect(mechanismsFor({ tls: false, bindings: [], allowPlaintextPlain: true })).toContain('PLAIN');
    const ctx = contextFor(await accountsOf({ juliet: 'r0m30myr0m30' }), { allowPlaintextPlain: true });
    expect(await createMechanism('PLAIN', ctx).start(plain('', 'juliet', 'r0m30myr0m30'))).toMatchObject({
      kind: 'success',
    });
  });

  it('takes the message in a response after an empty challenge', async () => {
    const server = createMechanism('PLAIN', await tlsContext());
    expect(await server.start(null)).toEqual({ kind: 'challenge', data: Buffer.alloc(0) });
    expect(await server.step(plain('', 'juliet', 'r0m30myr0m30'))).toMatchObject({ kind: 'success' });
  });

  it.each([
    ['no NUL separators', Buffer.from('juliet r0m30myr0m30')],
    ['an empty password', plain('', 'juliet', '')],
    ['an empty authcid', plain('', '', 'r0m30myr0m30')],
    ['an extra field', Buffer.from('\0juliet\0r0m30myr0m30\0x')],
    ['invalid UTF-8', Buffer.from([0, 0x6a, 0, 0xc3, 0x28])],
  ])('rejects a message with %s as malformed-request', async (_what, message) => {
    const server = createMechanism('PLAIN', await tlsContext());
    expect(await server.start(message)).toMatchObject({ kind: 'failure', condition: 'malformed-request' });
  });

  it('accepts the own bare JID as authzid and refuses another one with invalid-authzid', async () => {
    const ctx = await tlsContext();
    expect(
      await createMechanism('PLAIN', ctx).start(plain('juliet@example.com', 'juliet', 'r0m30myr0m30')),
    ).toEqual({
      kind: 'success',
      username: 'juliet',
      authzid: 'juliet@example.com',
    });
    expect(
      await createMechanism('PLAIN', ctx).start(plain('romeo@example.com', 'juliet', 'r0m30myr0m30')),
    ).toEqual({
      kind: 'failure',
      condition: 'invalid-authzid',
    });
  });

  it('SASLprep-normalizes the password, so a mapped-out soft hyphen still matches', async () => {
    const ctx = await tlsContext(new Map([['juliet', await deriveCredentials('I\u00ADX')]]));
    expect(await createMechanism('PLAIN', ctx).start(plain('', 'juliet', 'IX'))).toMatchObject({
      kind: 'success',
    });
    // RFC 4013 §2.1: U+00A0 NO-BREAK SPACE maps to U+0020.
    const spaced = await tlsContext(new Map([['juliet', await deriveCredentials('a\u00A0b')]]));
    expect(await createMechanism('PLAIN', spaced).start(plain('', 'juliet', 'a b'))).toMatchObject({
      kind: 'success',
    });
  });
});

describe('deriveCredentials', () => {
  it('produces both SCRAM hashes with separate random salts and 4096 iterations', async () => {
    const a = await deriveCredentials('secret');
    const b = await deriveCredentials('secret');
    expect(a['SCRAM-SHA-1'].iterations).toBe(4096);
    expect(a['SCRAM-SHA-256'].iterations).toBe(4096);
    expect(Buffer.from(a['SCRAM-SHA-1'].storedKey, 'base64')).toHaveLength(20);
    expect(Buffer.from(a['SCRAM-SHA-256'].serverKey, 'base64')).toHaveLength(32);
    expect(a['SCRAM-SHA-1'].salt).not.toBe(a['SCRAM-SHA-256'].salt);
    expect(a['SCRAM-SHA-256'].salt).not.toBe(b['SCRAM-SHA-256'].salt);
    expect(a['SCRAM-SHA-256'].storedKey).not.toBe(b['SCRAM-SHA-256'].storedKey);
  });

  it('honours a configured iteration count', async () => {
    const creds = await deriveCredentials('secret', { iterations: 8192 });
    expect(creds['SCRAM-SHA-1'].iterations).toBe(8192);
  });

  it('refuses passwords SASLprep prohibits, such as control characters', async () => {
    await expect(deriveCredentials('bad\u0007bell')).rejects.toBeInstanceOf(SaslPrepError);
    await expect(deriveCredentials('\u00AD')).rejects.toBeInstanceOf(SaslPrepError);
  });
});
