// Issue #6 end to end over a Twilio-compatible HTTP API: @xmpp/client users of embedded
// Switchboard, the SMS gateway attached as a XEP-0114 component to the edge's component listener,
// and the local fake of Twilio's Messages API and webhooks.
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeTwilio } from '../../services/sms-gateway/src/providers/test/fake-twilio.js';
import {
  NS_RECEIPTS,
  SMS_DOMAIN,
  chat,
  errorCondition,
  isChatFrom,
  isErrorFor,
  login,
  registerVerified,
  twilioCodes,
  startSwitchboard,
  startTwilioGateway,
  type Gateway,
  type Switchboard,
  type TwilioGateway,
  type User,
} from './harness.js';

const ACCOUNT = 'AC00000000000000000000000000000001';
const TOKEN = 'e2e-auth-token';
const PUBLIC_URL = 'https://sms.example.com';
const INBOUND_URL = `${PUBLIC_URL}/twilio/sms`;
const JULIET_NUMBER = '+15017122661';
const PHONE = '+15558675310';
const PHONE_JID = `${PHONE}@${SMS_DOMAIN}`;

/** The parameters Twilio posts for an incoming SMS (https://www.twilio.com/docs/messaging/guides/webhook-request). */
const incoming = (sid: string, body: string): Record<string, string> => ({
  ToCountry: 'US',
  SmsMessageSid: sid,
  NumMedia: '0',
  SmsSid: sid,
  SmsStatus: 'received',
  Body: body,
  FromCountry: 'US',
  To: JULIET_NUMBER,
  NumSegments: '1',
  MessageSid: sid,
  AccountSid: ACCOUNT,
  From: PHONE,
  ApiVersion: '2010-04-01',
});

