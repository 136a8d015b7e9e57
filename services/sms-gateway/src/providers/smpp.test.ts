import type { DecodedShortMessage } from 'smpp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError } from './provider.js';
import type {
  DeliveryReport,
  InboundSms,
  ProviderContext,
  ProviderHandlers,
  SmsProvider,
} from './provider.js';
import { createSmppProvider } from './smpp.js';
import type { SmppEvent, SmppProviderOptions } from './smpp.js';
import { TestSmsc } from './test/smsc.js';

// SMPP providers ignore the HTTP context.
const context = {} as ProviderContext;

let smsc: TestSmsc;
let provider: SmsProvider | undefined;
let inbound: InboundSms[];
let reports: DeliveryReport[];
let events: SmppEvent[];
let eventWatchers: ((e: SmppEvent) => void)[];

const handlers: ProviderHandlers = {
  inbound: (sms) => {
    inbound.push(sms);
    return Promise.resolve();
  },
  report: (r) => {
    reports.push(r);
    return Promise.resolve();
  },
};

function nextEvent(type: SmppEvent['type']): Promise<SmppEvent> {
  return new Promise((resolve) => {
    const w = (e: SmppEvent): void => {
      if (e.type !== type) return;
      eventWatchers = eventWatchers.filter((x) => x !== w);
      resolve(e);
    };
    eventWatchers.push(w);
  });
}

async function startProvider(
  overrides: Partial<SmppProviderOptions> = {},
  h: ProviderHandlers = handlers,
): Promise<SmsProvider> {
  provider = createSmppProvider({
    host: '127.0.0.1',
    port: smsc.port,
    systemId: 'esme',
    password: 'secret',
    reconnect: { initialMs: 20, maxMs: 200 },
    throttleBackoff: { initialMs: 60, maxMs: 500 },
    responseTimeoutMs: 2_000,
    onEvent: (e) => {
      events.push(e);
      for (const w of [...eventWatchers]) w(e);
    },
    ...overrides,
  });
  await provider.start(h, context);
  return provider;
}

const sm = (r: { pdu: Record<string, unknown> }): DecodedShortMessage =>
  r.pdu['short_message'] as DecodedShortMessage;
const ucs2 = (text: string): Buffer => Buffer.from(text, 'utf16le').swap16();

beforeEach(async () => {
  smsc = await TestSmsc.start();
  provider = undefined;
  inbound = [];
  reports = [];
  events = [];
  eventWatchers = [];
});

afterEach(async () => {
  await provider?.stop();
  await smsc.close();
});

