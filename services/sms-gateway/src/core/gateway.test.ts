import { randomUUID } from 'node:crypto';
import fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryBus, type Bus } from '@switchboard/bus';
import { createLogger } from '@switchboard/kit';
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
  h = { bus, app, provider, registrations, out, http, remembered };
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

async function register(from: string, phone: string, account = ACCOUNT): Promise<Element> {
  const id = randomUUID();
  await send(
    'iq',
    from,
    `<iq xmlns='jabber:client' type='set' to='${DOMAIN}' id='${id}'><query xmlns='jabber:iq:register'><phone>${phone}</phone>${account}</query></iq>`,
  );
  return byId(id);
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
    await register(JULIET, '+15551234567');
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
    await register(JULIET, '+15551234567');
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
