import fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@switchboard/kit';
import { Inbox } from '@switchboard/testkit';
import { parseElement, type Element } from '@switchboard/xml';
import { build, type SmsGatewayApp } from '../app.js';
import { TestProvider } from '../core/test/test-provider.js';
import { DEFAULT_KEYWORD_REPLIES } from '../core/keywords.js';
import { createMemoryQueue } from '../queue/memory.js';
import { openSqliteRegistrations } from '../registrations/sqlite.js';
import type { Registrations } from '../registrations/registrations.js';
import type { Incoming, Transport } from '../transports/index.js';
import type { RoomMemberships } from './memberships.js';
import { openSqliteRoomMemberships } from './sqlite.js';

const DOMAIN = 'sms.localhost';
const OWNER = 'juliet@localhost';
const OWN_NUMBER = '+15550009999';
const PHONE = '+15551234567';
const PHONE_OCCUPANT = `${PHONE}@${DOMAIN}/sms`;
const COVEN = 'coven@conference.localhost';
const MUC_USER = 'http://jabber.org/protocol/muc#user';

interface Harness {
  readonly app: SmsGatewayApp;
  readonly provider: TestProvider;
  readonly registrations: Registrations;
  readonly memberships: RoomMemberships;
  /** Stanzas the gateway sent. */
  readonly out: Inbox<Element>;
  /** Hands a stanza to the gateway as its transport would. */
  readonly receive: (xmlText: string) => Promise<void>;
  readonly http: FastifyInstance;
}

let h: Harness;
let counter = 0;

async function start(prepare?: (memberships: RoomMemberships) => Promise<void>): Promise<Harness> {
  const logger = createLogger({ service: 'rooms-test', level: 'silent' });
  const provider = new TestProvider();
  const registrations = openSqliteRegistrations({ path: ':memory:' });
  const memberships = openSqliteRoomMemberships({ path: ':memory:' });
  await registrations.put({ jid: OWNER, number: OWN_NUMBER });
  await prepare?.(memberships);
  const out = new Inbox<Element>();
  let onStanza: ((el: Element, incoming: Incoming) => Promise<void>) | undefined;
  const transport: Transport = {
    start(handler, hooks) {
      onStanza = handler;
      hooks?.online?.();
      return Promise.resolve();
    },
    send(el) {
      out.push(el);
      return Promise.resolve();
    },
    stop: () => Promise.resolve(),
  };
  const http = fastify();
  const app = build(
    {
      domain: DOMAIN,
      maxSegments: 3,
      accountFields: {},
      reportTtlMs: 60_000,
      rooms: { batchDelayMs: 20, batchSegments: 3, announce: false },
    },
    {
      transport,
      provider,
      registrations,
      rooms: memberships,
      queue: createMemoryQueue({ attempts: 1 }),
      http,
      logger,
    },
  );
  await app.start();
  return {
    app,
    provider,
    registrations,
    memberships,
    out,
    http,
    receive: (xmlText) => onStanza!(parseElement(xmlText), { id: `in-${++counter}` }),
  };
}

/** An SMS from PHONE to the owner's number, as the provider reports it. */
function text(body: string): Promise<void> {
  return h.provider.events.inbound({
    from: PHONE,
    to: OWN_NUMBER,
    text: body,
    providerMessageId: `mo-${++counter}`,
    receivedAt: Date.now(),
  });
}

function smsContaining(fragment: string): Promise<string> {
  return h.provider.sent
    .waitFor((sms) => sms.to === PHONE && sms.text.includes(fragment), `an SMS with "${fragment}"`)
    .then((sms) => sms.text);
}

afterEach(async () => {
  await h.app.stop();
  await h.registrations.close();
  await h.memberships.close();
  await h.http.close();
});

