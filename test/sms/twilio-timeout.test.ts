// Issue #6, "provider timeouts (retried)" end to end: the Twilio-compatible API takes the message
// but answers after the gateway's timeout; the queue retries once with the same
// I-Twilio-Idempotency-Token, and the API (honouring it) hands back the first message: one SMS.
import { xml } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeTwilio } from '../../services/sms-gateway/src/providers/test/fake-twilio.js';
import {
  NS_RECEIPTS,
  SMS_DOMAIN,
  chat,
  isErrorFor,
  login,
  startSwitchboard,
  startTwilioGateway,
  type Gateway,
  type Switchboard,
  type TwilioGateway,
  type User,
} from './harness.js';

const ACCOUNT = 'AC00000000000000000000000000000009';
const TOKEN = 'timeout-auth-token';
const PUBLIC_URL = 'https://sms.example.com';
const JULIET_NUMBER = '+15017122669';
const PHONE = '+15558675319';
const PHONE_JID = `${PHONE}@${SMS_DOMAIN}`;
const TIMEOUT_MS = 300;

describe('SMS gateway with a Twilio-compatible API that answers after the timeout', () => {
  const logs: string[] = [];
  let switchboard: Switchboard;
  let twilio: FakeTwilio;
  let gateway: Gateway;
  let juliet: User;
  let twilioGateway: TwilioGateway;

  beforeAll(async () => {
    switchboard = await startSwitchboard(logs);
    twilioGateway = await startTwilioGateway(switchboard, logs, {
      name: 'sms-timeout-gateway',
      account: ACCOUNT,
      token: TOKEN,
      publicUrl: PUBLIC_URL,
      timeoutMs: TIMEOUT_MS,
    });
    ({ twilio, gateway } = twilioGateway);
    // Stands in for an API that honours the token (see FakeTwilio.honourIdempotencyToken).
    twilio.honourIdempotencyToken = true;
    await switchboard.createAccount('juliet', 'juliet-pass');
    juliet = await login(switchboard.tcpPort, 'juliet', 'juliet-pass');
    // Registration is not under test here: stored directly, as a completed XEP-0077 registration is.
    await gateway.registrations.put({ jid: juliet.bare, number: JULIET_NUMBER });
  });

  afterAll(async () => {
    await juliet?.stop();
    await twilioGateway?.stop();
    await switchboard?.stop();
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(logs.slice(-100).join(''));
  });

  it('retries once with the same idempotency token and sends exactly one SMS, then delivers the receipt', async () => {
    twilio.script.push({ lateMs: TIMEOUT_MS * 3 });
    const retriesBefore = gateway.retries.length;
    const receipt = juliet.inbox.next(
      (s) => s.is('message') && s.getChild('received', NS_RECEIPTS)?.attrs['id'] === 'late-1',
      'the receipt',
    );
    await juliet.send(chat(PHONE_JID, 'Slow but once', 'late-1', [xml('request', { xmlns: NS_RECEIPTS })]));
    const forText = (): FakeTwilio['requests'] =>
      twilio.requests.filter((r) => r.params.get('Body') === 'Slow but once');
    await twilio.until(() => forText().length === 2);
    const [first, second] = forText();
    // Both carry the job's token; the second got the first message back instead of a new one.
    expect(first!.idempotencyToken).toBeDefined();
    expect(second!.idempotencyToken).toBe(first!.idempotencyToken);
    expect(second).toMatchObject({ replayed: true, sid: first!.sid });
    expect(new Set(forText().map((r) => r.sid)).size).toBe(1);
    expect(gateway.retries.slice(retriesBefore).map((r) => r.attempt)).toEqual([1]);
    await gateway.recorded(first!.sid!);
    expect((await twilio.statusCallback(first!.sid!, 'delivered')).status).toBe(204);
    expect((await receipt).attrs['from']).toBe(PHONE_JID);
    expect(juliet.inbox.history.some(isErrorFor('late-1'))).toBe(false);
    expect(forText()).toHaveLength(2);
  });
});
