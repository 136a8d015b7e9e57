import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidCredentialsError } from './errors.js';
import { deriveCredentials, deriveScramCredential } from './scram.js';

/**
 * Checks a stored credential against a complete example exchange: the
 * client's proof must reveal a ClientKey whose hash is StoredKey, and the
 * server's signature must be the one the example shows (RFC 5802 §3).
 */
function verifyExchange(
  hash: 'sha1' | 'sha256',
  credential: { storedKey: string; serverKey: string },
  exchange: {
    clientFirstBare: string;
    serverFirst: string;
    clientFinalWithoutProof: string;
    proof: string;
    verifier: string;
  },
): void {
  const authMessage = `${exchange.clientFirstBare},${exchange.serverFirst},${exchange.clientFinalWithoutProof}`;
  const storedKey = Buffer.from(credential.storedKey, 'base64');
  const clientSignature = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.from(exchange.proof, 'base64');
  const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]!));
  expect(createHash(hash).update(clientKey).digest('base64')).toBe(credential.storedKey);
  const serverSignature = createHmac(hash, Buffer.from(credential.serverKey, 'base64'))
    .update(authMessage)
    .digest('base64');
  expect(serverSignature).toBe(exchange.verifier);
}

describe('deriveScramCredential', () => {
  it('matches the SCRAM-SHA-1 example exchange of RFC 5802 §5', async () => {
    const credential = await deriveScramCredential(
      'sha1',
      'pencil',
      4096,
      Buffer.from('QSXCR+Q6sek8bf92', 'base64'),
    );
    expect(credential.iterations).toBe(4096);
    expect(credential.salt).toBe('QSXCR+Q6sek8bf92');
    verifyExchange('sha1', credential, {
      clientFirstBare: 'n=user,r=fyko+d2lbbFgONRv9qkxdawL',
      serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
      clientFinalWithoutProof: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j',
      proof: 'v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
      verifier: 'rmF9pqV8S7suAoZWja4dJRkFsKQ=',
    });
  });

  it('matches the SCRAM-SHA-256 example exchange of RFC 7677 §3', async () => {
    const credential = await deriveScramCredential(
      'sha256',
      'pencil',
      4096,
      Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
    );
    verifyExchange('sha256', credential, {
      clientFirstBare: 'n=user,r=rOprNGfwEbeRWgbNEkqO',
      serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      clientFinalWithoutProof: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
      proof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
      verifier: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    });
  });

  it('draws a fresh 16-byte salt each time when none is given', async () => {
    const a = await deriveScramCredential('sha256', 'pencil', 1);
    const b = await deriveScramCredential('sha256', 'pencil', 1);
    expect(Buffer.from(a.salt, 'base64')).toHaveLength(16);
    expect(a.salt).not.toBe(b.salt);
    expect(a.storedKey).not.toBe(b.storedKey);
  });

  it('refuses an iteration count that is not a positive integer', async () => {
    await expect(deriveScramCredential('sha1', 'pencil', 0)).rejects.toBeInstanceOf(InvalidCredentialsError);
    await expect(deriveScramCredential('sha1', 'pencil', 1.5)).rejects.toBeInstanceOf(
      InvalidCredentialsError,
    );
  });
});

describe('deriveCredentials', () => {
  it('derives both mechanisms with 4096 iterations by default and holds no password', async () => {
    const credentials = await deriveCredentials('pencil');
    expect(Object.keys(credentials).sort()).toEqual(['SCRAM-SHA-1', 'SCRAM-SHA-256']);
    expect(credentials['SCRAM-SHA-1'].iterations).toBe(4096);
    expect(Buffer.from(credentials['SCRAM-SHA-1'].storedKey, 'base64')).toHaveLength(20);
    expect(Buffer.from(credentials['SCRAM-SHA-256'].storedKey, 'base64')).toHaveLength(32);
    expect(JSON.stringify(credentials)).not.toContain('pencil');
  });
});

describe('deriveCredentials', () => {
  it('SASLprep-maps the password so a soft hyphen and a no-break space do not matter (RFC 4013)', async () => {
    const creds = await deriveCredentials('pen\u00ADcil\u00A0x', 4096);
    const salt = Buffer.from(creds['SCRAM-SHA-256'].salt, 'base64');
    expect((await deriveScramCredential('sha256', 'pencil x', 4096, salt)).storedKey).toBe(
      creds['SCRAM-SHA-256'].storedKey,
    );
  });

  it('refuses a password SASLprep prohibits or that maps to nothing', async () => {
    await expect(deriveCredentials('a\u0007b')).rejects.toThrow(/SASLprep/);
    await expect(deriveCredentials('\u00AD')).rejects.toThrow(/SASLprep|empty/);
  });
});
