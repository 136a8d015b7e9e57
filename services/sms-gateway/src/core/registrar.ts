import { createHash, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import { StanzaError } from '@switchboard/component';
import type { Logger } from '@switchboard/kit';
import type { OutboundQueue } from '../queue/queue.js';
import { NumberTakenError, type Registration, type Registrations } from '../registrations/registrations.js';
import { normalizeNumber } from './numbers.js';

/**
 * How a user proves a number is theirs before the gateway sends from it on a
 * shared provider account (SMPP, or Twilio without per-user credentials): the
 * gateway texts a random code to the number and registers it only when the
 * user gives the code back.
 */
export interface VerificationPolicy {
  /** Off: a number is registered as soon as it is submitted (trusted deployments and tests only). */
  readonly enabled: boolean;
  /** How long a code is valid. */
  readonly codeTtlMs: number;
  /** Wrong codes before the pending verification is dropped. */
  readonly maxAttempts: number;
  /** Codes one JID may have sent per `codeWindowMs`. */
  readonly maxCodes: number;
  readonly codeWindowMs: number;
  /** The number the code SMS comes from; default the number being verified. */
  readonly sender?: string;
}

export const DEFAULT_VERIFICATION: VerificationPolicy = {
  enabled: true,
  codeTtlMs: 10 * 60_000,
  maxAttempts: 5,
  maxCodes: 3,
  codeWindowMs: 60 * 60_000,
};

export interface RegistrarOptions {
  /** The gateway domain; code SMS failures come back to the user from it. */
  readonly domain: string;
  /** The gateway's name, in the code SMS. */
  readonly name: string;
  readonly registrations: Registrations;
  readonly queue: Pick<OutboundQueue, 'enqueue'>;
  readonly logger: Logger;
  readonly verification: VerificationPolicy;
  /** JID domains allowed to register; everyone when absent. */
  readonly allowedDomains?: readonly string[];
  readonly defaultCountryCode?: string;
  readonly now?: () => number;
}

/** What a registration request asks for: the number (empty for "the one I am verifying"), a code, credentials. */
export interface Claim {
  readonly phone: string;
  readonly code?: string;
  readonly account?: Readonly<Record<string, string>>;
}

export type ClaimOutcome =
  | { readonly kind: 'registered'; readonly registration: Registration; readonly created: boolean }
  | { readonly kind: 'code-sent'; readonly number: string; readonly expiresAt: number };

/** Registration and its number verification, shared by XEP-0077 and the XEP-0050 commands. */
export class Registrar {
  private readonly now: () => number;
  private readonly allowed: ReadonlySet<string> | null;

  constructor(private readonly options: RegistrarOptions) {
    this.now = options.now ?? Date.now;
    this.allowed =
      options.allowedDomains === undefined
        ? null
        : new Set(options.allowedDomains.map((domain) => domain.toLowerCase()));
  }

  get verifies(): boolean {
    return this.options.verification.enabled;
  }

  /** The number `jid` is verifying right now, if any. */
  async pendingNumber(jid: string): Promise<string | null> {
    if (!this.verifies) return null;
    return (await this.options.registrations.getVerification(jid))?.number ?? null;
  }

  /**
   * Registers (or changes) `jid`'s number: directly when verification is off or
   * the number is already theirs, otherwise in two steps (code sent, then code given).
   * Throws StanzaError for every refusal.
   */
  async claim(jid: string, claim: Claim): Promise<ClaimOutcome> {
    this.checkAllowed(jid);
    const { registrations } = this.options;
    const code = claim.code?.replace(/[\s-]/g, '') ?? '';
    let phone = claim.phone.trim();
    if (phone === '' && code !== '') phone = (await this.pendingNumber(jid)) ?? '';
    const number = normalizeNumber(phone, this.options.defaultCountryCode);
    // XEP-0077 §3.1: missing or unusable registration data is not-acceptable.
    if (number === null)
      throw new StanzaError('not-acceptable', `${phone || 'an empty value'} is not a phone number`);
    const existing = await registrations.get(jid);
    const holder = await registrations.byNumber(number);
    if (holder !== null && holder.jid !== jid)
      throw new StanzaError('conflict', `${number} is registered by another user`);
    // Only a new number needs proof; the same number with new credentials does not.
    if (!this.verifies || existing?.number === number) {
      return this.store(jid, number, claim.account, existing);
    }
    if (code === '') return this.sendCode(jid, number, claim.account);
    const pending = await registrations.getVerification(jid);
    if (pending?.number !== number) {
      throw new StanzaError(
        'not-acceptable',
        `no code is pending for ${number} (codes expire after ${this.minutes} minutes); submit the number without a code to get one`,
      );
    }
    if (!sameHash(pending.codeHash, codeHash(jid, number, code))) {
      const failures = await registrations.failVerification(jid);
      const left = this.options.verification.maxAttempts - failures;
      if (left <= 0) {
        await registrations.removeVerification(jid);
        throw new StanzaError('not-allowed', 'too many wrong codes; submit the number again for a new code');
      }
      throw new StanzaError('not-acceptable', `wrong code; ${left} attempt${left === 1 ? '' : 's'} left`);
    }
    await registrations.removeVerification(jid);
    this.options.logger.info({ jid, number }, 'phone number verified');
    return this.store(jid, number, claim.account ?? pending.account, existing);
  }

  /** Removes `jid`'s registration and any pending verification; false when there was no registration. */
  async remove(jid: string): Promise<boolean> {
    await this.options.registrations.removeVerification(jid);
    return this.options.registrations.remove(jid);
  }

  private get minutes(): number {
    return Math.round(this.options.verification.codeTtlMs / 60_000);
  }

  private checkAllowed(jid: string): void {
    if (this.allowed === null) return;
    const domain = jid.slice(jid.indexOf('@') + 1).toLowerCase();
    // XEP-0077 §3.1: a host that does not let this entity register answers not-allowed.
    if (!this.allowed.has(domain))
      throw new StanzaError('not-allowed', `users of ${domain} cannot register with this gateway`);
  }

  private async store(
    jid: string,
    number: string,
    account: Readonly<Record<string, string>> | undefined,
    existing: Registration | null,
  ): Promise<ClaimOutcome> {
    const registration: Registration = { jid, number, ...(account === undefined ? {} : { account }) };
    try {
      await this.options.registrations.put(registration);
    } catch (error) {
      if (error instanceof NumberTakenError)
        throw new StanzaError('conflict', `${number} is registered by another user`);
      throw error;
    }
    return { kind: 'registered', registration, created: existing === null };
  }

  private async sendCode(
    jid: string,
    number: string,
    account: Readonly<Record<string, string>> | undefined,
  ): Promise<ClaimOutcome> {
    const { registrations, verification } = this.options;
    const sent = await registrations.countCodeSend(jid, verification.codeWindowMs);
    if (sent > verification.maxCodes) {
      throw new StanzaError(
        'resource-constraint',
        `at most ${verification.maxCodes} codes per ${Math.round(verification.codeWindowMs / 60_000)} minutes; try again later`,
      );
    }
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    const expiresAt = this.now() + verification.codeTtlMs;
    await registrations.putVerification({
      jid,
      number,
      ...(account === undefined ? {} : { account }),
      codeHash: codeHash(jid, number, code),
      expiresAt,
      failures: 0,
    });
    const id = `verify-${randomUUID()}`;
    await this.options.queue.enqueue({
      id,
      sms: {
        id,
        from: verification.sender ?? number,
        to: number,
        text: `${code} is your ${this.options.name} code for ${jid}. It expires in ${this.minutes} minutes. Not you? Ignore this SMS.`,
        wantReport: true,
        ...(account === undefined ? {} : { account }),
      },
      // A failed code SMS comes back to the user as a message error from the gateway.
      sender: jid,
      contact: this.options.domain,
      stanzaId: '',
      wantReceipt: false,
    });
    this.options.logger.info({ jid, number }, 'verification code sent');
    return { kind: 'code-sent', number, expiresAt };
  }
}

/** The code bound to the JID and number, so a code for one claim proves nothing about another. */
function codeHash(jid: string, number: string, code: string): string {
  return createHash('sha256').update(`${jid}\u0000${number}\u0000${code}`).digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