describe('SMPP provider: bind and submit_sm', () => {
  it('binds as a transceiver with the configured credentials', async () => {
    await startProvider({ systemType: 'XMPP' });
    expect(smsc.binds).toHaveLength(1);
    expect(smsc.binds[0]!.pdu).toMatchObject({
      command: 'bind_transceiver',
      system_id: 'esme',
      password: 'secret',
      system_type: 'XMPP',
      interface_version: 0x34,
    });
  });

  it('refuses to start, not retryably, when the SMSC rejects the password', async () => {
    const p = createSmppProvider({ host: '127.0.0.1', port: smsc.port, systemId: 'esme', password: 'wrong' });
    const err = await p.start(handlers, context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ retryable: false, code: 'ESME_RINVPASWD' });
    await p.stop();
  });

  it('submits a short GSM-7 message as one submit_sm and returns the SMSC message id', async () => {
    const p = await startProvider();
    const result = await p.send({
      id: 'e1',
      from: '+15550001',
      to: '+15550002',
      text: 'Hello [world] €5',
      wantReport: true,
    });
    expect(result).toEqual({ providerMessageIds: ['msg-1000'], segments: 1 });
    expect(smsc.submits).toHaveLength(1);
    const pdu = smsc.submits[0]!.pdu;
    expect(pdu).toMatchObject({
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: '15550001',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '15550002',
      esm_class: 0,
      data_coding: 0,
      registered_delivery: 1,
    });
    expect(sm(smsc.submits[0]!)).toEqual({ message: 'Hello [world] €5' });
  });

  it('asks for no receipt when none is wanted', async () => {
    const p = await startProvider();
    await p.send({ id: 'e1', from: '+15550001', to: '+15550002', text: 'hi', wantReport: false });
    expect(smsc.submits[0]!.pdu['registered_delivery']).toBe(0);
  });

  it('sends a long UCS-2 message as concatenated segments with one UDH reference and UCS-2 data_coding', async () => {
    const p = await startProvider();
    const text = 'Привет, мир! 😀 '.repeat(10); // 160 UTF-16 units → 3 segments of ≤ 67
    const result = await p.send({
      id: 'e2',
      from: '+15550001',
      to: '+447700900123',
      text,
      wantReport: false,
    });
    expect(result.segments).toBe(3);
    expect(result.providerMessageIds).toEqual(['msg-1000', 'msg-1001', 'msg-1002']);
    expect(smsc.submits).toHaveLength(3);
    const refs = new Set<number>();
    smsc.submits.forEach((s, i) => {
      expect(s.pdu).toMatchObject({ esm_class: 0x40, data_coding: 8 });
      const { udh, message } = sm(s);
      expect(udh).toHaveLength(1);
      const ie = [...udh![0]!];
      expect(ie.slice(0, 2)).toEqual([0x00, 0x03]);
      expect(ie.slice(3)).toEqual([3, i + 1]);
      refs.add(ie[2]!);
      expect(typeof message === 'string' ? message.length : -1).toBeLessThanOrEqual(67);
    });
    expect(refs.size).toBe(1);
    expect(smsc.submits.map((s) => sm(s).message).join('')).toBe(text);
  });

  it('refuses a message over the segment cap, not retryably, without submitting anything', async () => {
    const p = await startProvider({ maxSegments: 2 });
    const err = await p
      .send({ id: 'e3', from: '+15550001', to: '+15550002', text: 'x'.repeat(307), wantReport: false })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ProviderError', retryable: false, code: 'SegmentCapError' });
    expect((err as Error).message).toContain('3 GSM-7 segments, more than the cap of 2');
    expect(smsc.submits).toHaveLength(0);
  });

  it('sends a repeated idempotency key only once', async () => {
    const p = await startProvider();
    const sms = { id: 'same', from: '+15550001', to: '+15550002', text: 'once', wantReport: false };
    const [a, b] = await Promise.all([p.send(sms), p.send(sms)]);
    expect(a).toEqual(b);
    expect(smsc.submits).toHaveLength(1);
  });

  it('maps an invalid destination (0x0B) to a non-retryable error with the status name', async () => {
    const p = await startProvider();
    smsc.submitStatuses.push(0x0b);
    const err = await p
      .send({ id: 'e4', from: '+15550001', to: '+1', text: 'x', wantReport: false })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ProviderError', retryable: false, code: 'ESME_RINVDSTADR' });
  });
});

describe('SMPP provider: throttling', () => {
  it('backs off after ESME_RTHROTTLED and resubmits the segment, which then succeeds', async () => {
    const p = await startProvider();
    smsc.submitStatuses.push(0x58);
    const result = await p.send({
      id: 't1',
      from: '+15550001',
      to: '+15550002',
      text: 'hi',
      wantReport: false,
    });
    expect(result.providerMessageIds).toEqual(['msg-1000']);
    expect(smsc.submits).toHaveLength(2);
    expect(smsc.submits[1]!.at - smsc.submits[0]!.at).toBeGreaterThanOrEqual(55);
    expect(events).toContainEqual({ type: 'throttled', status: 0x58, backoffMs: 60 });
  });

  it('reports ESME_RTHROTTLED and ESME_RMSGQFUL as retryable once the resubmissions are used up, and pauses later sends', async () => {
    const p = await startProvider({ throttleRetries: 0 });
    smsc.submitStatuses.push(0x58, 0x14);
    const sms = { from: '+15550001', to: '+15550002', text: 'hi', wantReport: false };
    await expect(p.send({ ...sms, id: 'a' })).rejects.toMatchObject({
      retryable: true,
      code: 'ESME_RTHROTTLED',
    });
    await expect(p.send({ ...sms, id: 'b' })).rejects.toMatchObject({
      retryable: true,
      code: 'ESME_RMSGQFUL',
    });
    // The second refusal doubled the pause: the next submit_sm waits for it.
    await p.send({ ...sms, id: 'c' });
    expect(smsc.submits[2]!.at - smsc.submits[1]!.at).toBeGreaterThanOrEqual(115);
  });
});

