import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SegmentCapError, planSegments } from '../sms/encoding.js';
import { IdempotencyCache } from './idempotency.js';
import { createMemoryLedger, forwardSettled, type SendLedger } from './ledger.js';
import { ProviderError } from './provider.js';
import type {
  DeliveryStatus,
  OutboundSms,
  ProviderContext,
  ProviderHandlers,
  SendResult,
  SmsProvider,
} from './provider.js';

export interface TwilioProviderOptions {
  /** Provider name reported to the core; defaults to 'twilio'. */
  readonly name?: string;
  /** API root, e.g. https://api.twilio.com (or a Twilio-compatible service). */
  readonly baseUrl: string;
  /** The default account; a message's `sms.account` ({ accountSid, authToken }) overrides it. */
  readonly accountSid: string;
  readonly authToken: string;
  /**
   * The gateway's HTTP root as Twilio reaches it (scheme, host, optional port and
   * path prefix of a reverse proxy), e.g. https://sms.example.com. Twilio signs
   * webhooks over this URL, so it must be exactly what is configured at Twilio.
   */
  readonly publicUrl: string;
  /** Route for incoming messages, e.g. /twilio/sms. */
  readonly webhookPath: string;
  /** Route for status callbacks, e.g. /twilio/status. */
  readonly statusPath: string;
  /** Per request to the REST API. Default 10 s. */
  readonly timeoutMs?: number;
  /** Per-message segment cap. Default 10 (Twilio itself refuses bodies over 1,600 characters). */
  readonly maxSegments?: number;
  /**
   * Auth tokens of per-user accounts, to check the webhooks Twilio signs with
   * them. Without it (or when it knows none) the token is looked up through
   * the context's `accountOf` by the user's number: `To` of an incoming
   * message, `From` of a status callback.
   */
  readonly authTokenFor?: (accountSid: string) => string | undefined;
  /** Largest webhook body accepted; larger ones get 413. Default 64 KiB (Twilio's own posts are a few KiB). */
  readonly maxBodyBytes?: number;
}

const FORM = 'application/x-www-form-urlencoded';
const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

/** Twilio MessageStatus values that end a message's life; the others (queued, sending, sent, …) are not reported. */
const FINAL_STATUS: Readonly<Record<string, DeliveryStatus>> = {
  delivered: 'delivered',
  read: 'delivered',
  undelivered: 'undeliverable',
  failed: 'failed',
  canceled: 'failed',
};

/**
 * Twilio's request signature: base64(HMAC-SHA1(authToken, url + each POST
 * parameter's name and value, sorted by name)).
 * https://www.twilio.com/docs/usage/security#validating-requests
 */
export function twilioSignature(
  authToken: string,
  url: string,
  params: Iterable<readonly [string, string]>,
): string {
  const sorted = [...params].sort(([ak, av], [bk, bv]) =>
    ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0,
  );
  const hmac = createHmac('sha1', authToken).update(url, 'utf8');
  for (const [k, v] of sorted) hmac.update(k + v, 'utf8');
  return hmac.digest('base64');
}

/**
 * Checks a X-Twilio-Signature in constant time. Like Twilio's own helpers it
 * accepts the URL with and without the scheme's default port, since Twilio
 * signs whichever form was configured.
 */
