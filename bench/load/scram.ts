import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

// Client side of SCRAM-SHA-1 (RFC 5802 §3, §7) without channel binding ("n,,").
// SaltedPassword is cached per (password, salt, iterations), as real clients
// do (RFC 5802 §5.1 allows it), so the generator's PBKDF2 does not dominate a
// login storm: the server never runs PBKDF2 at login, only HMACs.

const saltedCache = new Map<string, Buffer>();

const escapeName = (name: string): string => name.replace(/=/g, '=3D').replace(/,/g, '=2C');

export class ScramSha1Client {
  private readonly bare: string;
  private readonly nonce = randomBytes(15).toString('base64');
  private expectedSignature: Buffer | null = null;

  constructor(
    username: string,
    private readonly password: string,
  ) {
    this.bare = `n=${escapeName(username)},r=${this.nonce}`;
  }

  /** client-first-message, base64. */
  first(): string {
    return Buffer.from(`n,,${this.bare}`, 'utf8').toString('base64');
  }

  /** client-final-message for a base64 server-first-message, base64. */
  final(serverFirstB64: string): string {
    const serverFirst = Buffer.from(serverFirstB64, 'base64').toString('utf8');
    let nonce = '';
    let salt = '';
    let iterations = 0;
    for (const part of serverFirst.split(',')) {
      const value = part.slice(2);
      if (part.startsWith('r=')) nonce = value;
      else if (part.startsWith('s=')) salt = value;
      else if (part.startsWith('i=')) iterations = Number(value);
    }
    if (!nonce.startsWith(this.nonce) || !(iterations >= 1)) {
      throw new Error(`bad server-first-message: ${serverFirst}`);
    }
    const key = `${this.password}\0${salt}\0${iterations}`;
    let salted = saltedCache.get(key);
    if (salted === undefined) {
      salted = pbkdf2Sync(this.password, Buffer.from(salt, 'base64'), iterations, 20, 'sha1');
      saltedCache.set(key, salted);
    }
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.bare},${serverFirst},${withoutProof}`;
    const clientKey = createHmac('sha1', salted).update('Client Key').digest();
    const storedKey = createHash('sha1').update(clientKey).digest();
    const signature = createHmac('sha1', storedKey).update(authMessage).digest();
    for (let i = 0; i < clientKey.length; i++) clientKey[i]! ^= signature[i]!;
    const serverKey = createHmac('sha1', salted).update('Server Key').digest();
    this.expectedSignature = createHmac('sha1', serverKey).update(authMessage).digest();
    return Buffer.from(`${withoutProof},p=${clientKey.toString('base64')}`, 'utf8').toString('base64');
  }

  /** Checks the server-final-message (additional data of <success/>), RFC 5802 §3 mutual authentication. */
  verify(serverFinalB64: string): boolean {
    const text = Buffer.from(serverFinalB64, 'base64').toString('utf8');
    if (!text.startsWith('v=') || this.expectedSignature === null) return false;
    const got = Buffer.from(text.slice(2), 'base64');
    return got.length === this.expectedSignature.length && timingSafeEqual(got, this.expectedSignature);
  }
}
