import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLedger } from './ledger.js';
import type {
  DeliveryReport,
  InboundSms,
  OutboundSms,
  ProviderContext,
  ProviderHandlers,
  SmsProvider,
} from './provider.js';
import { FakeTwilio } from './test/fake-twilio.js';
import { createTwilioProvider, isValidTwilioSignature, twilioSignature } from './twilio.js';

const ACCOUNT = 'AC00000000000000000000000000000001';
const TOKEN = 'default-auth-token';
const USER_ACCOUNT = 'AC00000000000000000000000000000002';
const USER_TOKEN = 'user-auth-token';
const PUBLIC_URL = 'https://sms.example.com/gw';

let fake: FakeTwilio;
let http: FastifyInstance;
let provider: SmsProvider;
let inbound: InboundSms[];
let reports: DeliveryReport[];
let failInbound: number;

const handlers: ProviderHandlers = {
  inbound: (sms) => {
    if (failInbound-- > 0) return Promise.reject(new Error('bus unavailable'));
    inbound.push(sms);
    return Promise.resolve();
  },
  report: (r) => {
    reports.push(r);
    return Promise.resolve();
  },
};

const sms = (over: Partial<OutboundSms> = {}): OutboundSms => ({
  id: `env-${Math.random()}`,
  from: '+15017122661',
  to: '+15558675310',
  text: 'Hi there',
  wantReport: true,
  ...over,
});

/** The parameters Twilio posts for an incoming SMS (https://www.twilio.com/docs/messaging/guides/webhook-request). */
const incoming = (over: Record<string, string> = {}): Record<string, string> => ({
  ToCountry: 'US',
  ToState: 'CA',
  SmsMessageSid: 'SM1f0e8ae6ade43cb3c0ce4525424e404f',
  NumMedia: '0',
  ToCity: '',
  FromZip: '',
  SmsSid: 'SM1f0e8ae6ade43cb3c0ce4525424e404f',
  FromState: 'WA',
  SmsStatus: 'received',
  FromCity: '',
  Body: 'Hello from the phone',
  FromCountry: 'US',
  To: '+15017122661',
  ToZip: '',
  NumSegments: '1',
  MessageSid: 'SM1f0e8ae6ade43cb3c0ce4525424e404f',
  AccountSid: ACCOUNT,
  From: '+15558675310',
  ApiVersion: '2010-04-01',
  ...over,
});

beforeEach(async () => {
  inbound = [];
  reports = [];
  failInbound = 0;
  fake = await FakeTwilio.start({ [ACCOUNT]: TOKEN, [USER_ACCOUNT]: USER_TOKEN }, PUBLIC_URL);
  http = Fastify();
  provider = createTwilioProvider({
    baseUrl: fake.baseUrl,
    accountSid: ACCOUNT,
    authToken: TOKEN,
    publicUrl: PUBLIC_URL,
    webhookPath: '/twilio/sms',
    statusPath: '/twilio/status',
    timeoutMs: 300,
    maxSegments: 3,
  });
  await provider.start(handlers, { http });
  await http.listen({ port: 0, host: '127.0.0.1' });
  fake.localUrl = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
});

/** Another provider on its own HTTP server, with the given context (the gateway after a restart). */
async function startAnother(context: Omit<ProviderContext, 'http'>): Promise<{
  provider: SmsProvider;
  url: (path: string) => string;
  stop: () => Promise<void>;
}> {
  const server = Fastify();
  const other = createTwilioProvider({
    baseUrl: fake.baseUrl,
    accountSid: ACCOUNT,
    authToken: TOKEN,
    publicUrl: PUBLIC_URL,
    webhookPath: '/twilio/sms',
    statusPath: '/twilio/status',
    timeoutMs: 300,
  });
  await other.start(handlers, { http: server, ...context });
  await server.listen({ port: 0, host: '127.0.0.1' });
  const local = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  return {
    provider: other,
    // The fake rewrites its public URL to localUrl; this provider listens elsewhere, so sign for the public URL and point there.
    url: (path) => {
      fake.localUrl = local;
      return `${PUBLIC_URL}${path}`;
    },
    stop: async () => {
      await other.stop();
      await server.close();
      fake.localUrl = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
    },
  };
}

afterEach(async () => {
  await provider.stop();
  await http.close();
  await fake.close();
});

