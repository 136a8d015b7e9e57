import { describe, expect, it } from 'vitest';
import { deriveScramCredential } from './credentials.js';
import { createMechanism } from './mechanisms.js';
import { accountsOf, contextFor, DOMAIN, exchange } from './test/context.js';
import { ScramClient } from './test/scram-client.js';
import type { Credentials, SaslContext, SaslStep } from './types.js';

const text = (step: SaslStep): string => {
  if (step.kind === 'failure') throw new Error(`unexpected failure ${step.condition}`);
  return step.data?.toString('utf8') ?? '';
};

/** The account of the RFC examples: user "user", password "pencil", with the RFC's salts. */
async function rfcAccount(): Promise<Map<string, Credentials>> {
  const sha1 = await deriveScramCredential('SCRAM-SHA-1', 'pencil', {
    salt: Buffer.from('QSXCR+Q6sek8bf92', 'base64'),
    iterations: 4096,
  });
  const sha256 = await deriveScramCredential('SCRAM-SHA-256', 'pencil', {
    salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
    iterations: 4096,
  });
  return new Map([['user', { 'SCRAM-SHA-1': sha1, 'SCRAM-SHA-256': sha256 }]]);
}

describe('SCRAM against the RFC examples', () => {
  it('reproduces the RFC 5802 §5 SCRAM-SHA-1 exchange byte for byte', async () => {
    const ctx = contextFor(await rfcAccount(), { nonce: () => '3rfcNHYJY1ZVvWVs7j' });
    const server = createMechanism('SCRAM-SHA-1', ctx);
    const first = await server.start(Buffer.from('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'));
    expect(first.kind).toBe('challenge');
    expect(text(first)).toBe('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
    const final = await server.step(
      Buffer.from('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='),
    );
    expect(final).toMatchObject({ kind: 'success', username: 'user' });
    expect(text(final)).toBe('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');
  });

  it('reproduces the RFC 7677 §3 SCRAM-SHA-256 exchange byte for byte', async () => {
    const ctx = contextFor(await rfcAccount(), { nonce: () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
    const server = createMechanism('SCRAM-SHA-256', ctx);
    const first = await server.start(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
    expect(text(first)).toBe(
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    );
    const final = await server.step(
      Buffer.from(
        'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
      ),
    );
    expect(final).toMatchObject({ kind: 'success', username: 'user' });
    expect(text(final)).toBe('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });
});

describe('SCRAM round trips with an independent client', () => {
  const hashes = [
    ['SCRAM-SHA-1', 'sha1'],
    ['SCRAM-SHA-256', 'sha256'],
  ] as const;

  it.each(hashes)(
    '%s authenticates a registered user and proves the server knows the password',
    async (mech, hash) => {
      const ctx = contextFor(await accountsOf({ juliet: 'r0m30myr0m30' }));
      const client = new ScramClient({ hash, username: 'juliet', password: 'r0m30myr0m30' });
      const { outcome } = await exchange(createMechanism(mech, ctx), client);
      expect(outcome).toMatchObject({ kind: 'success', username: 'juliet' });
      expect(outcome.kind === 'success' && outcome.data !== undefined && client.verifies(outcome.data)).toBe(
        true,
      );
      expect(outcome).not.toHaveProperty('authzid');
    },
  );

  it.each(hashes)('%s answers a wrong password with not-authorized', async (mech, hash) => {
    const ctx = contextFor(await accountsOf({ juliet: 'r0m30myr0m30' }));
    const client = new ScramClient({ hash, username: 'juliet', password: 'wherefore' });
    const { outcome } = await exchange(createMechanism(mech, ctx), client);
    expect(outcome).toEqual({ kind: 'failure', condition: 'not-authorized' });
  });

  it('waits for client-first in a challenge when the auth element carried no initial response', async () => {
    const ctx = contextFor(await accountsOf({ juliet: 'secret' }));
    const server = createMechanism('SCRAM-SHA-256', ctx);
    const client = new ScramClient({ hash: 'sha256', username: 'juliet', password: 'secret' });
    expect(await server.start(null)).toEqual({ kind: 'challenge', data: Buffer.alloc(0) });
    const first = await server.step(client.first());
    expect(first.kind).toBe('challenge');
    if (first.kind !== 'challenge') return;
    expect(await server.step(client.final(first.data))).toMatchObject({
      kind: 'success',
      username: 'juliet',
    });
  });

  it('unescapes =2C and =3D in the username and SASLprep-maps it before lookup', async () => {
    const ctx = contextFor(await accountsOf({ 'a,b=c': 'pw' }));
    // U+00AD SOFT HYPHEN is mapped to nothing by SASLprep (RFC 4013 §2.1).
    const client = new ScramClient({ hash: 'sha256', username: 'a,b\u00AD=c', password: 'pw' });
    const { outcome } = await exchange(createMechanism('SCRAM-SHA-256', ctx), client);
    expect(outcome).toMatchObject({ kind: 'success', username: 'a,b=c' });
  });
});

describe('SCRAM for unknown users', () => {
  it('answers with a normal-looking, stable challenge and fails only at the proof', async () => {
    const ctx = contextFor(await accountsOf({ juliet: 'secret' }));
    const probe = async (
      username: string,
    ): Promise<{ salt: string; iterations: string; outcome: SaslStep }> => {
      const client = new ScramClient({ hash: 'sha256', username, password: 'guess' });
      const { serverFirst, outcome } = await exchange(createMechanism('SCRAM-SHA-256', ctx), client);
      const attrs = new Map(
        text(serverFirst)
          .split(',')
          .map((kv) => [kv[0], kv.slice(2)]),
      );
      return { salt: attrs.get('s') ?? '', iterations: attrs.get('i') ?? '', outcome };
    };
    const known = await probe('juliet');
    const ghost = await probe('romeo');
    const ghostAgain = await probe('romeo');
    const other = await probe('benvolio');
    expect(ghost.outcome).toEqual(known.outcome);
    expect(ghost.outcome).toEqual({ kind: 'failure', condition: 'not-authorized' });
    expect(Buffer.from(ghost.salt, 'base64')).toHaveLength(Buffer.from(known.salt, 'base64').length);
    expect(ghost.iterations).toBe(known.iterations);
    expect(ghostAgain.salt).toBe(ghost.salt);
    expect(other.salt).not.toBe(ghost.salt);
  });
});

describe('SCRAM message checks', () => {
  async function firstWith(
    message: string | Buffer,
    overrides: Partial<SaslContext> = {},
  ): Promise<SaslStep> {
    const ctx = contextFor(await accountsOf({ user: 'pencil' }), overrides);
    return createMechanism('SCRAM-SHA-256', ctx).start(
      Buffer.isBuffer(message) ? message : Buffer.from(message),
    );
  }

  it.each([
    ['a missing nonce', 'n,,n=user'],
    ['a missing gs2 header', 'n=user,r=abc'],
    ['an unknown gs2 flag', 'x,,n=user,r=abc'],
    ['a mandatory extension m=', 'n,,m=ext,n=user,r=abc'],
    ['a bad saslname escape', 'n,,n=us=2Xer,r=abc'],
    ['an authzid without a=', 'n,juliet,n=user,r=abc'],
    ['a nonce with a non-printable character', 'n,,n=user,r=ab\u0001c'],
  ])('rejects client-first with %s as malformed-request', async (_what, message) => {
    expect(await firstWith(message)).toMatchObject({ kind: 'failure', condition: 'malformed-request' });
  });

  it('rejects client-first that is not UTF-8 as malformed-request', async () => {
    const bytes = Buffer.concat([Buffer.from('n,,n=us'), Buffer.from([0xff, 0xfe]), Buffer.from(',r=abc')]);
    expect(await firstWith(bytes)).toMatchObject({ kind: 'failure', condition: 'malformed-request' });
  });

  async function finalWith(mutate: (final: string) => string): Promise<SaslStep> {
    const ctx = contextFor(await accountsOf({ user: 'pencil' }));
    const server = createMechanism('SCRAM-SHA-256', ctx);
    const client = new ScramClient({ hash: 'sha256', username: 'user', password: 'pencil' });
    const first = await server.start(client.first());
    if (first.kind !== 'challenge') throw new Error('expected a challenge');
    return server.step(Buffer.from(mutate(client.final(first.data).toString())));
  }

  it('accepts the unmodified client-final (control for the cases below)', async () => {
    expect(await finalWith((f) => f)).toMatchObject({ kind: 'success' });
  });

  it('rejects a client-final whose nonce differs from the combined nonce', async () => {
    expect(await finalWith((f) => f.replace(/,r=([^,]*)/, ',r=$1x'))).toEqual({
      kind: 'failure',
      condition: 'not-authorized',
    });
  });

  it('rejects bad base64 in the proof or channel binding as incorrect-encoding', async () => {
    expect(await finalWith((f) => f.replace(/,p=.*/, ',p=not*base64'))).toMatchObject({
      condition: 'incorrect-encoding',
    });
    expect(await finalWith((f) => f.replace(/^c=biws/, 'c=biw'))).toMatchObject({
      condition: 'incorrect-encoding',
    });
  });

  it('rejects a client-final without a proof or with a short proof as malformed-request', async () => {
    expect(await finalWith((f) => f.replace(/,p=.*/, ''))).toMatchObject({ condition: 'malformed-request' });
    expect(await finalWith((f) => f.replace(/,p=.*/, ',p=AAAA'))).toMatchObject({
      condition: 'malformed-request',
    });
  });

  it('rejects a client-final whose c= does not repeat the gs2 header', async () => {
    // "eSws" is base64 of "y,," while the client sent "n,,".
    expect(await finalWith((f) => f.replace(/^c=biws/, 'c=eSws'))).toMatchObject({
      condition: 'not-authorized',
      text: 'channel-bindings-dont-match',
    });
  });

  it('refuses stored credentials below the minimum iteration count as mechanism-too-weak', async () => {
    const weak = await deriveScramCredential('SCRAM-SHA-256', 'pencil', { iterations: 1000 });
    const accounts = await accountsOf({ user: 'pencil' });
    accounts.set('user', { ...accounts.get('user')!, 'SCRAM-SHA-256': weak });
    const ctx = contextFor(accounts);
    const result = await createMechanism('SCRAM-SHA-256', ctx).start(Buffer.from('n,,n=user,r=abc'));
    expect(result).toMatchObject({ kind: 'failure', condition: 'mechanism-too-weak' });
  });

  it('answers temporary-auth-failure when the credential store is down', async () => {
    const ctx = contextFor(new Map(), { lookup: () => Promise.reject(new Error('ECONNREFUSED')) });
    const result = await createMechanism('SCRAM-SHA-1', ctx).start(Buffer.from('n,,n=user,r=abc'));
    expect(result).toMatchObject({ kind: 'failure', condition: 'temporary-auth-failure' });
  });

  it('answers a response after the exchange ended with malformed-request', async () => {
    const ctx = contextFor(await accountsOf({ user: 'pencil' }));
    const server = createMechanism('SCRAM-SHA-256', ctx);
    expect(await server.start(Buffer.from('n,,n=user'))).toMatchObject({ kind: 'failure' });
    expect(await server.step(Buffer.from('n,,n=user,r=abc'))).toMatchObject({
      condition: 'malformed-request',
    });
  });

  it('acknowledges an abort with aborted', async () => {
    const ctx = contextFor(await accountsOf({ user: 'pencil' }));
    const server = createMechanism('SCRAM-SHA-256', ctx);
    await server.start(Buffer.from('n,,n=user,r=abc'));
    expect(server.abort()).toEqual({ kind: 'failure', condition: 'aborted' });
  });
});

describe('SCRAM authorization identity and account state', () => {
  it('accepts the own bare JID as authzid and reports it', async () => {
    const ctx = contextFor(await accountsOf({ juliet: 'secret' }));
    const client = new ScramClient({
      hash: 'sha256',
      username: 'juliet',
      password: 'secret',
      authzid: `juliet@${DOMAIN}`,
    });
    const { outcome } = await exchange(createMechanism('SCRAM-SHA-256', ctx), client);
    expect(outcome).toMatchObject({ kind: 'success', username: 'juliet', authzid: 'juliet@example.com' });
  });

  it.each(['romeo@example.com', 'juliet@example.net', 'juliet@example.com/balcony'])(
    'refuses authzid %s with invalid-authzid',
    async (authzid) => {
      const ctx = contextFor(await accountsOf({ juliet: 'secret' }));
      const client = new ScramClient({ hash: 'sha256', username: 'juliet', password: 'secret', authzid });
      const { outcome } = await exchange(createMechanism('SCRAM-SHA-256', ctx), client);
      expect(outcome).toEqual({ kind: 'failure', condition: 'invalid-authzid' });
    },
  );

  it('reports account-disabled only after the password was proven', async () => {
    const ctx = contextFor(await accountsOf({ juliet: 'secret' }), {
      checkAccount: () => Promise.resolve('account-disabled'),
    });
    const right = new ScramClient({ hash: 'sha256', username: 'juliet', password: 'secret' });
    expect((await exchange(createMechanism('SCRAM-SHA-256', ctx), right)).outcome).toEqual({
      kind: 'failure',
      condition: 'account-disabled',
    });
    const wrong = new ScramClient({ hash: 'sha256', username: 'juliet', password: 'guess' });
    expect((await exchange(createMechanism('SCRAM-SHA-256', ctx), wrong)).outcome).toEqual({
      kind: 'failure',
      condition: 'not-authorized',
    });
  });
});
