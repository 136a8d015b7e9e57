// Issue #6 end to end over SMPP: @xmpp/client users of embedded Switchboard, the SMS gateway
// attached to the router's `svc:{sms.localhost}` stream on the same in-process bus, and a real
// SMPP 3.4 SMSC (the smpp package's server) on a free port.
import fastify from 'fastify';
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KEYWORD_REPLIES } from '../../services/sms-gateway/src/core/keywords.js';
import { createSmppProvider } from '../../services/sms-gateway/src/providers/smpp.js';
import { TestSmsc, type ReceivedPdu } from '../../services/sms-gateway/src/providers/test/smsc.js';
import { busTransport } from '../../services/sms-gateway/src/transports/index.js';
import {
  NS_RECEIPTS,
  SMS_DOMAIN,
  chat,
  errorCondition,
  isChatFrom,
  isErrorFor,
  login,
  quietLogger,
  registerVerified,
  smscCodes,
  startGateway,
  startSwitchboard,
  type Gateway,
  type Switchboard,
  type User,
} from './harness.js';

const JULIET_NUMBER = '+15550009999';
const PHONE = '+15551234567';
const PHONE_JID = `${PHONE}@${SMS_DOMAIN}`;

/** Mobile-originated traffic from `from` to `to` as an SMSC sends it (SMPP 3.4 §4.6.1), international numbers. */
const mo = (from: string, to: string): Record<string, unknown> => ({
  source_addr_ton: 1,
  source_addr_npi: 1,
  source_addr: from.slice(1),
  dest_addr_ton: 1,
  dest_addr_npi: 1,
  destination_addr: to.slice(1),
});

/** A delivery receipt in the text format of SMPP 3.4 Appendix B, from the handset back to the sender. */
const receipt = (messageId: string, stat: string, err: string): Record<string, unknown> => ({
  ...mo(PHONE, JULIET_NUMBER),
  esm_class: 0x04,
  short_message: {
    message: `id:${messageId} sub:001 dlvrd:001 submit date:2611262120 done date:2611262121 stat:${stat} err:${err} text:`,
  },
});

const textOf = (r: ReceivedPdu): string => {
  const sm = r.pdu['short_message'] as { message: string | Buffer };
  return typeof sm.message === 'string' ? sm.message : sm.message.toString('latin1');
};

