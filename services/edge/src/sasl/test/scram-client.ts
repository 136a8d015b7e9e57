import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

// A SCRAM client written from RFC 5802 §3 and §7, independent of the server code under test.

export interface ScramClientOptions {
  hash: 'sha1' | 'sha256';
  username: string;
  password: string;
  authzid?: string;
  /** gs2-cbind-flag: 'n' (no binding), 'y' (could bind, thinks the server cannot), or p=type with its data. */
  binding?: { flag: 'n' } | { flag: 'y' } | { flag: 'p'; type: string; data: Buffer };
  nonce?: string;
  minIterations?: number;
}

const escape = (name: string): string => name.replace(/=/g, '=3D').replace(/,/g, '=2C');

export class ScramClient {
  private readonly gs2Header: string;
  private readonly bare: string;
  private readonly nonce: string;
  private serverSignature: Buffer | null = null;

  constructor(private readonly options: ScramClientOptions) {
    const binding = options.binding ?? { flag: 'n' };
    const flag = binding.flag === 'p' ? `p=${binding.type}` : binding.flag;
    const authz = options.authzid === undefined ? '' : `a=${escape(options.authzid)}`;
    this.gs2Header = `${flag},${authz},`;
    this.nonce = options.nonce ?? randomBytes(18).toString('base64');
    this.bare = `n=${escape(options.username)},r=${this.nonce}`;
  }

  first(): Buffer {
    return Buffer.from(this.gs2Header + this.bare, 'utf8');
  }

  final(serverFirst: Buffer): Buffer {
    const text = serverFirst.toString('utf8');
    const attrs = new Map(text.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)] as const));
    const nonce = attrs.get('r') ?? '';
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    if (!nonce.startsWith(this.nonce) || nonce === this.nonce)
      throw new Error('server nonce does not extend ours');
    if (!(iterations >= (this.options.minIterations ?? 4096))) throw new Error('iteration count too low');
    const binding = this.options.binding ?? { flag: 'n' };
    const cbind = Buffer.concat([
      Buffer.from(this.gs2Header, 'utf8'),
      binding.flag === 'p' ? binding.data : Buffer.alloc(0),
    ]);
    const withoutProof = `c=${cbind.toString('base64')},r=${nonce}`;
    const authMessage = `${this.bare},${text},${withoutProof}`;
    const length = this.options.hash === 'sha1' ? 20 : 32;
    const salted = pbkdf2Sync(this.options.password, salt, iterations, length, this.options.hash);
    const clientKey = createHmac(this.options.hash, salted).update('Client Key').digest();
    const storedKey = createHash(this.options.hash).update(clientKey).digest();
    const signature = createHmac(this.options.hash, storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] ?? 0)));
    const serverKey = createHmac(this.options.hash, salted).update('Server Key').digest();
    this.serverSignature = createHmac(this.options.hash, serverKey).update(authMessage).digest();
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Mutual authentication (RFC 5802 §3): the server proves it knows ServerKey. */
  verifies(serverFinal: Buffer): boolean {
    const text = serverFinal.toString('utf8');
    if (this.serverSignature === null || !text.startsWith('v=')) return false;
    const v = Buffer.from(text.slice(2), 'base64');
    return v.length === this.serverSignature.length && timingSafeEqual(v, this.serverSignature);
  }
}
