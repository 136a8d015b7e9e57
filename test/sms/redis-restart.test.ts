// Issue #6, "restarting the gateway with jobs queued loses and duplicates nothing (Redis mode)":
// the real sms-gateway process (dist/main.js: BullMQ queue, Redis registrations and send ledger)
// as a XEP-0114 component of embedded Switchboard, a real redis-server and the test SMSC. Jobs are
// queued while the SMSC withholds submit_sm_resp; the gateway is stopped (SIGTERM, then SIGKILL)
// and a new one started; every text must reach the SMSC exactly once and every receipt the sender.
import { xml } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { TestSmsc, type AcceptedSubmit } from '../../services/sms-gateway/src/providers/test/smsc.js';
import { AddedJobs } from '../../services/sms-gateway/src/queue/test/added.js';
import { GatewayProcess } from './gateway-process.js';
import {
  COMPONENT_SECRET,
  NS_RECEIPTS,
  SMS_DOMAIN,
  chat,
  isChatFrom,
  login,
  register,
  startSwitchboard,
  type Switchboard,
  type User,
} from './harness.js';

const JULIET_NUMBER = '+15550007777';
const PHONE = '+15551230000';
const PHONE_JID = `${PHONE}@${SMS_DOMAIN}`;
const QUEUE = 'sms-smpp';

interface DecodedSm {
  message: string | Buffer;
  udh?: Buffer[];
}

const decoded = (s: AcceptedSubmit): DecodedSm => s.pdu['short_message'] as DecodedSm;
const textOf = (s: AcceptedSubmit): string => {
  const { message } = decoded(s);
  return typeof message === 'string' ? message : message.toString('latin1');
};
/** The concatenation IE (SMPP 3.4 / TS 23.040 §9.2.3.24.1) of a part: [reference, total, sequence]. */
const partOf = (s: AcceptedSubmit): [number, number, number] | undefined => {
  const ie = decoded(s).udh?.find((u) => u[0] === 0x00);
  return ie === undefined ? undefined : [ie[2]!, ie[3]!, ie[4]!];
};

/** An SMPP 3.4 Appendix B delivery receipt for `messageId`. */
const receipt = (messageId: string): Record<string, unknown> => ({
  source_addr_ton: 1,
  source_addr_npi: 1,
  source_addr: PHONE.slice(1),
  dest_addr_ton: 1,
  dest_addr_npi: 1,
  destination_addr: JULIET_NUMBER.slice(1),
  esm_class: 0x04,
  short_message: {
    message: `id:${messageId} sub:001 dlvrd:001 submit date:2611262120 done date:2611262121 stat:DELIVRD err:000 text:`,
  },
});

