import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { planSegments } from '../../sms/encoding.js';
import { twilioSignature } from '../twilio.js';

/** One Messages.json request as the fake received it. */
export interface ReceivedMessageRequest {
  readonly accountSid: string;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly params: URLSearchParams;
  readonly sid?: string;
  /** The I-Twilio-Idempotency-Token header, if sent. */
  readonly idempotencyToken?: string;
  /** Set when the request repeated an idempotency token and got the earlier message back instead of a new one. */
  readonly replayed?: boolean;
}

/** A scripted answer for the next Messages.json request: an HTTP error with Twilio's error body, or no answer at all. */
export type Scripted =
  | { readonly status: number; readonly code?: number; readonly message?: string }
  | 'hang'
  /** Creates the message (it will be sent) but answers only after `delayMs`, as an overloaded API does. */
  | { readonly lateMs: number };

const sid = (prefix: string): string => prefix + randomBytes(16).toString('hex');

/**
 * Speaks the Twilio Messages REST API (2010-04-01) on a local port, and plays
 * Twilio's side of webhooks: signed inbound-message and status-callback
 * POSTs. The third-party API's stand-in for tests, nothing more.
 */
export class FakeTwilio {
  readonly requests: ReceivedMessageRequest[] = [];
  readonly script: Scripted[] = [];
  readonly #accounts: Map<string, string>;
  readonly #hanging: (() => void)[] = [];
  readonly #late = new Map<NodeJS.Timeout, () => void>();
  /** Messages created per account and idempotency token. */
  readonly #byToken = new Map<string, Record<string, unknown>>();
  /**
   * Answer a repeated I-Twilio-Idempotency-Token (same account) with the
   * message the first request created instead of creating another. Off by
   * default: Twilio documents the header on its own webhook requests, and
   * message-creating POSTs as not idempotent
   * (https://www.twilio.com/docs/api/errors/20500); turn it on to stand in for
   * a Twilio-compatible API that honours the token.
   */
  honourIdempotencyToken = false;
  /** Called after each request is recorded, for tests to await traffic instead of polling. */
  readonly #watchers = new Set<() => void>();
  /** Where webhooks really go: the public URL (which is what gets signed) is rewritten to this, as a reverse proxy would. */
  localUrl = '';

  private constructor(
    private readonly app: FastifyInstance,
    accounts: Map<string, string>,
    private readonly publicUrl: string,
  ) {
    this.#accounts = accounts;
  }

  static async start(accounts: Record<string, string>, publicUrl: string): Promise<FakeTwilio> {
    const app = Fastify();
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );
    const fake = new FakeTwilio(app, new Map(Object.entries(accounts)), publicUrl);
    app.post<{ Params: { sid: string } }>('/2010-04-01/Accounts/:sid/Messages.json', (req, reply) =>
      fake.#create(req.params.sid, req.headers, typeof req.body === 'string' ? req.body : '', reply),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.app.server.address() as AddressInfo).port}`;
  }