export function isValidTwilioSignature(
  authToken: string,
  url: string,
  params: Iterable<readonly [string, string]>,
  signature: string,
): boolean {
  const pairs = [...params];
  const given = Buffer.from(signature, 'utf8');
  let ok = false;
  for (const candidate of urlVariants(url)) {
    const expected = Buffer.from(twilioSignature(authToken, candidate, pairs), 'utf8');
    // Evaluate every candidate: the time taken must not depend on which one matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}

function urlVariants(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [url];
  }
  const defaultPort = parsed.protocol === 'https:' ? '443' : parsed.protocol === 'http:' ? '80' : undefined;
  if (defaultPort === undefined) return [url];
  const explicit = new RegExp(`^(${parsed.protocol}//[^/?#]*?):${defaultPort}(?=[/?#]|$)`);
  if (explicit.test(url)) return [url, url.replace(explicit, '$1')];
  const withPort = url.replace(/^([a-z]+:\/\/[^/?#]+)/i, `$1:${defaultPort}`);
  // URL already carries a non-default port: nothing else to try.
  return parsed.port === '' ? [url, withPort] : [url];
}

export function createTwilioProvider(options: TwilioProviderOptions): SmsProvider {
  return new TwilioProvider(options);
}

interface TwilioErrorBody {
  code?: number | string | null;
  message?: string | null;
}

class TwilioProvider implements SmsProvider {
  readonly name: string;
  readonly #o: TwilioProviderOptions;
  readonly #publicRoot: string;
  readonly #timeoutMs: number;
  readonly #maxSegments: number;
  /** Tokens of per-user accounts seen in send(), for their status callbacks. */
  readonly #tokens = new Map<string, string>();
  readonly #sent = new IdempotencyCache<SendResult>(10_000);
  #handlers: ProviderHandlers | undefined;
  #ledger: SendLedger = createMemoryLedger();
  #accountOf: ProviderContext['accountOf'];

  constructor(options: TwilioProviderOptions) {
    this.name = options.name ?? 'twilio';
    this.#o = options;
    this.#publicRoot = options.publicUrl.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxSegments = options.maxSegments ?? 10;
  }

  async start(handlers: ProviderHandlers, context: ProviderContext): Promise<void> {
    this.#handlers = handlers;
    if (context.ledger !== undefined) this.#ledger = context.ledger;
    this.#accountOf = context.accountOf;
    await context.http.register((app, _opts, done) => {
      this.#mount(app);
      done();
    });
  }

  send(sms: OutboundSms): Promise<SendResult> {
    return this.#sent.run(sms.id, () => this.#send(sms));
  }

  stop(): Promise<void> {
    // Routes belong to the gateway's HTTP server, which closes them; in-flight sends finish on their own timeout.
    this.#handlers = undefined;
    return Promise.resolve();
  }

  // ---- outbound ----

  async #send(sms: OutboundSms): Promise<SendResult> {
    const accountSid = sms.account?.['accountSid'] ?? this.#o.accountSid;
    const authToken =
      sms.account?.['authToken'] ?? (sms.account?.['accountSid'] ? undefined : this.#o.authToken);
    if (authToken === undefined) {
      throw new ProviderError('per-user Twilio account has no authToken', false, 'account-incomplete');
    }
    if (accountSid !== this.#o.accountSid) this.#tokens.set(accountSid, authToken);
    let segments: number;
    try {
      segments = planSegments(sms.text, this.#maxSegments).count;
    } catch (e) {
      if (e instanceof SegmentCapError) throw new ProviderError(e.message, false, e.name);
      throw e;
    }
    // A run of this job already got the message accepted (then crashed or lost the job's completion): not again.
    const accepted = (await this.#ledger.accepted(sms.id)).get(0);
    if (accepted !== undefined) return { providerMessageIds: [accepted], segments };
    const url = `${this.#o.baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
    const form = new URLSearchParams({
      To: sms.to,
      From: sms.from,
      Body: sms.text,
      // Always asked for, even without a receipt request: failures must come back as error stanzas.
      StatusCallback: this.#publicRoot + this.#o.statusPath,
    });
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`,
          'content-type': FORM,
          accept: 'application/json',
          // The job id: a retry after a timeout repeats it, so a provider that honours the token sends one SMS.
          'i-twilio-idempotency-token': sms.id,
        },
        body: form,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      const timeout = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
      throw new ProviderError(
        timeout
          ? `Twilio did not answer within ${this.#timeoutMs} ms`
          : `Twilio unreachable: ${errorText(e)}`,
        true,
        timeout ? 'timeout' : 'network',
      );
    }
    const body = parseJson(text);
    if (res.ok) {
      const sid = body && typeof body['sid'] === 'string' ? body['sid'] : undefined;
      if (!sid)
        throw new ProviderError('Twilio accepted the message but returned no sid', true, 'bad-response');
      await this.#ledger.accept(sms.id, 0, 1, sid);
      const reported = Number(body?.['num_segments']);
      return {
        providerMessageIds: [sid],
        segments: Number.isInteger(reported) && reported > 0 ? reported : segments,
      };
    }
    const err = (body ?? {}) as TwilioErrorBody;
    const twilioCode = err.code === undefined || err.code === null ? undefined : String(err.code);
    const code = twilioCode ?? `http-${res.status}`;
    const message = `Twilio refused the message (HTTP ${res.status}${twilioCode ? `, code ${twilioCode}` : ''}): ${err.message ?? res.statusText}`;
    // 429 and 5xx may pass; any other 4xx is a permanent refusal of this request.
    const retryable = res.status === 429 || res.status >= 500;
    throw new ProviderError(message, retryable, code);
  }

  // ---- inbound ----

  #mount(app: FastifyInstance): void {
    // Encapsulated in this plugin: the form body stays a string, which the signature check needs as sent.
    if (app.hasContentTypeParser(FORM)) app.removeContentTypeParser(FORM);
    const bodyLimit = this.#o.maxBodyBytes ?? 64 * 1024;
    app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit }, (_req, body, done) => {
      done(null, body);
    });
    app.post(this.#o.webhookPath, (req, reply) => this.#onInbound(req, reply));
    app.post(this.#o.statusPath, (req, reply) => this.#onStatus(req, reply));
  }

  /**
   * The form parameters when the request carries a valid X-Twilio-Signature,
   * else undefined. `userNumber` names the parameter holding the registered
   * user's number, whose account signed the request if it is not the default one.
   */
  async #verified(req: FastifyRequest, userNumber: 'To' | 'From'): Promise<URLSearchParams | undefined> {
    const params = new URLSearchParams(typeof req.body === 'string' ? req.body : '');
    const signature = req.headers['x-twilio-signature'];
    if (typeof signature !== 'string' || signature === '') return undefined;
    const accountSid = params.get('AccountSid');
    const token =
      accountSid === null || accountSid === this.#o.accountSid
        ? this.#o.authToken
        : (this.#tokens.get(accountSid) ??
          this.#o.authTokenFor?.(accountSid) ??
          (await this.#registeredToken(accountSid, params.get(userNumber))));
    if (token === undefined) return undefined;
    return isValidTwilioSignature(token, this.#publicRoot + req.url, params, signature) ? params : undefined;
  }

  /** The auth token of the per-user account `accountSid`, if the user who registered `number` gave it. */
  async #registeredToken(accountSid: string, number: string | null): Promise<string | undefined> {
    if (number === null || this.#accountOf === undefined) return undefined;
    const account = await this.#accountOf(number);
    if (account?.['accountSid'] !== accountSid) return undefined;
    const token = account['authToken'];
    // Not cached: a user who changes the token is checked against the new one at once.
    return token === undefined || token === '' ? undefined : token;
  }

  async #onInbound(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const params = await this.#verified(req, 'To');
    if (!params) return void reply.code(403).send();
    const from = params.get('From');
    const to = params.get('To');
    const sid = params.get('MessageSid') ?? params.get('SmsSid');
    const handlers = this.#handlers;
    if (!from || !to || !sid) return void reply.code(400).send();
    if (!handlers) return void reply.code(503).send();
    // MMS: the media URLs go separately; the core offers them as XEP-0066 out-of-band data.
    const media: string[] = [];
    const numMedia = Number(params.get('NumMedia') ?? 0);
    for (let i = 0; i < numMedia; i++) {
      const url = params.get(`MediaUrl${i}`);
      if (url) media.push(url);
    }
    const text = params.get('Body') ?? '';
    try {
      await handlers.inbound({
        from,
        to,
        text,
        ...(media.length > 0 ? { media } : {}),
        providerMessageId: sid,
        receivedAt: Date.now(),
      });
    } catch (error) {
      // A 5xx makes Twilio retry (or at least log the failure): the message is not acknowledged.
      req.log.error({ err: error, messageSid: sid }, 'inbound SMS not accepted');
      return void reply.code(500).send();
    }
    return void reply.code(200).type('text/xml').send(EMPTY_TWIML);
  }

  async #onStatus(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const params = await this.#verified(req, 'From');
    if (!params) return void reply.code(403).send();
    const sid = params.get('MessageSid') ?? params.get('SmsSid');
    const state = params.get('MessageStatus') ?? params.get('SmsStatus');
    const handlers = this.#handlers;
    if (!sid || !state) return void reply.code(400).send();
    if (!handlers) return void reply.code(503).send();
    const status = FINAL_STATUS[state];
    if (status !== undefined) {
      const errorCode = params.get('ErrorCode');
      try {
        const report = {
          providerMessageId: sid,
          status,
          at: Date.now(),
          ...(errorCode ? { errorCode } : {}),
        };
        // A repeated final callback (Twilio retries, or read after delivered) is reported once.
        await forwardSettled(this.#ledger, report, [sid], (r) => handlers.report(r));
      } catch (error) {
        req.log.error({ err: error, messageSid: sid }, 'delivery report not accepted');
        return void reply.code(500).send();
      }
    }
    return void reply.code(204).send();
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return e.message + cause;
}