describe('SMS gateway restart in Redis mode (BullMQ, Redis registrations and send ledger)', () => {
  const logs: string[] = [];
  let redis: RedisServer;
  let switchboard: Switchboard;
  let smsc: TestSmsc;
  let juliet: User;
  let added: AddedJobs;
  const processes: GatewayProcess[] = [];

  const config = (): Record<string, unknown> => ({
    domain: SMS_DOMAIN,
    maxSegments: 3,
    // Registration here is the XEP-0077 form only: the number check is tested in test/sms.
    verifyNumbers: false,
    transport: {
      kind: 'component',
      service: `xmpp://127.0.0.1:${switchboard.componentPort}`,
      secret: COMPONENT_SECRET,
    },
    provider: {
      kind: 'smpp',
      host: '127.0.0.1',
      port: smsc.port,
      systemId: smsc.credentials.systemId,
      password: smsc.credentials.password,
      // Longer than the test holds a response: a withheld submit is never retried behind its back.
      responseTimeoutMs: 30_000,
      reconnect: { initialMs: 50, maxMs: 500 },
    },
    // Stalled jobs of a killed gateway come back after about a second, not BullMQ's default minute.
    queue: { attempts: 5, backoffMs: 100, concurrency: 2, lockDurationMs: 1000, stalledIntervalMs: 500 },
    redisUrl: redis.url,
    http: { port: 0, host: '127.0.0.1' },
  });

  async function startGatewayProcess(name: string): Promise<GatewayProcess> {
    const proc = await GatewayProcess.start(name, config());
    processes.push(proc);
    return proc;
  }

  /** The accepted submits whose text is `text`. */
  const acceptedWith = (text: string): AcceptedSubmit[] => smsc.accepted.filter((s) => textOf(s) === text);

  const receiptFor =
    (id: string) =>
    (s: Element): boolean =>
      s.is('message') && s.getChild('received', NS_RECEIPTS)?.attrs['id'] === id;

  beforeAll(async () => {
    redis = await startRedisServer();
    switchboard = await startSwitchboard(logs);
    smsc = await TestSmsc.start();
    added = await AddedJobs.open(QUEUE, { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null });
    await switchboard.createAccount('juliet', 'juliet-pass');
    juliet = await login(switchboard.tcpPort, 'juliet', 'juliet-pass');
  });

  afterAll(async () => {
    for (const proc of processes) await proc.kill();
    await juliet?.stop();
    await added?.close();
    await smsc?.close();
    await switchboard?.stop();
    await redis?.dispose();
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') {
      console.error(logs.slice(-60).join(''));
      for (const proc of processes) console.error(proc.report());
    }
  });

  it('a clean stop (SIGTERM) finishes the sends in flight and the next gateway sends the queued rest, each once', async () => {
    const first = await startGatewayProcess('clean-1');
    expect((await register(juliet, JULIET_NUMBER)).attrs['type']).toBe('result');
    const texts = ['clean 1', 'clean 2', 'clean 3', 'clean 4', 'clean 5'];
    smsc.hold = () => true;
    for (const [i, text] of texts.entries()) {
      await juliet.send(chat(PHONE_JID, text, `clean-${i + 1}`, [xml('request', { xmlns: NS_RECEIPTS })]));
    }
    // All five are queued in Redis and two are in flight (concurrency 2), their responses withheld.
    await added.until(texts.length);
    await smsc.until(() => smsc.held.length === 2);

    first.terminate();
    // The worker has stopped taking jobs; the two in flight get their answers and finish.
    await first.waitFor((l) => l.msg === 'draining the SMS queue', 'the queue drain');
    smsc.release();
    await first.exited();
    expect(smsc.accepted).toHaveLength(2);
    expect(smsc.submits).toHaveLength(2);

    await startGatewayProcess('clean-2');
    await smsc.until(() => smsc.accepted.length === texts.length);
    for (const text of texts) expect(acceptedWith(text), text).toHaveLength(1);
    // Nothing was resubmitted, not even unanswered.
    expect(smsc.submits).toHaveLength(texts.length);

    // Receipts for the messages both gateways sent reach the sender, one for each.
    const receipts = texts.map((_, i) =>
      juliet.inbox.next(receiptFor(`clean-${i + 1}`), `the receipt for clean-${i + 1}`),
    );
    for (const submit of smsc.accepted) await smsc.deliver(receipt(submit.messageId));
    for (const r of await Promise.all(receipts)) expect(r.attrs['from']).toBe(PHONE_JID);
    for (const [i] of texts.entries()) {
      expect(juliet.inbox.history.filter(receiptFor(`clean-${i + 1}`))).toHaveLength(1);
    }
  });

  it('a crash (SIGKILL) mid-message resubmits only the parts the SMSC did not accept, and reports once all parts are delivered', async () => {
    for (const previous of processes.splice(0)) await previous.kill();
    const base = smsc.accepted.length;
    const jobsBefore = added.ids.size;
    const first = await startGatewayProcess('crash-1');
    // Registered already (in Redis) when the first test ran; registering again changes nothing.
    expect((await register(juliet, JULIET_NUMBER)).attrs['type']).toBe('result');
    const long = 'Two households, both alike in dignity, in fair Verona where we lay our scene. '.repeat(3);
    const texts = ['crash 1', 'crash 2', 'crash 3'];
    // The long message's first part is accepted; everything after it waits for an answer.
    smsc.hold = (pdu) => {
      const ie = (pdu['short_message'] as DecodedSm).udh?.find((u) => u[0] === 0x00);
      return ie === undefined || ie[4] !== 1;
    };
    await juliet.send(chat(PHONE_JID, long, 'crash-long', [xml('request', { xmlns: NS_RECEIPTS })]));
    for (const [i, text] of texts.entries()) {
      await juliet.send(chat(PHONE_JID, text, `crash-${i + 1}`, [xml('request', { xmlns: NS_RECEIPTS })]));
    }
    await added.until(jobsBefore + 1 + texts.length);
    // In flight: part 2 of the long message (part 1 accepted and recorded before it went out) and crash 1.
    await smsc.until(() => smsc.held.length === 2 && smsc.accepted.length === base + 1);

    await first.kill();
    // The SMSC saw the connection drop; what it had not answered it did not accept.
    await smsc.until(() => smsc.boundSessions === 0 && smsc.held.length === 0);
    smsc.hold = undefined;

    await startGatewayProcess('crash-2');
    // The killed gateway's two jobs come back once their locks lapse; the other two were waiting.
    await smsc.until(() => smsc.accepted.length === base + 2 + texts.length);
    const accepted = smsc.accepted.slice(base);
    for (const text of texts) expect(acceptedWith(text), text).toHaveLength(1);
    const parts = accepted.filter((s) => partOf(s) !== undefined);
    expect(parts.map((s) => partOf(s)![2]).sort()).toEqual([1, 2]);
    // Both parts carry one reference, so the handset joins them although two processes sent them.
    expect(new Set(parts.map((s) => partOf(s)![0])).size).toBe(1);
    expect(parts.map(textOf).join('')).toBe(long);

    // One part delivered is no receipt yet; the other messages' receipts come after it, in order.
    const [part1, part2] = [...parts].sort((a, b) => partOf(a)![2] - partOf(b)![2]);
    await smsc.deliver(receipt(part1!.messageId));
    const singles = accepted.filter((s) => partOf(s) === undefined);
    const receipts = texts.map((_, i) =>
      juliet.inbox.next(receiptFor(`crash-${i + 1}`), `the receipt for crash-${i + 1}`),
    );
    for (const submit of singles) await smsc.deliver(receipt(submit.messageId));
    await Promise.all(receipts);
    expect(juliet.inbox.history.some(receiptFor('crash-long'))).toBe(false);
    const longReceipt = juliet.inbox.next(receiptFor('crash-long'), 'the receipt for the long message');
    await smsc.deliver(receipt(part2!.messageId));
    expect((await longReceipt).attrs['from']).toBe(PHONE_JID);
    // A redelivered receipt is not a second one: an SMS after it arrives with nothing before it.
    await smsc.deliver(receipt(part2!.messageId));
    await smsc.deliver({
      ...receipt('none'),
      esm_class: 0,
      short_message: { message: 'after the receipts' },
    });
    await juliet.inbox.next(isChatFrom(PHONE_JID), 'the SMS after the redelivered receipt');
    expect(juliet.inbox.history.filter(receiptFor('crash-long'))).toHaveLength(1);
  }, 60_000);
});