describe('SMS gateway as a XEP-0114 component of embedded Switchboard, with a Twilio-compatible API', () => {
  const logs: string[] = [];
  let switchboard: Switchboard;
  let twilio: FakeTwilio;
  let gateway: Gateway;
  let juliet: User;
  let twilioGateway: TwilioGateway;

  beforeAll(async () => {
    switchboard = await startSwitchboard(logs);
    twilioGateway = await startTwilioGateway(switchboard, logs, {
      name: 'sms-e2e-gateway',
      account: ACCOUNT,
      token: TOKEN,
      publicUrl: PUBLIC_URL,
      timeoutMs: 2000,
    });
    ({ twilio, gateway } = twilioGateway);
    await switchboard.createAccount('juliet', 'juliet-pass');
    juliet = await login(switchboard.tcpPort, 'juliet', 'juliet-pass');
    expect((await registerVerified(juliet, JULIET_NUMBER, twilioCodes(twilio))).attrs['type']).toBe('result');
  });

  afterAll(async () => {
    await juliet?.stop();
    await twilioGateway?.stop();
    await switchboard?.stop();
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(logs.slice(-100).join(''));
  });

  it('sends a chat message through the Messages API and turns the delivered status callback into <received/>', async () => {
    await juliet.send(chat(PHONE_JID, 'Hello over HTTP', 'tw-1', [xml('request', { xmlns: NS_RECEIPTS })]));
    const receipt = juliet.inbox.next(
      (s) => s.is('message') && s.getChild('received', NS_RECEIPTS) !== undefined,
      'the receipt',
    );
    const sent = await sentOnce('Hello over HTTP');
    expect(sent.accountSid).toBe(ACCOUNT);
    expect(sent.params.get('From')).toBe(JULIET_NUMBER);
    expect(sent.params.get('To')).toBe(PHONE);
    expect(sent.params.get('StatusCallback')).toBe(`${PUBLIC_URL}/twilio/status`);
    expect((await twilio.statusCallback(sent.sid!, 'delivered')).status).toBe(204);
    const received = await receipt;
    expect(received.attrs['from']).toBe(PHONE_JID);
    expect(received.getChild('received', NS_RECEIPTS)!.attrs['id']).toBe('tw-1');
  });

  it('delivers a signed inbound webhook to the user as a chat message', async () => {
    const res = await twilio.webhook(
      INBOUND_URL,
      incoming('SM0000000000000000000000000000in01', 'Hi from the phone'),
    );
    expect(res.status).toBe(200);
    const message = await juliet.inbox.next(isChatFrom(PHONE_JID), 'the inbound SMS');
    expect(message.getChildText('body')).toBe('Hi from the phone');
  });

  it('answers a forged webhook with 403 and delivers nothing of it', async () => {
    const forged = await twilio.webhook(
      INBOUND_URL,
      incoming('SM0000000000000000000000000000fake', 'Send me your password'),
      { token: 'not-the-auth-token' },
    );
    expect(forged.status).toBe(403);
    const unsigned = await twilio.webhook(
      INBOUND_URL,
      incoming('SM0000000000000000000000000000nsig', 'Unsigned'),
      { signature: null },
    );
    expect(unsigned.status).toBe(403);
    // A genuine message afterwards comes through the same path; nothing forged arrived before it.
    const genuine = await twilio.webhook(
      INBOUND_URL,
      incoming('SM0000000000000000000000000000in02', 'Genuine'),
    );
    expect(genuine.status).toBe(200);
    const next = await juliet.inbox.next(isChatFrom(PHONE_JID), 'the genuine SMS');
    expect(next.getChildText('body')).toBe('Genuine');
    expect(
      juliet.inbox.history.filter((s) =>
        ['Send me your password', 'Unsigned'].includes(s.getChildText('body') ?? ''),
      ),
    ).toEqual([]);
  });

  it('retries a send the API answered with 503 and then delivers it', async () => {
    twilio.script.push({ status: 503, code: 20500, message: 'Internal server error' });
    const retriesBefore = gateway.retries.length;
    await juliet.send(chat(PHONE_JID, 'Try again', 'tw-retry', [xml('request', { xmlns: NS_RECEIPTS })]));
    const receipt = juliet.inbox.next(
      (s) => s.is('message') && s.getChild('received', NS_RECEIPTS)?.attrs['id'] === 'tw-retry',
      'the receipt after the retry',
    );
    const accepted = await sentOnce('Try again');
    const attempts = twilio.requests.filter((r) => r.params.get('Body') === 'Try again');
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.sid).toBeUndefined();
    expect(gateway.retries.slice(retriesBefore).map((r) => r.attempt)).toEqual([1]);
    await twilio.statusCallback(accepted.sid!, 'delivered');
    expect((await receipt).attrs['from']).toBe(PHONE_JID);
    expect(juliet.inbox.history.some(isErrorFor('tw-retry'))).toBe(false);
  });

  it('answers a 4xx refusal with a message error to the user and does not retry it', async () => {
    twilio.script.push({ status: 400, code: 21211, message: "The 'To' number is not a valid phone number." });
    const retriesBefore = gateway.retries.length;
    await juliet.send(chat(PHONE_JID, 'Refused', 'tw-refused'));
    const error = await juliet.inbox.next(isErrorFor('tw-refused'), 'the refusal');
    expect(error.attrs['from']).toBe(PHONE_JID);
    expect(errorCondition(error)).toBe('not-acceptable');
    expect(error.getChild('error')!.getChildText('text')).toContain('21211');
    // A later message is sent and accepted; the refused one was tried exactly once meanwhile.
    await juliet.send(chat(PHONE_JID, 'After the refusal', 'tw-after'));
    await sentOnce('After the refusal');
    expect(twilio.requests.filter((r) => r.params.get('Body') === 'Refused')).toHaveLength(1);
    expect(gateway.retries.length).toBe(retriesBefore);
  });

  it('turns a failed status callback into a message error', async () => {
    await juliet.send(chat(PHONE_JID, 'Into the void', 'tw-failed'));
    const sent = await sentOnce('Into the void');
    await twilio.statusCallback(sent.sid!, 'undelivered', '30003');
    const error = await juliet.inbox.next(isErrorFor('tw-failed'), 'the undelivered error');
    expect(errorCondition(error)).toBe('recipient-unavailable');
    expect(error.getChild('error')!.getChildText('text')).toContain('30003');
  });

  it('records Twilio 21610 (the recipient opted out at Twilio) and answers forbidden, now and later', async () => {
    const stopper = '+15558675399';
    twilio.script.push({ status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' });
    await juliet.send(chat(`${stopper}@${SMS_DOMAIN}`, 'Opted out at Twilio', 'tw-21610'));
    const error = await juliet.inbox.next(isErrorFor('tw-21610'), 'the opt-out refusal');
    expect(errorCondition(error)).toBe('forbidden');
    expect(await gateway.registrations.isOptedOut(stopper, JULIET_NUMBER)).toBe(true);
    // The next message is refused by the gateway itself: Twilio sees no second request.
    await juliet.send(chat(`${stopper}@${SMS_DOMAIN}`, 'Still there?', 'tw-21610-2'));
    expect(errorCondition(await juliet.inbox.next(isErrorFor('tw-21610-2'), 'the second refusal'))).toBe(
      'forbidden',
    );
    expect(twilio.requests.filter((r) => r.params.get('To') === stopper)).toHaveLength(1);
  });

  /** The accepted Messages.json request (the one with a sid) whose Body is `text`, once the gateway stored its sid. */
  async function sentOnce(text: string): Promise<FakeTwilio['requests'][number]> {
    const find = (): FakeTwilio['requests'][number] | undefined =>
      twilio.requests.find((r) => r.params.get('Body') === text && r.sid !== undefined);
    // The gateway stores the sid once the API answered, so the request is in by then.
    await gateway.untilRecorded(() => find() !== undefined);
    const request = find()!;
    await gateway.recorded(request.sid!);
    return request;
  }
});
