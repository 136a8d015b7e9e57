// Interoperability: the SMS gateway as a XEP-0114 component of Prosody 0.12 (Debian), not of
// Switchboard, with a Prosody user exchanging SMS with a real SMPP SMSC in both directions.
import fastify from 'fastify';
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSmppProvider } from '../../services/sms-gateway/src/providers/smpp.js';
import { TestSmsc, type ReceivedPdu } from '../../services/sms-gateway/src/providers/test/smsc.js';
import { componentTransport } from '../../services/sms-gateway/src/transports/index.js';
import {
  DOMAIN,
  NS_RECEIPTS,
  NS_REGISTER,
  SMS_DOMAIN,
  chat,
  isChatFrom,
  login,
  quietLogger,
  registerVerified,
  smscCodes,
  startGateway,
  type Gateway,
  type User,
} from './harness.js';
import { startProsody, type Prosody } from '../support/prosody.js';

const SECRET = 'prosody-component-secret';
const JULIET_NUMBER = '+15550002222';
const PHONE = '+15551234567';
const PHONE_JID = `${PHONE}@${SMS_DOMAIN}`;

const textOf = (r: ReceivedPdu): string => {
  const sm = r.pdu['short_message'] as { message: string | Buffer };
  return typeof sm.message === 'string' ? sm.message : sm.message.toString('latin1');
};

describe('SMS gateway as a XEP-0114 component of Prosody 0.12', () => {
  const logs: string[] = [];
  let prosody: Prosody | undefined;
  let smsc: TestSmsc;
  let gateway: Gateway;
  let juliet: User;
  const http = fastify();

  beforeAll(async () => {
    prosody = await startProsody({
      domain: DOMAIN,
      component: { domain: SMS_DOMAIN, secret: SECRET },
      users: { juliet: 'juliet-pass' },
    });
    smsc = await TestSmsc.start();
    const logger = quietLogger('sms-prosody-gateway', logs);
    const transport = componentTransport({
      service: `xmpp://127.0.0.1:${prosody.componentPort}`,
      domain: SMS_DOMAIN,
      secret: SECRET,
      logger,
    });
    gateway = await startGateway({
      transport,
      provider: createSmppProvider({
        host: '127.0.0.1',
        port: smsc.port,
        systemId: smsc.credentials.systemId,
        password: smsc.credentials.password,
        maxSegments: 3,
      }),
      http,
      logger,
    });
    await transport.online();
    juliet = await login(prosody.c2sPort, 'juliet', 'juliet-pass');
  }, 30_000);

  afterAll(async () => {
    await juliet?.stop();
    await gateway?.stop();
    await smsc?.close();
    await prosody?.stop();
    await http.close();
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(`${logs.join('')}\n${prosody?.diagnostics() ?? ''}`);
  });

  it('lets a Prosody user discover the gateway and register a number through Prosody (XEP-0030, XEP-0077)', async () => {
    const info = await juliet.iq(
      xml(
        'iq',
        { type: 'get', to: SMS_DOMAIN },
        xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      ),
    );
    const identity = info.getChild('query')!.getChild('identity')!;
    expect(identity.attrs).toMatchObject({ category: 'gateway', type: 'sms' });

    expect((await registerVerified(juliet, JULIET_NUMBER, smscCodes(smsc))).attrs['type']).toBe('result');
    const form = await juliet.iq(
      xml('iq', { type: 'get', to: SMS_DOMAIN }, xml('query', { xmlns: NS_REGISTER })),
    );
    expect(form.getChild('query', NS_REGISTER)!.getChildText('phone')).toBe(JULIET_NUMBER);
  });

  it('sends a Prosody user’s chat message to the SMSC as submit_sm and acknowledges its receipt', async () => {
    const seen = smsc.submits.length;
    await juliet.send(chat(PHONE_JID, 'Hello from Prosody', 'p-1', [xml('request', { xmlns: NS_RECEIPTS })]));
    await smsc.until(() => smsc.submits.length > seen);
    const submit = smsc.submits[seen]!;
    expect(submit.pdu).toMatchObject({
      source_addr: JULIET_NUMBER.slice(1),
      destination_addr: PHONE.slice(1),
    });
    expect(textOf(submit)).toBe('Hello from Prosody');

    // The SMSC numbers its message ids from msg-1000.
    const id = `msg-${1000 + seen}`;
    await gateway.recorded(id);
    await smsc.deliver({
      source_addr_ton: 1,
      source_addr: PHONE.slice(1),
      dest_addr_ton: 1,
      destination_addr: JULIET_NUMBER.slice(1),
      esm_class: 0x04,
      short_message: { message: `id:${id} sub:001 dlvrd:001 stat:DELIVRD err:000 text:` },
    });
    const receipt = await juliet.inbox.next(
      (s) => s.is('message') && s.getChild('received', NS_RECEIPTS) !== undefined,
      'the receipt through Prosody',
    );
    expect(receipt.attrs['from']).toBe(PHONE_JID);
    expect(receipt.getChild('received', NS_RECEIPTS)!.attrs['id']).toBe('p-1');
  });

  it('delivers an SMS from the phone to the Prosody user as a chat message', async () => {
    await smsc.deliver({
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: PHONE.slice(1),
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: JULIET_NUMBER.slice(1),
      short_message: { message: 'Answer from the phone' },
    });
    const message = await juliet.inbox.next(isChatFrom(PHONE_JID), 'the SMS through Prosody');
    expect(message.attrs['to']).toMatch(new RegExp(`^juliet@${DOMAIN}`));
    expect(message.getChildText('body')).toBe('Answer from the phone');
  });
});