describe('X-Twilio-Signature', () => {
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = {
    CallSid: 'CA1234567890ABCDE',
    Caller: '+12349013030',
    Digits: '1234',
    From: '+12349013030',
    To: '+18005551212',
  };

  it("matches Twilio's documented example", () => {
    expect(twilioSignature('12345', url, Object.entries(params))).toBe('0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
    expect(isValidTwilioSignature('12345', url, Object.entries(params), '0/KCTR6DLpKmkAf8muzZqo1nDgQ=')).toBe(
      true,
    );
  });

  it('fails for a changed parameter, another token or a truncated signature', () => {
    const sig = '0/KCTR6DLpKmkAf8muzZqo1nDgQ=';
    expect(isValidTwilioSignature('12345', url, Object.entries({ ...params, Digits: '1235' }), sig)).toBe(
      false,
    );
    expect(isValidTwilioSignature('54321', url, Object.entries(params), sig)).toBe(false);
    expect(isValidTwilioSignature('12345', url, Object.entries(params), sig.slice(0, -1))).toBe(false);
  });

  it('accepts the URL with or without the default port, as Twilio may sign either', () => {
    const withPort = twilioSignature(
      '12345',
      'https://mycompany.com:443/myapp.php?foo=1&bar=2',
      Object.entries(params),
    );
    expect(isValidTwilioSignature('12345', url, Object.entries(params), withPort)).toBe(true);
    expect(
      isValidTwilioSignature(
        '12345',
        'https://mycompany.com:443/myapp.php?foo=1&bar=2',
        Object.entries(params),
        '0/KCTR6DLpKmkAf8muzZqo1nDgQ=',
      ),
    ).toBe(true);
  });
});

describe('Twilio provider: outbound', () => {
  it('POSTs a form-encoded message with basic auth and a status callback, and returns the message sid', async () => {
    const result = await provider.send(sms({ text: 'Hi there €' }));
    expect(result.segments).toBe(1);
    expect(result.providerMessageIds).toHaveLength(1);
    expect(result.providerMessageIds[0]).toMatch(/^SM[0-9a-f]{32}$/);
    const req = fake.requests[0]!;
    expect(req.accountSid).toBe(ACCOUNT);
    expect(req.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}`);
    expect(req.contentType).toContain('application/x-www-form-urlencoded');
    expect(Object.fromEntries(req.params)).toEqual({
      To: '+15558675310',
      From: '+15017122661',
      Body: 'Hi there €',
      StatusCallback: 'https://sms.example.com/gw/twilio/status',
    });
  });

  it("uses the user's own account credentials when the message carries them", async () => {
    await provider.send(sms({ account: { accountSid: USER_ACCOUNT, authToken: USER_TOKEN } }));
    expect(fake.requests[0]!.accountSid).toBe(USER_ACCOUNT);
    expect(fake.requests[0]!.authorization).toBe(
      `Basic ${Buffer.from(`${USER_ACCOUNT}:${USER_TOKEN}`).toString('base64')}`,
    );
  });

  it("refuses, not retryably, with Twilio's code and message on a 4xx", async () => {
    const err = await provider.send(sms({ to: '+1555' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ProviderError', retryable: false, code: '21211' });
    expect((err as Error).message).toContain("The 'To' number +1555 is not a valid phone number.");
  });

  it('refuses, not retryably, when the account credentials are wrong (401, code 20003)', async () => {
    const err = await provider
      .send(sms({ account: { accountSid: USER_ACCOUNT, authToken: 'wrong' } }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ retryable: false, code: '20003' });
  });

  it('fails retryably on a 5xx and on 429', async () => {
    fake.script.push(
      { status: 500, message: 'Internal Server Error' },
      { status: 429, code: 20429, message: 'Too Many Requests' },
    );
    await expect(provider.send(sms())).rejects.toMatchObject({ retryable: true, code: 'http-500' });
    await expect(provider.send(sms())).rejects.toMatchObject({ retryable: true, code: '20429' });
    // The next attempt goes through: nothing sticky was left behind.
    await expect(provider.send(sms())).resolves.toMatchObject({ segments: 1 });
  });

  it('fails retryably when Twilio does not answer in time', async () => {
    fake.script.push('hang');
    await expect(provider.send(sms())).rejects.toMatchObject({ retryable: true, code: 'timeout' });
  });

  it('fails retryably when Twilio cannot be reached', async () => {
    const down = createTwilioProvider({
      baseUrl: 'http://127.0.0.1:1',
      accountSid: ACCOUNT,
      authToken: TOKEN,
      publicUrl: PUBLIC_URL,
      webhookPath: '/a',
      statusPath: '/b',
    });
    await expect(down.send(sms())).rejects.toMatchObject({ retryable: true, code: 'network' });
  });

  it('refuses a message over the segment cap without calling Twilio', async () => {
    await expect(provider.send(sms({ text: 'ж'.repeat(67 * 3 + 1) }))).rejects.toMatchObject({
      retryable: false,
      code: 'SegmentCapError',
    });
    expect(fake.requests).toHaveLength(0);
  });

  it('sends the job id as I-Twilio-Idempotency-Token, and a retry after a timeout creates no second message where it is honoured', async () => {
    fake.honourIdempotencyToken = true;
    fake.script.push({ lateMs: 600 });
    const m = sms();
    await expect(provider.send(m)).rejects.toMatchObject({ retryable: true, code: 'timeout' });
    const retried = await provider.send(m);
    expect(fake.requests.map((r) => r.idempotencyToken)).toEqual([m.id, m.id]);
    expect(fake.requests[1]).toMatchObject({ replayed: true, sid: fake.requests[0]!.sid });
    expect(retried.providerMessageIds).toEqual([fake.requests[0]!.sid]);
  });

  it('does not post again for a job whose message the ledger already records as accepted', async () => {
    const ledger = createMemoryLedger();
    const first = await startAnother({ ledger });
    const m = sms();
    const a = await first.provider.send(m);
    await first.stop();
    // The job runs again (its worker died before completing it): same ledger, new provider.
    const second = await startAnother({ ledger });
    expect(await second.provider.send(m)).toEqual(a);
    expect(fake.requests).toHaveLength(1);
    await second.stop();
  });

  it('sends a repeated idempotency key once', async () => {
    const m = sms();
    const [a, b] = await Promise.all([provider.send(m), provider.send(m)]);
    expect(a).toEqual(b);
    expect(fake.requests).toHaveLength(1);
  });
});

describe('Twilio provider: inbound webhook', () => {
  const webhookUrl = `${PUBLIC_URL}/twilio/sms`;

  it('delivers a correctly signed message and answers empty TwiML', async () => {
    const res = await fake.webhook(webhookUrl, incoming());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/xml');
    expect(await res.text()).toContain('<Response/>');
    expect(inbound).toEqual([
      {
        from: '+15558675310',
        to: '+15017122661',
        text: 'Hello from the phone',
        providerMessageId: 'SM1f0e8ae6ade43cb3c0ce4525424e404f',
        receivedAt: expect.any(Number) as number,
      },
    ]);
  });

  it('carries MMS media URLs in order beside the body, not in it', async () => {
    const res = await fake.webhook(
      webhookUrl,
      incoming({
        NumMedia: '2',
        MediaUrl0: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1',
        MediaContentType0: 'image/jpeg',
        MediaUrl1: 'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2',
        MediaContentType1: 'image/png',
      }),
    );
    expect(res.status).toBe(200);
    expect(inbound[0]!.text).toBe('Hello from the phone');
    expect(inbound[0]!.media).toEqual([
      'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1',
      'https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2',
    ]);
  });

  it('answers 413 to a body over the limit and delivers nothing of it', async () => {
    const res = await fake.webhook(webhookUrl, incoming({ Body: 'x'.repeat(70 * 1024) }));
    expect(res.status).toBe(413);
    expect(inbound).toHaveLength(0);
    // A normal one afterwards still comes through.
    expect((await fake.webhook(webhookUrl, incoming())).status).toBe(200);
    expect(inbound).toHaveLength(1);
  });

  it("checks a per-user account's webhook with the token registered for its To number, also after a restart", async () => {
    // A fresh provider (a restarted gateway) has sent nothing for that account: the token comes from the store.
    const lookups: string[] = [];
    const restarted = await startAnother({
      accountOf: (number) => {
        lookups.push(number);
        return Promise.resolve(
          number === '+15017122661' ? { accountSid: USER_ACCOUNT, authToken: USER_TOKEN } : undefined,
        );
      },
    });
    const userWebhook = incoming({ AccountSid: USER_ACCOUNT, Body: 'to the user account' });
    expect((await fake.webhook(restarted.url('/twilio/sms'), userWebhook)).status).toBe(200);
    expect(lookups).toEqual(['+15017122661']);
    expect(inbound.map((m) => m.text)).toEqual(['to the user account']);
    // Signed with the default token instead: forged for that account.
    const forged = await fake.webhook(restarted.url('/twilio/sms'), userWebhook, { token: TOKEN });
    expect(forged.status).toBe(403);
    // Another number's registration does not vouch for the account.
    const other = incoming({ AccountSid: USER_ACCOUNT, To: '+15017120000' });
    expect((await fake.webhook(restarted.url('/twilio/sms'), other)).status).toBe(403);
    expect(inbound).toHaveLength(1);
    await restarted.stop();
  });

  it('answers 403 and delivers nothing for a forged, a missing or a wrongly keyed signature', async () => {
    const forged = await fake.webhook(webhookUrl, incoming(), { signature: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
    const unsigned = await fake.webhook(webhookUrl, incoming(), { signature: null });
    const wrongKey = await fake.webhook(webhookUrl, incoming(), { token: 'not-the-token' });
    expect([forged.status, unsigned.status, wrongKey.status]).toEqual([403, 403, 403]);
    expect(inbound).toHaveLength(0);
  });

  it('answers 403 when a signed body was altered on the way', async () => {
    const signature = twilioSignature(TOKEN, webhookUrl, Object.entries(incoming()));
    const res = await fake.webhook(webhookUrl, incoming({ Body: 'Send money to +1900' }), { signature });
    expect(res.status).toBe(403);
    expect(inbound).toHaveLength(0);
  });

  it('answers 500 when the gateway could not take the message, so Twilio tries again', async () => {
    failInbound = 1;
    expect((await fake.webhook(webhookUrl, incoming())).status).toBe(500);
    expect(inbound).toHaveLength(0);
    expect((await fake.webhook(webhookUrl, incoming())).status).toBe(200);
    expect(inbound).toHaveLength(1);
  });
});

describe('Twilio provider: status callbacks', () => {
  it('reports delivered and failed messages with their error code', async () => {
    const a = await provider.send(sms());
    const b = await provider.send(sms());
    expect((await fake.statusCallback(a.providerMessageIds[0]!, 'delivered')).ok).toBe(true);
    expect((await fake.statusCallback(b.providerMessageIds[0]!, 'undelivered', '30003')).ok).toBe(true);
    expect(reports).toEqual([
      { providerMessageId: a.providerMessageIds[0], status: 'delivered', at: expect.any(Number) as number },
      {
        providerMessageId: b.providerMessageIds[0],
        status: 'undeliverable',
        errorCode: '30003',
        at: expect.any(Number) as number,
      },
    ]);
  });

  it('acknowledges intermediate states (queued, sent) without reporting them', async () => {
    const a = await provider.send(sms());
    expect((await fake.statusCallback(a.providerMessageIds[0]!, 'queued')).ok).toBe(true);
    expect((await fake.statusCallback(a.providerMessageIds[0]!, 'sent')).ok).toBe(true);
    expect(reports).toHaveLength(0);
  });

  it("checks a per-user account's callbacks with that account's token", async () => {
    const a = await provider.send(sms({ account: { accountSid: USER_ACCOUNT, authToken: USER_TOKEN } }));
    expect((await fake.statusCallback(a.providerMessageIds[0]!, 'failed', '30006')).ok).toBe(true);
    expect(reports).toMatchObject([{ status: 'failed', errorCode: '30006' }]);
  });

  it("checks a per-user account's status callback by its From number after a restart", async () => {
    const sent = await provider.send(sms({ account: { accountSid: USER_ACCOUNT, authToken: USER_TOKEN } }));
    const restarted = await startAnother({
      accountOf: (number) =>
        Promise.resolve(
          number === '+15017122661' ? { accountSid: USER_ACCOUNT, authToken: USER_TOKEN } : undefined,
        ),
    });
    const res = await fake.webhook(restarted.url('/twilio/status'), {
      AccountSid: USER_ACCOUNT,
      From: '+15017122661',
      To: '+15558675310',
      MessageSid: sent.providerMessageIds[0]!,
      MessageStatus: 'delivered',
    });
    expect(res.status).toBe(204);
    expect(reports).toMatchObject([{ providerMessageId: sent.providerMessageIds[0], status: 'delivered' }]);
    await restarted.stop();
  });

  it('reports a repeated final status callback once', async () => {
    const a = await provider.send(sms());
    expect((await fake.statusCallback(a.providerMessageIds[0]!, 'delivered')).status).toBe(204);
    expect((await fake.statusCallback(a.providerMessageIds[0]!, 'delivered')).status).toBe(204);
    expect((await fake.statusCallback(a.providerMessageIds[0]!, 'read')).status).toBe(204);
    expect(reports).toHaveLength(1);
  });

  it('answers 403 to a forged status callback and reports nothing', async () => {
    const res = await fake.webhook(
      `${PUBLIC_URL}/twilio/status`,
      { AccountSid: ACCOUNT, MessageSid: 'SM0', MessageStatus: 'delivered' },
      { token: 'guess' },
    );
    expect(res.status).toBe(403);
    expect(reports).toHaveLength(0);
  });
});