  async #create(
    accountSid: string,
    headers: Record<string, string | string[] | undefined>,
    raw: string,
    reply: FastifyReply,
  ): Promise<FastifyReply> {
    const params = new URLSearchParams(raw);
    const authorization = typeof headers['authorization'] === 'string' ? headers['authorization'] : undefined;
    const contentType = typeof headers['content-type'] === 'string' ? headers['content-type'] : undefined;
    const tokenHeader = headers['i-twilio-idempotency-token'];
    const idempotencyToken = typeof tokenHeader === 'string' ? tokenHeader : undefined;
    const record = (extra: { sid?: string; replayed?: boolean } = {}): void => {
      this.requests.push({
        accountSid,
        authorization,
        contentType,
        params,
        ...(idempotencyToken === undefined ? {} : { idempotencyToken }),
        ...extra,
      });
      for (const watcher of [...this.#watchers]) watcher();
    };
    const [user, pass] = Buffer.from((authorization ?? '').replace(/^Basic /, ''), 'base64')
      .toString()
      .split(':');
    if (user !== accountSid || this.#accounts.get(accountSid) !== pass) {
      record();
      return error(reply, 401, 20003, 'Authenticate');
    }
    const tokenKey = idempotencyToken === undefined ? undefined : `${accountSid}\n${idempotencyToken}`;
    const earlier = tokenKey === undefined ? undefined : this.#byToken.get(tokenKey);
    if (this.honourIdempotencyToken && earlier !== undefined) {
      record({ sid: String(earlier['sid']), replayed: true });
      return reply.code(201).send(earlier);
    }
    const next = this.script.shift();
    if (next === 'hang') {
      record();
      await new Promise<void>((resolve) => this.#hanging.push(resolve));
      return reply.code(503).send();
    }
    if (next && !('lateMs' in next)) {
      record();
      return error(reply, next.status, next.code, next.message);
    }
    const to = params.get('To');
    const body = params.get('Body');
    if (!to) return (record(), error(reply, 400, 21604, "A 'To' phone number is required."));
    if (!/^\+[1-9]\d{6,14}$/.test(to)) {
      return (record(), error(reply, 400, 21211, `The 'To' number ${to} is not a valid phone number.`));
    }
    if (!body) return (record(), error(reply, 400, 21602, 'Message body is required.'));
    const messageSid = sid('SM');
    const now = new Date().toUTCString();
    const message = {
      account_sid: accountSid,
      api_version: '2010-04-01',
      body,
      date_created: now,
      date_sent: null,
      date_updated: now,
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: params.get('From'),
      messaging_service_sid: null,
      num_media: '0',
      num_segments: String(planSegments(body).count),
      price: null,
      price_unit: 'USD',
      sid: messageSid,
      status: 'queued',
      subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${messageSid}/Media.json` },
      to,
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${messageSid}.json`,
    };
    if (tokenKey !== undefined) this.#byToken.set(tokenKey, message);
    record({ sid: messageSid });
    if (next && 'lateMs' in next) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#late.delete(timer);
          resolve();
        }, next.lateMs);
        this.#late.set(timer, resolve);
      });
    }
    return reply.code(201).send(message);
  }

  /** Resolves when `condition` holds, re-checked after every Messages.json request. */
  until(condition: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!condition()) return;
        this.#watchers.delete(check);
        resolve();
      };
      this.#watchers.add(check);
      check();
    });
  }

  /** POSTs a webhook the way Twilio does: form-encoded, signed over the public URL with the account's token. */
  async webhook(
    publicUrl: string,
    params: Record<string, string>,
    opts: { token?: string; signature?: string | null } = {},
  ): Promise<Response> {
    const token = opts.token ?? this.#accounts.get(params['AccountSid'] ?? '') ?? '';
    const signature =
      opts.signature === undefined
        ? twilioSignature(token, publicUrl, Object.entries(params))
        : opts.signature;
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'user-agent': 'TwilioProxy/1.1',
    };
    if (signature !== null) headers['x-twilio-signature'] = signature;
    return fetch(publicUrl.replace(this.publicUrl, this.localUrl), {
      method: 'POST',
      headers,
      body: new URLSearchParams(params),
    });
  }

  /** Sends the status callback a message asked for, as Twilio does when its state changes. */
  statusCallback(messageSid: string, status: string, errorCode?: string): Promise<Response> {
    const req = this.requests.find((r) => r.sid === messageSid);
    const url = req?.params.get('StatusCallback');
    if (!req || !url) throw new Error(`no message ${messageSid} with a StatusCallback`);
    return this.webhook(url, {
      AccountSid: req.accountSid,
      ApiVersion: '2010-04-01',
      From: req.params.get('From') ?? '',
      To: req.params.get('To') ?? '',
      MessageSid: messageSid,
      SmsSid: messageSid,
      MessageStatus: status,
      SmsStatus: status,
      ...(errorCode ? { ErrorCode: errorCode } : {}),
    });
  }

  async close(): Promise<void> {
    for (const release of this.#hanging.splice(0)) release();
    for (const [timer, resolve] of this.#late) {
      clearTimeout(timer);
      resolve();
    }
    this.#late.clear();
    await this.app.close();
  }
}

function error(
  reply: FastifyReply,
  status: number,
  code: number | undefined,
  message: string | undefined,
): FastifyReply {
  return reply.code(status).send({
    code: code ?? null,
    message: message ?? 'error',
    more_info: code ? `https://www.twilio.com/docs/errors/${code}` : null,
    status,
  });
}