describe('SMPP provider: throughput', () => {
  it('spaces submit_sm to the configured throughput', async () => {
    const p = await startProvider({ throughputPerSecond: 20 });
    await p.send({ id: 'tp', from: '+15550001', to: '+15550002', text: 'y'.repeat(400), wantReport: false });
    expect(smsc.submits).toHaveLength(3);
    for (let i = 1; i < 3; i++)
      expect(smsc.submits[i]!.at - smsc.submits[i - 1]!.at).toBeGreaterThanOrEqual(45);
  });

  it('rejects start() when stopped before the first bind', async () => {
    await smsc.close();
    const p = createSmppProvider({
      host: '127.0.0.1',
      port: smsc.port,
      systemId: 'esme',
      password: 'secret',
    });
    // Attach the expectation before stopping: stop() rejects the pending start while it
    // closes the socket, and an unobserved rejection across that I/O is an unhandled one.
    const rejected = expect(p.start(handlers, context)).rejects.toMatchObject({
      name: 'ProviderError',
      code: 'stopped',
    });
    await p.stop();
    await rejected;
    smsc = await TestSmsc.start();
  });
});

describe('SMPP provider: connection upkeep', () => {
  it('reconnects and binds again after the SMSC drops the connection, failing sends meanwhile retryably', async () => {
    const p = await startProvider();
    const disconnected = nextEvent('disconnected');
    const rebound = nextEvent('bound');
    smsc.dropConnections();
    await disconnected;
    await expect(
      p.send({ id: 'r0', from: '+15550001', to: '+15550002', text: 'while down', wantReport: false }),
    ).rejects.toMatchObject({ retryable: true, code: 'unbound' });
    await rebound;
    expect(smsc.binds).toHaveLength(2);
    const result = await p.send({
      id: 'r1',
      from: '+15550001',
      to: '+15550002',
      text: 'after',
      wantReport: false,
    });
    expect(result.providerMessageIds).toHaveLength(1);
  });

  it('keeps the link alive with enquire_link', async () => {
    await startProvider({ enquireLinkMs: 30 });
    await smsc.until(() => smsc.enquireLinks.length >= 2);
    expect(smsc.enquireLinks[0]!.pdu.command).toBe('enquire_link');
    expect(smsc.binds).toHaveLength(1);
  });

  it('drops and re-establishes a link whose enquire_link goes unanswered', async () => {
    await startProvider({ enquireLinkMs: 30, responseTimeoutMs: 100 });
    smsc.answerEnquireLink = false;
    const rebound = nextEvent('bound');
    await rebound;
    expect(smsc.binds).toHaveLength(2);
    expect(events.map((e) => e.type)).toContain('disconnected');
  });
});

