import { randomUUID } from 'node:crypto';
import fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryBus, type Bus } from '@switchboard/bus';
import { createLogger, createMetrics, type Metrics } from '@switchboard/kit';
import {
  ENVELOPE_VERSION,
  Streams,
  decodeEnvelope,
  encodeEnvelope,
  partitionOf,
  type Envelope,
  type EnvelopeKind,
} from '@switchboard/protocol';
import { parseElement, type Element } from '@switchboard/xml';
import { build, type SmsGatewayApp } from '../app.js';
import { ProviderError } from '../providers/provider.js';
import { createMemoryQueue } from '../queue/memory.js';
import { openSqliteRegistrations } from '../registrations/sqlite.js';
import type { Registrations, SentRecord } from '../registrations/registrations.js';
import { busTransport } from '../transports/index.js';
import { Inbox } from '@switchboard/testkit';
import { TestProvider } from './test/test-provider.js';

const DOMAIN = 'sms.localhost';
const PARTITIONS = 4;
const JULIET = 'juliet@localhost/balcony';
const ROMEO = 'romeo@localhost/orchard';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

interface Harness {
  readonly bus: Bus;
  readonly app: SmsGatewayApp;
  readonly provider: TestProvider;
  readonly registrations: Registrations;
  /** Every envelope the gateway published on the route streams, with its partition checked. */
  readonly out: Inbox<{ envelope: Envelope; el: Element }>;
  readonly http: FastifyInstance;
  /** Sent records as the worker stores them, i.e. sends the provider accepted. */
  readonly remembered: Inbox<SentRecord>;
  readonly metrics: Metrics;
}

let h: Harness;

beforeEach(async () => {
  const bus = createMemoryBus();
  const logger = createLogger({ service: 'sms-test', level: 'silent' });
  const provider = new TestProvider();
  const store = openSqliteRegistrations({ path: ':memory:' });
  const remembered = new Inbox<SentRecord>();
  const registrations: Registrations = {
    ...store,
    rememberSent: async (record, ttlMs) => {
      await store.rememberSent(record, ttlMs);
      remembered.push(record);
    },
  };
  const http = fastify();
  const metrics = createMetrics({ service: 'sms-test', defaultMetrics: false });
  const app = build(
    {
      domain: DOMAIN,
      maxSegments: 2,
      accountFields: { username: 'accountSid', password: 'authToken' },
      reportTtlMs: 60_000,
      defaultCountryCode: '1',
    },
    {
      transport: busTransport({ bus, domain: DOMAIN, partitions: PARTITIONS, consumer: 'sms-1', logger }),
      provider,
      registrations,
      queue: createMemoryQueue({ attempts: 3, backoffMs: 5 }),
      http,
      logger,
      metrics,
    },
  );
  const out = new Inbox<{ envelope: Envelope; el: Element }>();
  const streams = Array.from({ length: PARTITIONS }, (_, p) => Streams.route(p));
  bus.consume({
    streams,
    group: 'test',
    consumer: 'test',
    handler: (entries) => {
      for (const entry of entries) {
        const envelope = decodeEnvelope(entry.payload);
        expect(entry.stream).toBe(Streams.route(partitionOf(envelope.to.split('/')[0]!, PARTITIONS)));
        out.push({ envelope, el: parseElement(envelope.xml) });
      }
      return Promise.resolve();
    },
  });
  await app.start();
  h = { bus, app, provider, registrations, out, http, remembered, metrics };
});

afterEach(async () => {
  await h.app.stop();
  await h.bus.close();
  await h.registrations.close();
  await h.http.close();
});

function envelope(kind: EnvelopeKind, from: string, xmlText: string, id = randomUUID()): Envelope {
  const el = parseElement(xmlText);
  return {
    v: ENVELOPE_VERSION,
    id,
    kind,
    edgeId: 'edge-1',
    sessionId: 's-1',
    from,
    to: el.attrs['to'] ?? '',
    type: el.attrs['type'] ?? '',
    stanzaId: el.attrs['id'] ?? '',
    xml: xmlText,
    ts: Date.now(),
  };
}

async function deliver(e: Envelope): Promise<void> {
  await h.bus.publish(Streams.service(DOMAIN), encodeEnvelope(e));
}

function send(kind: EnvelopeKind, from: string, xmlText: string): Promise<void> {
  return deliver(envelope(kind, from, xmlText));
}

function reply(test: (el: Element) => boolean, what: string): Promise<Element> {
  return h.out.waitFor(({ el }) => test(el), what).then(({ el }) => el);
}

function byId(id: string): Promise<Element> {
  return reply((el) => el.attrs['id'] === id, `reply to ${id}`);
}

function errorCondition(el: Element): string | undefined {
  return el
    .getChild('error')
    ?.getChildElements()
    .find((c) => c.getNS() === STANZAS && c.name !== 'text')?.name;
}

const ACCOUNT = '<username>AC0123</username><password>secret-token</password>';

async function submitRegistration(from: string, fields: string): Promise<Element> {
  const id = randomUUID();
  await send(
    'iq',
    from,
    `<iq xmlns='jabber:client' type='set' to='${DOMAIN}' id='${id}'><query xmlns='jabber:iq:register'>${fields}</query></iq>`,
  );
  return byId(id);
}