describe('SMS gateway on embedded Switchboard (bus transport) with a real SMPP SMSC', () => {
  const logs: string[] = [];
  let switchboard: Switchboard;
  let smsc: TestSmsc;
  let gateway: Gateway;
  let juliet: User;
  let romeo: User;
  const http = fastify();

  /** The next submit_sm the SMSC receives after the `seen` it had already received. */
  async function submitAfter(seen: number): Promise<ReceivedPdu> {
    await smsc.until(() => smsc.submits.length > seen);
    return smsc.submits[seen]!;
  }

  /** The id the SMSC answered the `index`th submit_sm with (it numbers from msg-1000; no errors are scripted here). */
  const messageIdOf = (index: number): string => `msg-${1000 + index}`;

  beforeAll(async () => {
    switchboard = await startSwitchboard(logs);
    smsc = await TestSmsc.start();
    const logger = quietLogger('sms-e2e-gateway', logs);
    gateway = await startGateway({
      transport: busTransport({
        bus: switchboard.app.bus,
        domain: SMS_DOMAIN,
        // The standalone runs one route partition.
        partitions: 1,
        consumer: 'sms-e2e',
        logger,
      }),
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
    await switchboard.createAccount('juliet', 'juliet-pass');
    await switchboard.createAccount('romeo', 'romeo-pass');
    juliet = await login(switchboard.tcpPort, 'juliet', 'juliet-pass');
    romeo = await login(switchboard.tcpPort, 'romeo', 'romeo-pass');
  });

  afterAll(async () => {
    await juliet?.stop();
    await romeo?.stop();
    await gateway?.stop();
    await smsc?.close();
    await switchboard?.stop();
    await http.close();
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(logs.slice(-100).join(''));
  });

  it('registers a phone number over XEP-0077 and the gateway then asks to share presence (XEP-0100 §4.1.1)', async () => {
    const result = await registerVerified(juliet, JULIET_NUMBER, smscCodes(smsc));
    expect(result.attrs['type']).toBe('result');
    const subscribe = await juliet.inbox.next(
      (s) => s.is('presence') && s.attrs['from'] === SMS_DOMAIN && s.attrs['type'] === 'subscribe',
      'the gateway subscription request',
    );
    expect(subscribe.attrs['to']).toBe(juliet.bare);
    const form = await juliet.iq(
      xml('iq', { type: 'get', to: SMS_DOMAIN }, xml('query', { xmlns: 'jabber:iq:register' })),
    );
    const query = form.getChild('query', 'jabber:iq:register')!;
    expect(query.getChild('registered')).toBeDefined();
    expect(query.getChildText('phone')).toBe(JULIET_NUMBER);
  });

  it('sends a chat message to +E164@sms.localhost as submit_sm from the registered number', async () => {
    const seen = smsc.submits.length;
    await juliet.send(chat(PHONE_JID, 'Wherefore art thou?', 'out-1'));
    const submit = await submitAfter(seen);
    expect(submit.pdu).toMatchObject({
      command: 'submit_sm',
      source_addr_ton: 1,
      source_addr: JULIET_NUMBER.slice(1),
      dest_addr_ton: 1,
      destination_addr: PHONE.slice(1),
    });
    expect(textOf(submit)).toBe('Wherefore art thou?');
  });

  it('delivers deliver_sm from the phone to the registered user as a chat from +E164@sms.localhost', async () => {
    const resp = await smsc.deliver({
      ...mo(PHONE, JULIET_NUMBER),
      data_coding: 0,
      short_message: { message: 'It is my lady, O, it is my love!' },
    });
    expect(resp.command_status).toBe(0);
    const message = await juliet.inbox.next(isChatFrom(PHONE_JID), 'the SMS as a chat message');
    expect(message.getChildText('body')).toBe('It is my lady, O, it is my love!');
  });

  it("turns the SMSC's delivery receipt into a XEP-0184 <received/> for a message that requested one", async () => {
    const seen = smsc.submits.length;
    await juliet.send(
      chat(PHONE_JID, 'Did you get this?', 'receipt-1', [xml('request', { xmlns: NS_RECEIPTS })]),
    );
    const submit = await submitAfter(seen);
    expect(textOf(submit)).toBe('Did you get this?');
    // SMPP 3.4 §5.2.17: registered_delivery asks the SMSC for the receipt.
    expect(Number(submit.pdu['registered_delivery']) & 0x01).toBe(1);
    const id = messageIdOf(seen);
    await gateway.recorded(id);
    await smsc.deliver(receipt(id, 'DELIVRD', '000'));
    const received = await juliet.inbox.next(
      (s) => s.is('message') && s.getChild('received', NS_RECEIPTS) !== undefined,
      'the receipt',
    );
    expect(received.attrs['from']).toBe(PHONE_JID);
    expect(received.getChild('received', NS_RECEIPTS)!.attrs['id']).toBe('receipt-1');
  });

  it('turns a failed delivery receipt into a message error for the original stanza', async () => {
    const seen = smsc.submits.length;
    await juliet.send(chat(PHONE_JID, 'This one gets lost', 'lost-1'));
    await submitAfter(seen);
    const id = messageIdOf(seen);
    await gateway.recorded(id);
    await smsc.deliver(receipt(id, 'UNDELIV', '034'));
    const error = await juliet.inbox.next(isErrorFor('lost-1'), 'the message error');
    expect(error.attrs['from']).toBe(PHONE_JID);
    expect(errorCondition(error)).toBe('recipient-unavailable');
    expect(error.getChild('error')!.getChildText('text')).toContain('034');
  });

  it('honours STOP from the phone: it is confirmed by SMS and later messages to that number get an error', async () => {
    const stopper = '+15557654321';
    const stopperJid = `${stopper}@${SMS_DOMAIN}`;
    const seen = smsc.submits.length;
    await smsc.deliver({ ...mo(stopper, JULIET_NUMBER), short_message: { message: 'STOP' } });
    const confirmation = await submitAfter(seen);
    expect(confirmation.pdu).toMatchObject({
      source_addr: JULIET_NUMBER.slice(1),
      destination_addr: stopper.slice(1),
    });
    expect(textOf(confirmation)).toBe(DEFAULT_KEYWORD_REPLIES.stop);

    await juliet.send(chat(stopperJid, 'Please answer', 'after-stop'));
    const error = await juliet.inbox.next(isErrorFor('after-stop'), 'the opt-out error');
    expect(errorCondition(error)).toBe('forbidden');
    expect(
      smsc.submits.slice(seen + 1).filter((s) => s.pdu['destination_addr'] === stopper.slice(1)),
    ).toEqual([]);
    // The STOP never reached the user as a chat message.
    expect(juliet.inbox.history.some(isChatFrom(stopperJid))).toBe(false);
  });

  it('answers a message to a malformed number with jid-malformed and sends nothing', async () => {
    const seen = smsc.submits.length;
    await juliet.send(chat(`+1555abc@${SMS_DOMAIN}`, 'Hello?', 'bad-number'));
    const error = await juliet.inbox.next(isErrorFor('bad-number'), 'the jid-malformed error');
    expect(errorCondition(error)).toBe('jid-malformed');
    expect(error.attrs['from']).toBe(`+1555abc@${SMS_DOMAIN}`);
    expect(smsc.submits.length).toBe(seen);
  });

  it('refuses a body longer than the segment cap with not-acceptable and sends nothing', async () => {
    const seen = smsc.submits.length;
    // Three concatenated GSM-7 segments hold 3 × 153 characters.
    await juliet.send(chat(PHONE_JID, 'a'.repeat(3 * 153 + 1), 'too-long'));
    const error = await juliet.inbox.next(isErrorFor('too-long'), 'the oversize error');
    expect(errorCondition(error)).toBe('not-acceptable');
    expect(smsc.submits.length).toBe(seen);
  });

  it('refuses to send for a user who has not registered a number (registration-required)', async () => {
    const seen = smsc.submits.length;
    await romeo.send(chat(PHONE_JID, 'It is the east', 'unregistered'));
    const error = await romeo.inbox.next(isErrorFor('unregistered'), 'the registration-required error');
    expect(errorCondition(error)).toBe('registration-required');
    expect(smsc.submits.length).toBe(seen);
  });
});