describe('SMPP provider: deliver_sm', () => {
  const mo = {
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: '447700900123',
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    destination_addr: '15550001',
  };

  it('hands an inbound message to inbound() and answers deliver_sm_resp only after it resolved', async () => {
    let release!: () => void;
    let entered!: () => void;
    const handlerEntered = new Promise<void>((r) => (entered = r));
    await startProvider(
      {},
      {
        ...handlers,
        inbound: (sms) => {
          inbound.push(sms);
          entered();
          return new Promise<void>((r) => (release = r));
        },
      },
    );
    let answered = false;
    const resp = smsc
      .deliver({ ...mo, data_coding: 0, short_message: { message: 'Hi from a phone {ok}' } })
      .then((r) => {
        answered = true;
        return r;
      });
    await handlerEntered;
    await smsc.ping();
    expect(answered).toBe(false);
    release();
    expect((await resp).command_status).toBe(0);
    expect(inbound).toHaveLength(1);
    expect(inbound[0]).toMatchObject({
      from: '+447700900123',
      to: '+15550001',
      text: 'Hi from a phone {ok}',
    });
    expect(inbound[0]!.providerMessageId).not.toBe('');
  });

  it('answers a temporary error when inbound() fails, so the SMSC redelivers, and accepts the redelivery', async () => {
    let failures = 1;
    await startProvider(
      {},
      {
        ...handlers,
        inbound: (sms) => {
          if (failures-- > 0) return Promise.reject(new Error('bus down'));
          inbound.push(sms);
          return Promise.resolve();
        },
      },
    );
    const first = await smsc.deliver({ ...mo, short_message: { message: 'retry me' } });
    expect(first.command_status).toBe(0x64);
    expect(inbound).toHaveLength(0);
    const second = await smsc.deliver({ ...mo, short_message: { message: 'retry me' } });
    expect(second.command_status).toBe(0);
    expect(inbound.map((s) => s.text)).toEqual(['retry me']);
  });

  it('decodes UCS-2 and joins a concatenated inbound message by its UDH reference', async () => {
    await startProvider();
    const text = 'Ответ: всё хорошо 👍 '.repeat(5);
    const units = text.length;
    const cut = 68; // after a high surrogate would be wrong; 68 falls between whole characters here
    expect(units).toBeGreaterThan(cut);
    const parts = [text.slice(0, cut), text.slice(cut)];
    for (const [i, part] of parts.entries()) {
      const udh = Buffer.from([0x05, 0x00, 0x03, 0x7b, 2, i + 1]);
      const resp = await smsc.deliver({
        ...mo,
        esm_class: 0x40,
        data_coding: 8,
        short_message: Buffer.concat([udh, ucs2(part)]),
      });
      expect(resp.command_status).toBe(0);
      expect(inbound).toHaveLength(i === 0 ? 0 : 1);
    }
    expect(inbound[0]!.text).toBe(text);
  });

  it('turns a delivery receipt in the Appendix B text format into report()', async () => {
    await startProvider();
    await smsc.deliver({
      ...mo,
      esm_class: 0x04,
      short_message: {
        message:
          'id:msg-1000 sub:001 dlvrd:001 submit date:2611262120 done date:2611262121 stat:DELIVRD err:000 text:Hello',
      },
    });
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ providerMessageId: 'msg-1000', status: 'delivered' });
    expect(reports[0]!.errorCode).toBeUndefined();
    expect(inbound).toHaveLength(0);
  });

  it('prefers the receipted_message_id and message_state TLVs and reports the network error code', async () => {
    await startProvider();
    await smsc.deliver({
      ...mo,
      esm_class: 0x04,
      short_message: { message: 'id:ignored stat:DELIVRD err:000' },
      receipted_message_id: 'ab12',
      message_state: 5,
      network_error_code: Buffer.from([0x03, 0x00, 0x22]),
    });
    expect(reports).toEqual([
      {
        providerMessageId: 'ab12',
        status: 'undeliverable',
        errorCode: '34',
        at: expect.any(Number) as number,
      },
    ]);
  });

  it('reports nothing for an intermediate ENROUTE receipt but reports the final one', async () => {
    await startProvider();
    await smsc.deliver({ ...mo, esm_class: 0x04, short_message: { message: 'id:m7 stat:ENROUTE err:000' } });
    expect(reports).toHaveLength(0);
    await smsc.deliver({ ...mo, esm_class: 0x04, short_message: { message: 'id:m7 stat:UNDELIV err:034' } });
    expect(reports).toMatchObject([{ providerMessageId: 'm7', status: 'undeliverable', errorCode: '034' }]);
  });
});

