import { randomBytes, timingSafeEqual } from 'node:crypto';
import { decodeBase64 } from './base64.js';
import { hash, hmac, prep, SaslPrepError, SCRAM_HASHES, type ScramMechanism } from './credentials.js';
import {
  authorize,
  credentialFor,
  decodeUtf8,
  fail,
  lookupCredentials,
  rejectCredentials,
  throttleGate,
  type UsableCredential,
} from './attempt.js';
import type { ChannelBindingType, SaslContext, SaslFailure, SaslServer, SaslStep } from './types.js';

// RFC 5802 §7 grammar pieces.
const CB_NAME = /^[A-Za-z0-9.-]+$/;
const SASLNAME = /^(?:[^\0,=]|=2C|=3D)+$/u;
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
const EXTENSION = /^[A-Za-z]=[^\0]*$/;

type CbFlag = { kind: 'n' } | { kind: 'y' } | { kind: 'p'; type: string };

interface ClientFirst {
  flag: CbFlag;
  /** gs2-header including its trailing comma; echoed in c= (RFC 5802 §7, cbind-input). */
  gs2Header: string;
  authzid: string | null;
  username: string;
  nonce: string;
  bare: string;
}

function decodeSaslname(value: string): string | null {
  return SASLNAME.test(value) ? value.replace(/=2C/g, ',').replace(/=3D/g, '=') : null;
}

function parseClientFirst(text: string): ClientFirst | SaslFailure {
  const first = text.indexOf(',');
  const second = first < 0 ? -1 : text.indexOf(',', first + 1);
  if (second < 0) return fail('malformed-request', 'missing gs2 header');
  const flagText = text.slice(0, first);
  const authzText = text.slice(first + 1, second);
  let flag: CbFlag;
  if (flagText === 'n' || flagText === 'y') flag = { kind: flagText };
  else if (flagText.startsWith('p=') && CB_NAME.test(flagText.slice(2)))
    flag = { kind: 'p', type: flagText.slice(2) };
  else return fail('malformed-request', 'bad gs2-cbind-flag');
  let authzid: string | null = null;
  if (authzText !== '') {
    authzid = authzText.startsWith('a=') ? decodeSaslname(authzText.slice(2)) : null;
    if (authzid === null) return fail('malformed-request', 'bad authzid');
  }
  const bare = text.slice(second + 1);
  const [userAttr = '', nonceAttr = '', ...extensions] = bare.split(',');
  // RFC 5802 §5.1: a mandatory extension the server does not know must fail the exchange.
  if (userAttr.startsWith('m=')) return fail('malformed-request', 'unsupported mandatory extension');
  const username = userAttr.startsWith('n=') ? decodeSaslname(userAttr.slice(2)) : null;
  if (username === null) return fail('malformed-request', 'bad username');
  if (!nonceAttr.startsWith('r=') || !PRINTABLE.test(nonceAttr.slice(2)))
    return fail('malformed-request', 'bad nonce');
  if (!extensions.every((e) => EXTENSION.test(e))) return fail('malformed-request', 'bad extension');
  return { flag, gs2Header: text.slice(0, second + 1), authzid, username, nonce: nonceAttr.slice(2), bare };
}

interface ClientFinal {
  channelBinding: Buffer;
  nonce: string;
  proof: Buffer;
  withoutProof: string;
}

function parseClientFinal(text: string, proofLength: number): ClientFinal | SaslFailure {
  const parts = text.split(',');
  const cAttr = parts[0] ?? '';
  const rAttr = parts[1] ?? '';
  const pAttr = parts.length >= 3 ? (parts[parts.length - 1] ?? '') : '';
  if (!cAttr.startsWith('c=') || !rAttr.startsWith('r=') || !pAttr.startsWith('p=')) {
    return fail('malformed-request', 'client-final needs c=, r= and p=');
  }
  if (!parts.slice(2, -1).every((e) => EXTENSION.test(e))) return fail('malformed-request', 'bad extension');
  const channelBinding = decodeBase64(cAttr.slice(2));
  const proof = decodeBase64(pAttr.slice(2));
  if (channelBinding === null || proof === null)
    return fail('incorrect-encoding', 'invalid base64 in client-final');
  if (proof.length !== proofLength) return fail('malformed-request', 'proof has the wrong length');
  return {
    channelBinding,
    nonce: rAttr.slice(2),
    proof,
    withoutProof: text.slice(0, text.length - pAttr.length - 1),
  };
}