/** The verification code the gateway texted to `number`, read from what the provider was asked to send. */
async function codeTexted(number: string, seen = 0): Promise<string> {
  const sms = await h.provider.sent.waitFor(
    (s) => s.to === number && /^\d{6} is your /.test(s.text) && h.provider.sent.items.indexOf(s) >= seen,
    `the code SMS to ${number}`,
  );
  return sms.text.slice(0, 6);
}

/**
 * XEP-0077 registration with legacy fields, verification included: the first submit gets the code
 * texted and a not-acceptable asking for it; the second carries the code in <text/>. Other answers
 * to the first submit (errors) are returned as they are.
 */
async function register(from: string, phone: string, account = ACCOUNT): Promise<Element> {
  const seen = h.provider.sent.items.length;
  const first = await submitRegistration(from, `<phone>${phone}</phone>${account}`);
  const text = first.getChild('error')?.getChildText('text', STANZAS) ?? '';
  if (first.attrs['type'] !== 'error' || !text.includes('code was texted')) return first;
  const number = first.getChild('query', 'jabber:iq:register')!.getChildText('phone')!;
  const code = await codeTexted(number, seen);
  return submitRegistration(from, `<phone>${phone}</phone>${account}<text>${code}</text>`);
}

function chat(to: string, id: string, body: string, extra = ''): string {
  return `<message xmlns='jabber:client' to='${to}' type='chat' id='${id}'><body>${body}</body>${extra}</message>`;
}

