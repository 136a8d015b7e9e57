import { timingSafeEqual } from 'node:crypto';
import { prep, SaslPrepError, saltedPassword, scramKeys } from './credentials.js';
import {
  authorize,
  credentialFor,
  decodeUtf8,
  fail,
  lookupCredentials,
  rejectCredentials,
  throttleGate,
} from './attempt.js';
import type { SaslContext, SaslFailure, SaslServer, SaslStep } from './types.js';

/**
 * PLAIN (RFC 4616), checked against the stored SCRAM-SHA-256 credential: the password is run
 * through the same derivation and must give the same StoredKey and ServerKey.
 */
export class PlainServer implements SaslServer {
  readonly mechanism = 'PLAIN';
  private state: 'start' | 'message' | 'done' = 'start';

  constructor(private readonly ctx: SaslContext) {}

  async start(initialResponse: Buffer | null): Promise<SaslStep> {
    if (this.state !== 'start') return this.finish(fail('malformed-request', 'exchange already started'));
    // RFC 6120 §13.8: the password would cross the wire in the clear.
    if (this.ctx.tls === null && this.ctx.allowPlaintextPlain !== true) {
      return this.finish(fail('encryption-required'));
    }
    if (initialResponse === null) {
      this.state = 'message';
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    return this.finish(await this.verify(initialResponse));
  }

  async step(response: Buffer): Promise<SaslStep> {
    if (this.state !== 'message') return this.finish(fail('malformed-request', 'unexpected response'));
    return this.finish(await this.verify(response));
  }

  abort(): SaslFailure {
    this.state = 'done';
    return fail('aborted');
  }

  private finish(result: SaslStep): SaslStep {
    if (result.kind !== 'challenge') this.state = 'done';
    return result;
  }

  private async verify(message: Buffer): Promise<SaslStep> {
    const text = decodeUtf8(message);
    if (text === null) return fail('malformed-request', 'PLAIN message is not UTF-8');
    // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd
    const parts = text.split('\0');
    const [authzid = '', authcid = '', password = ''] = parts;
    if (parts.length !== 3 || authcid === '' || password === '') {
      return fail('malformed-request', 'PLAIN needs authzid NUL authcid NUL password');
    }
    let username: string;
    try {
      username = prep(authcid, 'query');
    } catch (err) {
      if (err instanceof SaslPrepError) return fail('malformed-request', 'username refused by SASLprep');
      throw err;
    }
    const throttled = throttleGate(this.ctx, username);
    if (throttled !== null) return throttled;
    let normalized: string | null;
    try {
      normalized = prep(password, 'query');
    } catch (err) {
      if (!(err instanceof SaslPrepError)) throw err;
      normalized = null;
    }
    const found = await lookupCredentials(this.ctx, username);
    if ('kind' in found) return found;
    const credential = credentialFor(this.ctx, 'SCRAM-SHA-256', username, found.credentials);
    if ('kind' in credential) return credential;
    // Unknown users pay the same key derivation (over the fake salt) as known ones.
    const salted = await saltedPassword(
      'SCRAM-SHA-256',
      normalized ?? password,
      credential.salt,
      credential.iterations,
    );
    const keys = scramKeys('SCRAM-SHA-256', salted);
    const known = credential.known;
    if (known === null || normalized === null) return rejectCredentials(this.ctx, username);
    const storedOk = timingSafeEqual(keys.storedKey, known.storedKey);
    const serverOk = timingSafeEqual(keys.serverKey, known.serverKey);
    if (!storedOk || !serverOk) return rejectCredentials(this.ctx, username);
    return authorize(this.ctx, username, authzid === '' ? null : authzid);
  }
}