function equalConstantTime(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

function serverNonce(ctx: SaslContext): string {
  return ctx.nonce?.() ?? randomBytes(24).toString('base64');
}

type State =
  | { at: 'start' }
  | { at: 'client-first' }
  | {
      at: 'client-final';
      username: string;
      authzid: string | null;
      nonce: string;
      cbindInput: Buffer;
      authPrefix: string;
      credential: UsableCredential | null;
    }
  | { at: 'done' };

/** Server side of SCRAM-SHA-1/-256 and their -PLUS variants (RFC 5802, RFC 7677). */
export class ScramServer implements SaslServer {
  private state: State = { at: 'start' };
  private readonly hash: ScramMechanism;
  private readonly plus: boolean;

  constructor(
    private readonly ctx: SaslContext,
    hash: ScramMechanism,
    plus: boolean,
  ) {
    this.hash = hash;
    this.plus = plus;
  }

  get mechanism(): string {
    return this.plus ? `${this.hash}-PLUS` : this.hash;
  }

  async start(initialResponse: Buffer | null): Promise<SaslStep> {
    if (this.state.at !== 'start') return this.finish(fail('malformed-request', 'exchange already started'));
    if (initialResponse === null) {
      this.state = { at: 'client-first' };
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    return this.finish(await this.clientFirst(initialResponse));
  }

  async step(response: Buffer): Promise<SaslStep> {
    switch (this.state.at) {
      case 'client-first':
        return this.finish(await this.clientFirst(response));
      case 'client-final':
        return this.finish(await this.clientFinal(response, this.state));
      default:
        return this.finish(fail('malformed-request', 'unexpected response'));
    }
  }

  abort(): SaslFailure {
    this.state = { at: 'done' };
    return fail('aborted');
  }

  private finish(result: SaslStep): SaslStep {
    if (result.kind !== 'challenge') this.state = { at: 'done' };
    return result;
  }

  /** RFC 5802 §6 and §7: which gs2 flag fits this mechanism, and the channel data c= must carry. */
  private bindingData(flag: CbFlag): Buffer | SaslFailure {
    const { tls, bindings } = this.ctx;
    if (flag.kind !== 'p') {
      if (this.plus) return fail('malformed-request', 'a -PLUS mechanism needs channel binding');
      // The client can bind but believes we cannot: we advertised -PLUS, so someone removed it.
      if (flag.kind === 'y' && tls !== null && bindings.length > 0) {
        return fail('not-authorized', 'server-does-support-channel-binding');
      }
      return Buffer.alloc(0);
    }
    if (!this.plus) return fail('malformed-request', 'channel binding needs a -PLUS mechanism');
    const type = flag.type as ChannelBindingType;
    if (tls === null || !bindings.includes(type))
      return fail('malformed-request', 'unsupported-channel-binding-type');
    try {
      switch (type) {
        case 'tls-exporter':
          return tls.exporter();
        case 'tls-server-end-point':
          return tls.serverEndPoint();
        case 'tls-unique':
          return tls.unique();
      }
    } catch {
      return fail('temporary-auth-failure', 'channel binding data unavailable');
    }
  }

  private async clientFirst(message: Buffer): Promise<SaslStep> {
    const text = decodeUtf8(message);
    if (text === null) return fail('malformed-request', 'client-first is not UTF-8');
    const first = parseClientFirst(text);
    if ('kind' in first) return first;
    const data = this.bindingData(first.flag);
    if (!Buffer.isBuffer(data)) return data;
    let username: string;
    try {
      username = prep(first.username, 'query');
    } catch (err) {
      if (err instanceof SaslPrepError) return fail('malformed-request', 'username refused by SASLprep');
      throw err;
    }
    const throttled = throttleGate(this.ctx, username);
    if (throttled !== null) return throttled;
    const found = await lookupCredentials(this.ctx, username);
    if ('kind' in found) return found;
    const credential = credentialFor(this.ctx, this.hash, username, found.credentials);
    if ('kind' in credential) return credential;
    const snonce = serverNonce(this.ctx);
    if (!PRINTABLE.test(snonce)) throw new RangeError('server nonce must be printable without commas');
    const nonce = first.nonce + snonce;
    const serverFirst = `r=${nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
    this.state = {
      at: 'client-final',
      username,
      authzid: first.authzid,
      nonce,
      cbindInput: Buffer.concat([Buffer.from(first.gs2Header, 'utf8'), data]),
      authPrefix: `${first.bare},${serverFirst},`,
      credential: credential.known,
    };
    return { kind: 'challenge', data: Buffer.from(serverFirst, 'utf8') };
  }

  private async clientFinal(
    message: Buffer,
    state: Extract<State, { at: 'client-final' }>,
  ): Promise<SaslStep> {
    const text = decodeUtf8(message);
    if (text === null) return fail('malformed-request', 'client-final is not UTF-8');
    const final = parseClientFinal(text, SCRAM_HASHES[this.hash].length);
    if ('kind' in final) return final;
    if (!equalConstantTime(Buffer.from(final.nonce, 'utf8'), Buffer.from(state.nonce, 'utf8'))) {
      return rejectCredentials(this.ctx, state.username);
    }
    if (!equalConstantTime(final.channelBinding, state.cbindInput)) {
      return { ...rejectCredentials(this.ctx, state.username), text: 'channel-bindings-dont-match' };
    }
    const authMessage = state.authPrefix + final.withoutProof;
    // An unknown user runs the same computation against a random key and fails like a wrong password.
    const storedKey = state.credential?.storedKey ?? randomBytes(SCRAM_HASHES[this.hash].length);
    const clientSignature = hmac(this.hash, storedKey, authMessage);
    const clientKey = xor(final.proof, clientSignature);
    const proven = equalConstantTime(hash(this.hash, clientKey), storedKey);
    if (!proven || state.credential === null) return rejectCredentials(this.ctx, state.username);
    const serverSignature = hmac(this.hash, state.credential.serverKey, authMessage);
    return authorize(
      this.ctx,
      state.username,
      state.authzid,
      Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'),
    );
  }
}