describe('sms gateway: service discovery and registration', () => {
  it('announces itself as an SMS gateway with registration and receipts (XEP-0100 §5)', async () => {
    await send(
      'iq',
      JULIET,
      `<iq xmlns='jabber:client' type='get' to='${DOMAIN}' id='disco1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
    );
    const result = await byId('disco1');
    expect(result.attrs).toMatchObject({ type: 'result', from: DOMAIN, to: JULIET });
    const query = result.getChild('query', 'http://jabber.org/protocol/disco#info')!;
    expect(query.getChild('identity')?.attrs).toMatchObject({ category: 'gateway', type: 'sms' });
    const features = query.getChildren('feature').map((f) => f.attrs['var']);
    expect(features).toEqual(
      expect.arrayContaining([
        'jabber:iq:register',
        'jabber:iq:gateway',
        'urn:xmpp:receipts',
        'jabber:x:oob',
      ]),
    );
  });

  it('hands out the registration form, registers, shows the registration, and changes the number (XEP-0077 §3)', async () => {
    await send(
      'iq',
      JULIET,
      `<iq xmlns='jabber:client' type='get' to='${DOMAIN}' id='reg1'><query xmlns='jabber:iq:register'/></iq>`,
    );
    const form = (await byId('reg1')).getChild('query', 'jabber:iq:register')!;
    expect(form.getChild('registered')).toBeUndefined();
    expect(form.getChild('phone')).toBeDefined();
    expect(form.getChild('username')).toBeDefined();
    expect(form.getChild('password')).toBeDefined();

    const result = await register(JULIET, '+1 555 123 4567');
    expect(result.attrs['type']).toBe('result');
    // XEP-0100 §4.1.1: the gateway asks for the user's presence.
    await reply((el) => el.name === 'presence' && el.attrs['type'] === 'subscribe', 'subscription request');
    expect(await h.registrations.get('juliet@localhost')).toMatchObject({ number: '+15551234567' });

    await send(
      'iq',
      JULIET,
      `<iq xmlns='jabber:client' type='get' to='${DOMAIN}' id='reg2'><query xmlns='jabber:iq:register'/></iq>`,
    );
    const again = (await byId('reg2')).getChild('query', 'jabber:iq:register')!;
    expect(again.getChild('registered')).toBeDefined();
    expect(again.getChildText('phone')).toBe('+15551234567');
    expect(again.getChildText('username')).toBe('AC0123');

    // A national number with the configured country code.
    expect((await register(JULIET, '(555) 765-4321')).attrs['type']).toBe('result');
    expect((await h.registrations.byNumber('+15557654321'))?.jid).toBe('juliet@localhost');
    expect(await h.registrations.byNumber('+15551234567')).toBeNull();
  });

  it('refuses an unusable number or missing provider credentials with not-acceptable, a taken number with conflict', async () => {
    expect(errorCondition(await register(JULIET, 'call me'))).toBe('not-acceptable');
    expect(errorCondition(await register(JULIET, '+15551234567', '<username>AC0123</username>'))).toBe(
      'not-acceptable',
    );
    await register(JULIET, '+15551234567');
    expect(errorCondition(await register(ROMEO, '+15551234567'))).toBe('conflict');
  });

  it('removes a registration; messages then need registration again', async () => {
    await register(JULIET, '+15551234567');
    await send(
      'iq',
      JULIET,
      `<iq xmlns='jabber:client' type='set' to='${DOMAIN}' id='unreg1'><query xmlns='jabber:iq:register'><remove/></query></iq>`,
    );
    expect((await byId('unreg1')).attrs['type']).toBe('result');
    expect(await h.registrations.get('juliet@localhost')).toBeNull();
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'after-removal', 'hi'));
    expect(errorCondition(await byId('after-removal'))).toBe('registration-required');
  });

  it('turns a typed number into a contact JID (XEP-0100 §6.3)', async () => {
    await send(
      'iq',
      JULIET,
      `<iq xmlns='jabber:client' type='get' to='${DOMAIN}' id='gw1'><query xmlns='jabber:iq:gateway'/></iq>`,
    );
    expect((await byId('gw1')).getChild('query', 'jabber:iq:gateway')?.getChildText('prompt')).toBe(
      'Phone Number',
    );
    await send(
      'iq',
      JULIET,
      `<iq xmlns='jabber:client' type='set' to='${DOMAIN}' id='gw2'><query xmlns='jabber:iq:gateway'><prompt>(555) 123-4567</prompt></query></iq>`,
    );
    expect((await byId('gw2')).getChild('query', 'jabber:iq:gateway')?.getChildText('jid')).toBe(
      `+15551234567@${DOMAIN}`,
    );
    await send(
      'iq',
      JULIET,
      `<iq xmlns='jabber:client' type='set' to='${DOMAIN}' id='gw3'><query xmlns='jabber:iq:gateway'><prompt>not a number</prompt></query></iq>`,
    );
    expect(errorCondition(await byId('gw3'))).toBe('jid-malformed');
  });

  it('answers an iq of an unknown namespace with service-unavailable (RFC 6120 §8.4)', async () => {
    await send(
      'iq',
      JULIET,
      `<iq xmlns='jabber:client' type='get' to='${DOMAIN}' id='v1'><query xmlns='jabber:iq:version'/></iq>`,
    );
    const error = await byId('v1');
    expect(error.attrs['type']).toBe('error');
    expect(errorCondition(error)).toBe('service-unavailable');
  });

  it('approves a registered user’s subscription to a contact and shows it available', async () => {
    await register(JULIET, '+15551234567');
    await send(
      'presence',
      JULIET,
      `<presence xmlns='jabber:client' to='+15550001111@${DOMAIN}' type='subscribe'/>`,
    );
    await reply(
      (el) =>
        el.name === 'presence' &&
        el.attrs['type'] === 'subscribed' &&
        el.attrs['from'] === `+15550001111@${DOMAIN}`,
      'subscribed',
    );
    await reply(
      (el) =>
        el.name === 'presence' &&
        el.attrs['type'] === undefined &&
        el.attrs['from'] === `+15550001111@${DOMAIN}`,
      'available presence of the contact',
    );
  });
});

describe('sms gateway: outbound messages', () => {
  beforeEach(async () => {
    expect((await register(JULIET, '+15551234567')).attrs['type']).toBe('result');
    // The code SMS of the setup is delivered; the tests below count sends and provider ids from pm-1.
    await waitForSent('pm-1');
    await h.provider.events.report({ providerMessageId: 'pm-1', status: 'delivered', at: Date.now() });
    h.provider.forget();
    h.remembered.items.length = 0;
  });

  it('sends a chat message as SMS once, even when the same envelope is delivered twice', async () => {
    const e = envelope('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'm1', 'Wherefore art thou?'));
    await deliver(e);
    await deliver(e);
    const sms = await h.provider.sent.waitFor((s) => s.id === e.id, 'the SMS');
    expect(sms).toMatchObject({
      from: '+15551234567',
      to: '+15550001111',
      text: 'Wherefore art thou?',
      account: { accountSid: 'AC0123', authToken: 'secret-token' },
    });
    // A later message proves the duplicate was consumed without a second send.
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'm2', 'second'));
    await h.provider.sent.waitFor((s) => s.text === 'second', 'the second SMS');
    expect(h.provider.sent.items.filter((s) => s.id === e.id)).toHaveLength(1);
  });

  it('appends XEP-0066 out-of-band URLs to the text', async () => {
    await send(
      'message',
      JULIET,
      chat(
        `+15550001111@${DOMAIN}`,
        'oob1',
        'Look',
        "<x xmlns='jabber:x:oob'><url>https://example.com/balcony.jpg</url></x>",
      ),
    );
    const sms = await h.provider.sent.waitFor((s) => s.text.startsWith('Look'), 'the SMS');
    expect(sms.text).toBe('Look\nhttps://example.com/balcony.jpg');
  });

  it('turns a delivery report into a XEP-0184 receipt when one was requested', async () => {
    await send(
      'message',
      JULIET,
      chat(
        `+15550001111@${DOMAIN}`,
        'richard2-4.1.247',
        'My lord, dispatch',
        "<request xmlns='urn:xmpp:receipts'/>",
      ),
    );
    await h.provider.sent.waitFor((s) => s.text === 'My lord, dispatch', 'the SMS');
    const record = await waitForSent('pm-1');
    await h.provider.events.report({ providerMessageId: 'pm-1', status: 'delivered', at: Date.now() });
    const receipt = await reply(
      (el) => el.getChild('received', 'urn:xmpp:receipts') !== undefined,
      'receipt',
    );
    expect(receipt.attrs).toMatchObject({ from: `+15550001111@${DOMAIN}`, to: JULIET });
    expect(receipt.getChild('received', 'urn:xmpp:receipts')?.attrs['id']).toBe('richard2-4.1.247');
    expect(record.wantReceipt).toBe(true);
  });

  it('keeps a delivery report that arrives before the send was recorded, and answers it afterwards', async () => {
    // A fast SMSC: the receipt comes while the gateway is still storing the message ids.
    h.provider.beforeResolve = (id) =>
      h.provider.events.report({ providerMessageId: id, status: 'delivered', at: Date.now() });
    await send(
      'message',
      JULIET,
      chat(`+15550001111@${DOMAIN}`, 'early-1', 'Quick', "<request xmlns='urn:xmpp:receipts'/>"),
    );
    const receipt = await reply(
      (el) => el.getChild('received', 'urn:xmpp:receipts')?.attrs['id'] === 'early-1',
      'receipt for the early report',
    );
    expect(receipt.attrs).toMatchObject({ from: `+15550001111@${DOMAIN}`, to: JULIET });
  });

  it('turns a failed delivery report into a message error to the sender', async () => {
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'fail1', 'hello'));
    await waitForSent('pm-1');
    await h.provider.events.report({
      providerMessageId: 'pm-1',
      status: 'undeliverable',
      errorCode: '001',
      at: 1,
    });
    const error = await byId('fail1');
    expect(error.attrs).toMatchObject({ type: 'error', from: `+15550001111@${DOMAIN}`, to: JULIET });
    expect(errorCondition(error)).toBe('recipient-unavailable');
  });

  it('reports a permanent provider refusal (4xx) to the sender without retrying', async () => {
    h.provider.scriptOutcomes(new ProviderError('21211 invalid To number', false, '400'));
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'refused1', 'hello'));
    const error = await byId('refused1');
    expect(errorCondition(error)).toBe('not-acceptable');
    expect(error.getChild('error')?.getChildText('text', STANZAS)).toContain('21211');
    expect(h.provider.sent.items).toHaveLength(1);
  });

  it('retries a temporary provider failure (5xx) and sends no error once it succeeds', async () => {
    h.provider.scriptOutcomes(new ProviderError('503', true, '503'), new ProviderError('503', true, '503'));
    await send(
      'message',
      JULIET,
      chat(`+15550001111@${DOMAIN}`, 'retry1', 'hello', "<request xmlns='urn:xmpp:receipts'/>"),
    );
    await waitForSent('pm-1');
    expect(h.provider.sent.items).toHaveLength(3);
    await h.provider.events.report({ providerMessageId: 'pm-1', status: 'delivered', at: 1 });
    const next = await reply(
      (el) => el.attrs['id'] === 'retry1' || el.getChild('received') !== undefined,
      'outcome',
    );
    expect(next.attrs['type']).not.toBe('error');
  });

  it('refuses invalid numbers: jid-malformed for a broken +number, item-not-found for a non-number', async () => {
    await send('message', JULIET, chat(`+12@${DOMAIN}`, 'bad1', 'hi'));
    expect(errorCondition(await byId('bad1'))).toBe('jid-malformed');
    await send('message', JULIET, chat(`alice@${DOMAIN}`, 'bad2', 'hi'));
    expect(errorCondition(await byId('bad2'))).toBe('item-not-found');
  });

  it('refuses a body over the segment cap with not-acceptable and says why', async () => {
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'long1', 'x'.repeat(2 * 153 + 1)));
    const error = await byId('long1');
    expect(errorCondition(error)).toBe('not-acceptable');
    expect(error.getChild('error')?.getChildText('text', STANZAS)).toMatch(/3 SMS segments; at most 2/);
    expect(h.provider.sent.items).toHaveLength(0);
  });

  it('refuses a message without a body with bad-request', async () => {
    await send('message', JULIET, `<message xmlns='jabber:client' to='+15550001111@${DOMAIN}' id='empty1'/>`);
    expect(errorCondition(await byId('empty1'))).toBe('bad-request');
  });
});

describe('sms gateway: inbound SMS', () => {
  beforeEach(async () => {
    expect((await register(JULIET, '+15551234567')).attrs['type']).toBe('result');
    // The code SMS of the setup is delivered; the tests below count sends and provider ids from pm-1.
    await waitForSent('pm-1');
    await h.provider.events.report({ providerMessageId: 'pm-1', status: 'delivered', at: Date.now() });
    h.provider.forget();
    h.remembered.items.length = 0;
  });

  it('delivers an SMS as a chat message from +E164@sms to the registered user, in their partition', async () => {
    await h.provider.events.inbound({
      from: '+15550001111',
      to: '+15551234567',
      text: 'It is the east',
      providerMessageId: 'in-1',
      receivedAt: Date.now(),
    });
    const { envelope: e, el } = await h.out.waitFor(
      ({ el }) => el.getChildText('body') === 'It is the east',
      'chat',
    );
    expect(el.attrs).toMatchObject({ from: `+15550001111@${DOMAIN}`, to: 'juliet@localhost', type: 'chat' });
    expect(e).toMatchObject({
      kind: 'message',
      from: `+15550001111@${DOMAIN}`,
      to: 'juliet@localhost',
    });
    // The router routes it (to its users, or to another component such as a MUC service).
    expect(e.stage).toBeUndefined();
  });

  it('drops an SMS for a number nobody registered', async () => {
    await h.provider.events.inbound({
      from: '+15550001111',
      to: '+15559999999',
      text: 'lost',
      providerMessageId: 'in-2',
      receivedAt: 1,
    });
    await h.provider.events.inbound({
      from: '+15550001111',
      to: '+15551234567',
      text: 'found',
      providerMessageId: 'in-3',
      receivedAt: 1,
    });
    await h.out.waitFor(({ el }) => el.getChildText('body') === 'found', 'the second SMS');
    expect(h.out.items.some(({ el }) => el.getChildText('body') === 'lost')).toBe(false);
  });

  it('honours STOP: records it, confirms by SMS, forwards nothing, and refuses later messages; START undoes it', async () => {
    await h.provider.events.inbound({
      from: '+15550001111',
      to: '+15551234567',
      text: ' stop ',
      providerMessageId: 'k1',
      receivedAt: 1,
    });
    const confirmation = await h.provider.sent.waitFor((s) => s.to === '+15550001111', 'STOP confirmation');
    expect(confirmation.from).toBe('+15551234567');
    expect(confirmation.text).toMatch(/unsubscribed/);
    expect(await h.registrations.isOptedOut('+15550001111', '+15551234567')).toBe(true);
    expect(h.out.items.some(({ el }) => el.name === 'message' && el.getChildText('body') !== undefined)).toBe(
      false,
    );

    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'optout1', 'are you there?'));
    const error = await byId('optout1');
    expect(errorCondition(error)).toBe('forbidden');
    expect(error.getChild('error')?.getChildText('text', STANZAS)).toMatch(/opted out/);

    await h.provider.events.inbound({
      from: '+15550001111',
      to: '+15551234567',
      text: 'START',
      providerMessageId: 'k2',
      receivedAt: 1,
    });
    await h.provider.sent.waitFor((s) => s.text.includes('resubscribed'), 'START confirmation');
    expect(await h.registrations.isOptedOut('+15550001111', '+15551234567')).toBe(false);
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'optin1', 'welcome back'));
    await h.provider.sent.waitFor((s) => s.text === 'welcome back', 'the SMS after START');
  });
});

/** Resolves once the worker stored the send under that provider id (the provider accepted it). */
function waitForSent(providerMessageId: string): Promise<SentRecord> {
  return h.remembered.waitFor(
    (r) => r.providerMessageIds.includes(providerMessageId),
    `send ${providerMessageId}`,
  );
}

// ---- issue #6 audit: verification, commands, XEP-0100 presence, OOB, keywords, metrics ----

const FORM = "xmlns='jabber:x:data'";
const NS_COMMANDS = 'http://jabber.org/protocol/commands';

/** Index of the first stanza after `start` in what the gateway published that passes `test`. */
function indexOf(test: (el: Element) => boolean, start = 0): number {
  return h.out.items.findIndex(({ el }, i) => i >= start && test(el));
}

const presenceOf =
  (type: string | undefined, from = DOMAIN) =>
  (el: Element) =>
    el.name === 'presence' && el.attrs['type'] === type && el.attrs['from'] === from;

function submitForm(fields: Record<string, string>): string {
  const inner = Object.entries(fields)
    .map(([name, value]) => `<field var='${name}'><value>${value}</value></field>`)
    .join('');
  return `<x ${FORM} type='submit'><field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>${inner}</x>`;
}

async function command(from: string, body: string): Promise<Element> {
  const id = randomUUID();
  await send('iq', from, `<iq xmlns='jabber:client' type='set' to='${DOMAIN}' id='${id}'>${body}</iq>`);
  const result = await byId(id);
  expect(result.attrs['type']).toBe('result');
  return result.getChild('command', NS_COMMANDS)!;
}

describe('sms gateway: number verification over XEP-0077 with a data form', () => {
  it('offers a data form, texts a code, refuses registration until the right code comes back', async () => {
    await send(
      'iq',
      JULIET,
      `<iq xmlns='jabber:client' type='get' to='${DOMAIN}' id='vf1'><query xmlns='jabber:iq:register'/></iq>`,
    );
    const form = (await byId('vf1')).getChild('query', 'jabber:iq:register')!.getChild('x', 'jabber:x:data')!;
    const vars = form.getChildren('field').map((f) => f.attrs['var']);
    expect(vars).toEqual(expect.arrayContaining(['FORM_TYPE', 'phone', 'code', 'username', 'password']));

    // Step one: the number alone. The code goes out; the answer asks for it, with the form filled in.
    const account = { username: 'AC0123', password: 'secret-token' };
    const first = await submitRegistration(JULIET, submitForm({ phone: '+15551234567', ...account }));
    expect(errorCondition(first)).toBe('not-acceptable');
    const again = first.getChild('query', 'jabber:iq:register')!.getChild('x', 'jabber:x:data')!;
    const codeField = again.getChildren('field').find((f) => f.attrs['var'] === 'code')!;
    expect(codeField.getChild('required')).toBeDefined();
    expect(
      again
        .getChildren('field')
        .find((f) => f.attrs['var'] === 'phone')
        ?.getChildText('value'),
    ).toBe('+15551234567');
    const code = await codeTexted('+15551234567');
    expect(await h.registrations.get('juliet@localhost')).toBeNull();
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'too-early', 'hi'));
    expect(errorCondition(await byId('too-early'))).toBe('registration-required');

    // A wrong code counts against the attempts; the right one registers.
    const wrong = code === '000000' ? '111111' : '000000';
    const refused = await submitRegistration(
      JULIET,
      submitForm({ phone: '+15551234567', ...account, code: wrong }),
    );
    expect(errorCondition(refused)).toBe('not-acceptable');
    expect(refused.getChild('error')?.getChildText('text', STANZAS)).toMatch(/wrong code; 4 attempts left/);
    const done = await submitRegistration(JULIET, submitForm({ phone: '+15551234567', ...account, code }));
    expect(done.attrs['type']).toBe('result');
    expect(await h.registrations.get('juliet@localhost')).toMatchObject({
      number: '+15551234567',
      account: { accountSid: 'AC0123', authToken: 'secret-token' },
    });
    // XEP-0100 §4.1.1: the subscription request follows the result, it does not precede it.
    await reply(presenceOf('subscribe'), 'the subscription request');
    const result = indexOf((el) => el.attrs['id'] === done.attrs['id'] && el.name === 'iq');
    const subscribe = indexOf(presenceOf('subscribe'));
    expect(subscribe).toBeGreaterThan(result);
  });

  it('drops the pending number after too many wrong codes, and limits codes per JID', async () => {
    await register(JULIET, '+15551234567'); // registered; the limits apply to a change of number
    for (let i = 0; i < 2; i++) {
      const ask = await submitRegistration(JULIET, `<phone>+15557654321</phone>${ACCOUNT}`);
      expect(errorCondition(ask)).toBe('not-acceptable');
    }
    const code = await codeTexted('+15557654321');
    const wrong = (c: number): string => String((Number(code) + c) % 1_000_000).padStart(6, '0');
    for (let i = 1; i <= 4; i++) {
      const answer = await submitRegistration(
        JULIET,
        `<phone>+15557654321</phone>${ACCOUNT}<text>${wrong(i)}</text>`,
      );
      expect(errorCondition(answer)).toBe('not-acceptable');
    }
    const fifth = await submitRegistration(
      JULIET,
      `<phone>+15557654321</phone>${ACCOUNT}<text>${wrong(5)}</text>`,
    );
    expect(errorCondition(fifth)).toBe('not-allowed');
    // Even the right code is worthless now; the old number stays registered.
    const late = await submitRegistration(
      JULIET,
      `<phone>+15557654321</phone>${ACCOUNT}<text>${code}</text>`,
    );
    expect(errorCondition(late)).toBe('not-acceptable');
    expect((await h.registrations.get('juliet@localhost'))?.number).toBe('+15551234567');
    // Three codes per hour: the registration's, then two for the change; the fourth is refused.
    const limited = await submitRegistration(JULIET, `<phone>+15557654321</phone>${ACCOUNT}`);
    expect(errorCondition(limited)).toBe('resource-constraint');
  });

  it('refuses <remove/> with other fields as bad-request (XEP-0077 §3.2) and keeps the registration', async () => {
    await register(JULIET, '+15551234567');
    const answer = await submitRegistration(JULIET, `<remove/><phone>+15551234567</phone>`);
    expect(errorCondition(answer)).toBe('bad-request');
    expect(await h.registrations.get('juliet@localhost')).not.toBeNull();
  });
});

describe('sms gateway: registration as XEP-0050 ad-hoc commands', () => {
  it('lists register and unregister, registers in three steps, and unregisters with presence after the result', async () => {
    await send(
      'iq',
      JULIET,
      `<iq xmlns='jabber:client' type='get' to='${DOMAIN}' id='cmds'><query xmlns='http://jabber.org/protocol/disco#items' node='${NS_COMMANDS}'/></iq>`,
    );
    const items = (await byId('cmds')).getChild('query')!.getChildren('item');
    expect(items.map((i) => i.attrs['node'])).toEqual(['register', 'unregister']);

    const start = await command(JULIET, `<command xmlns='${NS_COMMANDS}' node='register' action='execute'/>`);
    expect(start.attrs['status']).toBe('executing');
    const session = start.attrs['sessionid']!;
    const vars = start
      .getChild('x', 'jabber:x:data')!
      .getChildren('field')
      .map((f) => f.attrs['var']);
    expect(vars).toEqual(['phone', 'username', 'password']);

    const fields = (values: Record<string, string>): string =>
      `<x ${FORM} type='submit'>${Object.entries(values)
        .map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`)
        .join('')}</x>`;
    const asked = await command(
      JULIET,
      `<command xmlns='${NS_COMMANDS}' node='register' sessionid='${session}'>${fields({ phone: '(555) 123-4567', username: 'AC0123', password: 'tok' })}</command>`,
    );
    expect(asked.attrs['status']).toBe('executing');
    expect(
      asked
        .getChild('x', 'jabber:x:data')!
        .getChildren('field')
        .map((f) => f.attrs['var']),
    ).toContain('code');
    const code = await codeTexted('+15551234567');
    const wrong = await command(
      JULIET,
      `<command xmlns='${NS_COMMANDS}' node='register' sessionid='${session}' action='complete'>${fields({ code: code === '123456' ? '654321' : '123456' })}</command>`,
    );
    expect(wrong.attrs['status']).toBe('executing');
    expect(wrong.getChild('note')?.attrs['type']).toBe('error');
    const done = await command(
      JULIET,
      `<command xmlns='${NS_COMMANDS}' node='register' sessionid='${session}' action='complete'>${fields({ code })}</command>`,
    );
    expect(done.attrs['status']).toBe('completed');
    expect(await h.registrations.get('juliet@localhost')).toMatchObject({
      number: '+15551234567',
      account: { accountSid: 'AC0123', authToken: 'tok' },
    });
    await reply(presenceOf('subscribe'), 'subscription request after registering');

    const before = h.out.items.length;
    const gone = await command(
      JULIET,
      `<command xmlns='${NS_COMMANDS}' node='unregister' action='execute'/>`,
    );
    expect(gone.attrs['status']).toBe('completed');
    expect(await h.registrations.get('juliet@localhost')).toBeNull();
    await reply(presenceOf('unavailable'), 'unavailable after unregistering');
    const result = indexOf(
      (el) => el.name === 'iq' && el.getChild('command')?.attrs['node'] === 'unregister',
      before,
    );
    const order = ['unsubscribe', 'unsubscribed', 'unavailable'].map((type) =>
      indexOf(presenceOf(type), before),
    );
    expect(order.every((i) => i > result)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('cancels a session', async () => {
    const canceled = await command(
      JULIET,
      `<command xmlns='${NS_COMMANDS}' node='register' sessionid='s1' action='cancel'/>`,
    );
    expect(canceled.attrs['status']).toBe('canceled');
  });
});

describe('sms gateway: XEP-0100 presence', () => {
  it('sends unsubscribe, unsubscribed and unavailable after the result of an unregistration', async () => {
    await register(JULIET, '+15551234567');
    const before = h.out.items.length;
    await submitRegistration(JULIET, '<remove/>');
    await reply(presenceOf('unavailable'), 'unavailable');
    const result = indexOf((el) => el.name === 'iq' && el.attrs['type'] === 'result', before);
    const order = ['unsubscribe', 'unsubscribed', 'unavailable'].map((type) =>
      indexOf(presenceOf(type), before),
    );
    expect(result).toBeGreaterThanOrEqual(before);
    expect(order.every((i) => i > result)).toBe(true);
  });

  it('answers probes by registration, answers unavailable with unavailable, and asks back after approving a contact', async () => {
    await send('presence', ROMEO, `<presence xmlns='jabber:client' to='${DOMAIN}' type='probe'/>`);
    const unregistered = await reply(
      (el) => el.name === 'presence' && el.attrs['to'] === 'romeo@localhost',
      'probe answer',
    );
    expect(unregistered.attrs['type']).toBe('unavailable');

    await register(JULIET, '+15551234567');
    await send('presence', JULIET, `<presence xmlns='jabber:client' to='${DOMAIN}' type='probe'/>`);
    await reply(
      (el) => presenceOf(undefined)(el) && el.attrs['to'] === 'juliet@localhost',
      'available presence answering the probe',
    );

    await send('presence', JULIET, `<presence xmlns='jabber:client' to='${DOMAIN}' type='unavailable'/>`);
    await reply((el) => presenceOf('unavailable')(el) && el.attrs['to'] === JULIET, 'unavailable back');

    const contact = `+15550001111@${DOMAIN}`;
    const before = h.out.items.length;
    await send('presence', JULIET, `<presence xmlns='jabber:client' to='${contact}' type='subscribe'/>`);
    await reply((el) => presenceOf('subscribe', contact)(el), 'subscribe from the contact');
    expect(indexOf(presenceOf('subscribed', contact), before)).toBeLessThan(
      indexOf(presenceOf('subscribe', contact), before),
    );
  });

  it('tells registered users when it stops, and again when it starts', async () => {
    await register(JULIET, '+15551234567');
    await h.app.stop();
    await reply(
      (el) => presenceOf('unavailable')(el) && el.attrs['to'] === 'juliet@localhost',
      'unavailable at stop',
    );
    const before = h.out.items.length;
    const logger = createLogger({ service: 'sms-test', level: 'silent' });
    const again = build(
      { domain: DOMAIN, maxSegments: 2, accountFields: {}, reportTtlMs: 60_000 },
      {
        transport: busTransport({
          bus: h.bus,
          domain: DOMAIN,
          partitions: PARTITIONS,
          consumer: 'sms-2',
          logger,
        }),
        provider: new TestProvider(),
        registrations: h.registrations,
        queue: createMemoryQueue({ attempts: 1 }),
        http: fastify(),
        logger,
      },
    );
    await again.start();
    try {
      await h.out.waitFor(
        ({ el }) =>
          presenceOf(undefined)(el) && el.attrs['to'] === 'juliet@localhost' && h.out.items.length > before,
        'available at start',
      );
      expect(
        indexOf((el) => presenceOf(undefined)(el) && el.attrs['to'] === 'juliet@localhost', before),
      ).toBeGreaterThanOrEqual(before);
    } finally {
      await again.stop();
    }
  });
});

describe('sms gateway: audit fixes to messages, keywords and metrics', () => {
  beforeEach(async () => {
    expect((await register(JULIET, '+15551234567')).attrs['type']).toBe('result');
    await waitForSent('pm-1');
    await h.provider.events.report({ providerMessageId: 'pm-1', status: 'delivered', at: Date.now() });
    h.provider.forget();
    h.remembered.items.length = 0;
  });

  it('sends a Conversations-style upload (body == OOB URL) once', async () => {
    const url = 'https://upload.example.com/aGVsbG8/balcony.jpg';
    // As Conversations sends a shared file: the URL as body and in jabber:x:oob.
    await send(
      'message',
      JULIET,
      `<message xmlns='jabber:client' to='+15550001111@${DOMAIN}' type='chat' id='conv-upload'><body>${url}</body><request xmlns='urn:xmpp:receipts'/><markable xmlns='urn:xmpp:chat-markers:0'/><origin-id xmlns='urn:xmpp:sid:0' id='conv-upload'/><x xmlns='jabber:x:oob'><url>${url}</url></x></message>`,
    );
    const sms = await h.provider.sent.waitFor((s) => s.text.includes('upload.example.com'), 'the SMS');
    expect(sms.text).toBe(url);
  });

  it('renders inbound MMS media as messages with body == URL and jabber:x:oob', async () => {
    const media = ['https://api.twilio.com/media/ME1', 'https://api.twilio.com/media/ME2'];
    await h.provider.events.inbound({
      from: '+15550001111',
      to: '+15551234567',
      text: 'Look at these',
      media,
      providerMessageId: 'mms-1',
      receivedAt: Date.now(),
    });
    await reply((el) => el.getChildText('body') === 'Look at these', 'the text');
    for (const url of media) {
      const message = await reply((el) => el.getChildText('body') === url, `media ${url}`);
      expect(message.attrs).toMatchObject({
        from: `+15550001111@${DOMAIN}`,
        to: 'juliet@localhost',
        type: 'chat',
      });
      expect(message.getChild('x', 'jabber:x:oob')?.getChildText('url')).toBe(url);
    }
  });

  it('records HELP (time and count), and answers it', async () => {
    await h.provider.events.inbound({
      from: '+15550001111',
      to: '+15551234567',
      text: 'help',
      providerMessageId: 'help-1',
      receivedAt: 1234,
    });
    await h.provider.sent.waitFor((s) => s.to === '+15550001111', 'the HELP reply');
    expect(await h.registrations.lastHelp('+15550001111', '+15551234567')).toEqual({ at: 1234, count: 1 });
  });

  it('records a Twilio 21610 refusal as an opt-out and answers the sender forbidden', async () => {
    h.provider.scriptOutcomes(
      new ProviderError(
        'Twilio refused the message (HTTP 400, code 21610): unsubscribed recipient',
        false,
        '21610',
      ),
    );
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'optedout-tw', 'hello'));
    const error = await byId('optedout-tw');
    expect(errorCondition(error)).toBe('forbidden');
    expect(await h.registrations.isOptedOut('+15550001111', '+15551234567')).toBe(true);
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'optedout-tw2', 'again'));
    expect(errorCondition(await byId('optedout-tw2'))).toBe('forbidden');
    expect(h.provider.sent.items).toHaveLength(1);
  });

  it('counts queued, sent, failed, segments, provider latency and report outcomes', async () => {
    const value = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
      const metric = await h.metrics.registry.getSingleMetric(name)!.get();
      return metric.values
        .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
        .reduce((sum, v) => sum + v.value, 0);
    };
    // The setup's code SMS is counted too: read the deltas.
    const base = {
      queued: await value('sms_queued_total'),
      sent: await value('sms_sent_total'),
      segments: await value('sms_segments_total'),
      latency: await value('sms_provider_send_seconds', {}).then(() => latencyCount()),
      delivered: await value('sms_delivery_reports_total', { status: 'delivered' }),
    };
    async function latencyCount(): Promise<number> {
      const metric = await h.metrics.registry.getSingleMetric('sms_provider_send_seconds')!.get();
      return (
        metric.values.find(
          (v) => (v as { metricName?: string }).metricName === 'sms_provider_send_seconds_count',
        )?.value ?? 0
      );
    }
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'metric-ok', 'fine'));
    await waitForSent('pm-1');
    await h.provider.events.report({ providerMessageId: 'pm-1', status: 'delivered', at: 1 });
    h.provider.scriptOutcomes(new ProviderError('21211 invalid To number', false, '400'));
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'metric-bad', 'refused'));
    await byId('metric-bad');
    await send('message', JULIET, chat(`+15550001111@${DOMAIN}`, 'metric-rep', 'lost'));
    await waitForSent('pm-2');
    await h.provider.events.report({ providerMessageId: 'pm-2', status: 'undeliverable', at: 1 });
    await byId('metric-rep');

    expect((await value('sms_queued_total')) - base.queued).toBe(3);
    expect((await value('sms_sent_total')) - base.sent).toBe(2);
    expect((await value('sms_segments_total')) - base.segments).toBe(2);
    expect(await value('sms_failed_total', { reason: 'refused' })).toBe(1);
    // Every provider answer is timed, the refusal included.
    expect((await latencyCount()) - base.latency).toBe(3);
    expect((await value('sms_delivery_reports_total', { status: 'delivered' })) - base.delivered).toBe(1);
    expect(await value('sms_delivery_reports_total', { status: 'undeliverable' })).toBe(1);
  });
});