describe('SMPP provider: multi-part messages, retries and receipts', () => {
  const mo = {
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: '447700900123',
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    destination_addr: '15550001',
  };
  const long = 'All the world is a stage, and all the men and women merely players. '.repeat(3);
  const receiptFor = (id: string, stat = 'DELIVRD'): Record<string, unknown> => ({
    ...mo,
    esm_class: 0x04,
    short_message: {
      message: `id:${id} sub:001 dlvrd:001 submit date:2611262120 done date:2611262121 stat:${stat} err:000 text:`,
    },
  });
  const refOf = (i: number): number => [...sm(smsc.submits[i]!).udh![0]!][2]!;

  it('reports a multi-part message delivered only when every part is, and once', async () => {
    const p = await startProvider();
    const result = await p.send({
      id: 'mp-1',
      from: '+15550001',
      to: '+447700900123',
      text: long,
      wantReport: true,
    });
    expect(result.providerMessageIds).toEqual(['msg-1000', 'msg-1001']);
    await smsc.deliver(receiptFor('msg-1000'));
    expect(reports).toHaveLength(0);
    await smsc.deliver(receiptFor('msg-1001'));
    expect(reports).toMatchObject([{ providerMessageId: 'msg-1001', status: 'delivered' }]);
    // A redelivered receipt for a part of a settled message reports nothing more.
    await smsc.deliver(receiptFor('msg-1000'));
    expect(reports).toHaveLength(1);
  });

  it('reports a multi-part message failed at its first failed part, and nothing for the rest', async () => {
    const p = await startProvider();
    await p.send({ id: 'mp-2', from: '+15550001', to: '+447700900123', text: long, wantReport: true });
    await smsc.deliver(receiptFor('msg-1000', 'UNDELIV'));
    expect(reports).toMatchObject([{ providerMessageId: 'msg-1000', status: 'undeliverable' }]);
    await smsc.deliver(receiptFor('msg-1001'));
    expect(reports).toHaveLength(1);
  });

  it('resubmits only the parts the SMSC did not accept when the job is tried again, with the same UDH reference', async () => {
    const p = await startProvider();
    // Part 1 accepted, part 2 refused with a transient error: the job fails retryably.
    smsc.submitStatuses.push(0, 0x08);
    const job = { id: 'mp-3', from: '+15550001', to: '+447700900123', text: long, wantReport: true };
    await expect(p.send(job)).rejects.toMatchObject({ retryable: true });
    expect(smsc.submits).toHaveLength(2);
    const retried = await p.send(job);
    expect(smsc.submits).toHaveLength(3);
    expect([...sm(smsc.submits[2]!).udh![0]!].slice(3)).toEqual([2, 2]);
    expect(refOf(2)).toBe(refOf(0));
    // Part 1 kept the id it was accepted with; part 2 has the new one.
    expect(retried.providerMessageIds).toEqual(['msg-1000', 'msg-1001']);
  });

  it('matches a receipt whose id is decimal to the hex id submit_sm_resp gave (a common SMSC quirk)', async () => {
    smsc.messageId = (n) => (0x1a2b3c + n).toString(16).toUpperCase();
    const p = await startProvider();
    const result = await p.send({
      id: 'hex-1',
      from: '+15550001',
      to: '+447700900123',
      text: 'hex',
      wantReport: true,
    });
    expect(result.providerMessageIds).toEqual(['1A2B3C']);
    await smsc.deliver(receiptFor(String(0x1a2b3c)));
    expect(reports).toMatchObject([{ providerMessageId: '1A2B3C', status: 'delivered' }]);
  });

  it('matches a hex receipt id to a decimal submit_sm_resp id, ignoring case and leading zeros', async () => {
    smsc.messageId = (n) => String(4660 + n);
    const p = await startProvider();
    await p.send({ id: 'dec-1', from: '+15550001', to: '+447700900123', text: 'dec', wantReport: true });
    await smsc.deliver(receiptFor('0000000000001234'));
    expect(reports).toMatchObject([{ providerMessageId: '4660', status: 'delivered' }]);
  });

  it('delivers a deliver_sm the SMSC retransmits with the same sequence number once, answering both', async () => {
    await startProvider();
    const [first, second] = await smsc.deliverTwice({ ...mo, short_message: { message: 'only once' } });
    expect([first.command_status, second.command_status]).toEqual([0, 0]);
    expect(inbound.map((m) => m.text)).toEqual(['only once']);
    expect(events.filter((e) => e.type === 'inbound-duplicate')).toHaveLength(1);
    // The same text again as a new PDU is a new message.
    await smsc.deliver({ ...mo, short_message: { message: 'only once' } });
    expect(inbound.map((m) => m.text)).toEqual(['only once', 'only once']);
  });
});