describe('rooms bridge: a phone in no room', () => {
  beforeEach(async () => {
    h = await start();
  });

  it('keeps plain texts and unknown slash words 1:1, and YES without an invitation is START', async () => {
    await text('hello');
    await text('/shrug');
    const chats = await Promise.all(
      ['hello', '/shrug'].map((body) =>
        h.out.waitFor((el) => el.name === 'message' && el.getChildText('body') === body, body),
      ),
    );
    for (const chat of chats) expect(chat.attrs).toMatchObject({ to: OWNER, type: 'chat' });
    await text('YES');
    expect(await smsContaining('resubscribed')).toBe(DEFAULT_KEYWORD_REPLIES.start);
  });

  it('leaves the texts of a phone that opted out 1:1, commands included', async () => {
    await text('STOP');
    await smsContaining('unsubscribed');
    await text(`/join ${COVEN} witch`);
    const chat = await h.out.waitFor((el) => el.name === 'message', 'the text as a 1:1 chat');
    expect(chat.attrs).toMatchObject({ to: OWNER, type: 'chat' });
    expect(h.out.items.some((el) => el.name === 'presence' && el.attrs['from'] !== DOMAIN)).toBe(false);
  });

  it('answers /help with the commands and where texts go, and /join without a room with its usage', async () => {
    await text('/help');
    const help = await smsContaining('/join room@service nick');
    expect(help).toContain('/msg nick text');
    expect(help).toContain(`in no room, to ${OWNER}`);
    await text('/join');
    await smsContaining('Usage: /join room@service nick');
  });

  it('joins with XEP-0045 presence, no history, and accepts a room it created as an instant room', async () => {
    await text(`/join ${COVEN} witch`);
    const join = await h.out.waitFor(
      (el) => el.name === 'presence' && el.attrs['from'] !== DOMAIN,
      'the join presence',
    );
    expect(join.attrs).toMatchObject({ from: PHONE_OCCUPANT, to: `${COVEN}/witch` });
    const x = join.getChild('x', 'http://jabber.org/protocol/muc');
    expect(x?.getChild('history')?.attrs['maxstanzas']).toBe('0');
    // XEP-0045 §10.1.1, example 153: the room was created and is locked.
    await h.receive(
      `<presence from="${COVEN}/witch" to="${PHONE_OCCUPANT}"><x xmlns="${MUC_USER}"><item affiliation="owner" role="moderator"/><status code="110"/><status code="201"/></x></presence>`,
    );
    const config = await h.out.waitFor((el) => el.name === 'iq', 'the instant room configuration');
    expect(config.attrs).toMatchObject({ to: COVEN, type: 'set' });
    const form = config
      .getChild('query', 'http://jabber.org/protocol/muc#owner')
      ?.getChild('x', 'jabber:x:data');
    expect(form?.attrs['type']).toBe('submit');
    expect(await smsContaining(`You joined ${COVEN} as witch`)).toContain('No one else is here');
    expect((await h.memberships.get(PHONE, COVEN))?.via).toBe(OWN_NUMBER);
  });

  it('declines a mediated invitation through the room when no number can carry it (XEP-0045 §7.8.2)', async () => {
    await h.receive(
      `<message from="${COVEN}" to="${PHONE}@${DOMAIN}"><x xmlns="${MUC_USER}"><invite from="${COVEN}/romeo"/></x></message>`,
    );
    const decline = await h.out.waitFor((el) => el.name === 'message', 'the decline');
    expect(decline.attrs['to']).toBe(COVEN);
    expect(decline.getChild('x', MUC_USER)?.getChild('decline')?.attrs['to']).toBe(`${COVEN}/romeo`);
  });

  it('refuses a XEP-0249 invitation with an error when no number can carry it', async () => {
    await h.receive(
      `<message from="romeo@localhost/orchard" to="${PHONE}@${DOMAIN}" id="inv-1"><x xmlns="jabber:x:conference" jid="${COVEN}"/></message>`,
    );
    const error = await h.out.waitFor((el) => el.name === 'message', 'the error');
    expect(error.attrs).toMatchObject({ to: 'romeo@localhost/orchard', type: 'error', id: 'inv-1' });
  });
});

describe('rooms bridge: after a restart', () => {
  beforeEach(async () => {
    h = await start((memberships) =>
      memberships.put({ phone: PHONE, room: COVEN, nick: 'witch', via: OWN_NUMBER, selectedAt: 1 }),
    );
  });

  it('rejoins stored rooms when the transport is online, and texts reach the room again', async () => {
    const rejoin = await h.out.waitFor(
      (el) => el.name === 'presence' && el.attrs['from'] !== DOMAIN,
      'the rejoin',
    );
    expect(rejoin.attrs).toMatchObject({ from: PHONE_OCCUPANT, to: `${COVEN}/witch` });
    await h.receive(
      `<presence from="${COVEN}/witch" to="${PHONE_OCCUPANT}"><x xmlns="${MUC_USER}"><item affiliation="none" role="participant"/><status code="110"/></x></presence>`,
    );
    await text('Double, double toil and trouble');
    const message = await h.out.waitFor((el) => el.name === 'message', 'the groupchat');
    expect(message.attrs).toMatchObject({ from: PHONE_OCCUPANT, to: COVEN, type: 'groupchat' });
    expect(message.getChildText('body')).toBe('Double, double toil and trouble');
  });

  it('tells the phone its nick is taken and lets /nick retry the join', async () => {
    await h.receive(
      `<presence from="${COVEN}/witch" to="${PHONE_OCCUPANT}" type="error"><error type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`,
    );
    await smsContaining('The nick witch is taken');
    expect(await h.memberships.get(PHONE, COVEN)).toBeNull();
    await text('/nick hag');
    await h.out.waitFor(
      (el) => el.name === 'presence' && el.attrs['to'] === `${COVEN}/hag`,
      'the join under the new nick',
    );
  });
});
