import { createHash, randomUUID } from 'node:crypto';
import smpp from 'smpp';
import type { DecodedShortMessage, PDU, Session } from 'smpp';
import { SegmentCapError, encodeGsm7, encodeUcs2, planSegments } from '../sms/encoding.js';
import { Reassembler } from '../sms/reassembly.js';
import type { IncompleteMessage } from '../sms/reassembly.js';
import { concatenationUdh, findConcatenation } from '../sms/udh.js';
import { ProviderError } from './provider.js';
import type {
  DeliveryReport,
  DeliveryStatus,
  OutboundSms,
  ProviderContext,
  ProviderHandlers,
  SendResult,
  SmsProvider,
} from './provider.js';
import { IdempotencyCache } from './idempotency.js';
import { createMemoryLedger, forwardSettled, type SendLedger } from './ledger.js';

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface SmppProviderOptions {
  /** Provider name reported to the core; defaults to 'smpp'. */
  readonly name?: string;
  readonly host: string;
  readonly port: number;
  readonly systemId: string;
  readonly password: string;
  readonly systemType?: string;
  /** Address type for our numbers; defaults to international/ISDN (1/1), which is what E.164 means in SMPP 3.4 §5.2.5-6. */
  readonly sourceTon?: number;
  readonly sourceNpi?: number;
  readonly destTon?: number;
  readonly destNpi?: number;
  /** enquire_link period (SMPP 3.4 §4.11); an unanswered one drops and re-establishes the connection. Default 30 s. */
  readonly enquireLinkMs?: number;
  /** How long to wait for any response PDU. Default 10 s. */
  readonly responseTimeoutMs?: number;
  /** Delay before reconnecting after the connection drops, doubled per failed attempt. Default 1 s … 30 s. */
  readonly reconnect?: Backoff;
  /** Pause of all sending after ESME_RTHROTTLED / ESME_RMSGQFUL, doubled while they repeat. Default 1 s … 30 s. */
  readonly throttleBackoff?: Backoff;
  /** Times one segment is resubmitted after throttling before send() gives up with a retryable error. Default 3. */
  readonly throttleRetries?: number;
  /** Outstanding submit_sm without a response. Default 10. */
  readonly window?: number;
  /** submit_sm per second (the SMSC's contracted throughput); 0 for no limit. Default 0. */
  readonly throughputPerSecond?: number;
  /** Per-message segment cap. Default 10. */
  readonly maxSegments?: number;
  /** How long to wait for the missing parts of a concatenated inbound message. Default 5 min. */
  readonly reassemblyTimeoutMs?: number;
  /** Connection and traffic events, for logs and metrics. */
  readonly onEvent?: (event: SmppEvent) => void;
}

export type SmppEvent =
  | { readonly type: 'bound' }
  | { readonly type: 'disconnected'; readonly error?: string }
  | { readonly type: 'bind-refused'; readonly status: number }
  | { readonly type: 'reconnecting'; readonly delayMs: number }
  | { readonly type: 'throttled'; readonly status: number; readonly backoffMs: number }
  | { readonly type: 'inbound-incomplete'; readonly missing: readonly number[] }
  | { readonly type: 'receipt-unparsable'; readonly text: string }
  | { readonly type: 'inbound-duplicate'; readonly key: string }
  | { readonly type: 'handler-failed'; readonly command: string; readonly error: unknown };

export type SmppProvider = SmsProvider;

const STATUS = {
  ESME_ROK: 0x00,
  ESME_RSYSERR: 0x08,
  ESME_RMSGQFUL: 0x14,
  ESME_RTHROTTLED: 0x58,
  ESME_RX_T_APPN: 0x64,
} as const;

/** Refusals worth trying again later (SMPP 3.4 §5.1.3): congestion and transient SMSC trouble. */
const RETRYABLE_STATUS = new Set<number>([
  STATUS.ESME_RSYSERR,
  STATUS.ESME_RMSGQFUL,
  STATUS.ESME_RTHROTTLED,
  STATUS.ESME_RX_T_APPN,
  0x04, // ESME_RINVBNDSTS: we raced a rebind
]);

/** Bind refusals that will not change by retrying with the same configuration. */
const PERMANENT_BIND_STATUS = new Set<number>([0x0d, 0x0e, 0x0f, 0x53]);

const ESM_UDHI = 0x40;
/** SMPP 3.4 §5.2.12: bits 5-2 give the message type; 0x04 is an SMSC delivery receipt, 0x20 an intermediate notification. */
const ESM_TYPE_MASK = 0x3c;
const DATA_CODING_GSM7 = 0x00;
const DATA_CODING_UCS2 = 0x08;

const statusNames = new Map<number, string>(Object.entries(smpp.errors).map(([name, code]) => [code, name]));
const statusName = (status: number): string =>
  statusNames.get(status) ?? `0x${status.toString(16).padStart(2, '0')}`;

/** SMPP 3.4 Appendix B stat: values, and message_state (§5.3.2.35) values, as final statuses; in-flight states map to undefined. */
const RECEIPT_STAT: Readonly<Record<string, DeliveryStatus>> = {
  DELIVRD: 'delivered',
  EXPIRED: 'expired',
  DELETED: 'failed',
  UNDELIV: 'undeliverable',
  REJECTD: 'rejected',
  UNKNOWN: 'unknown',
};
const MESSAGE_STATE: Readonly<Record<number, DeliveryStatus>> = {
  2: 'delivered',
  3: 'expired',
  4: 'failed',
  5: 'undeliverable',
  7: 'unknown',
  8: 'rejected',
  9: 'failed',
};

interface PendingRequest {
  readonly fail: (error: ProviderError) => void;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * An SMPP 3.4 ESME (the `smpp` package underneath): one bind_transceiver
 * session kept up with enquire_link and reconnect-with-backoff, submit_sm per
 * segment, deliver_sm for inbound messages and receipts.
 */
export function createSmppProvider(options: SmppProviderOptions): SmppProvider {
  return new SmppEsme(options);
}

class SmppEsme implements SmsProvider {
  readonly name: string;
  readonly #o: Required<Omit<SmppProviderOptions, 'name' | 'systemType' | 'onEvent'>> & {
    readonly systemType: string;
  };
  readonly #onEvent: (event: SmppEvent) => void;
  #handlers: ProviderHandlers | undefined;
  #session: Session | undefined;
  #bound = false;
  #stopping = false;
  #everBound = false;
  #reconnectAttempt = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #enquireTimer: NodeJS.Timeout | undefined;
  #enquireOutstanding = false;
  readonly #pending = new Set<PendingRequest>();
  #started: { resolve: () => void; reject: (e: Error) => void } | undefined;
  // Flow control shared by every send().
  #inflight = 0;
  readonly #windowWaiters: (() => void)[] = [];
  #nextSlotAt = 0;
  #pausedUntil = 0;
  #throttleLevel = 0;
  // deliver_sm are handled one at a time, in arrival order, so a sender's messages stay in order.
  #inboundChain: Promise<void> = Promise.resolve();
  readonly #reassembler: Reassembler;
  readonly #sent = new IdempotencyCache<SendResult>(10_000);
  #ledger: SendLedger = createMemoryLedger();
  /** Recently handled deliver_sm, by their stable identity, to drop an SMSC's retransmission. */
  readonly #recentInbound = new Set<string>();
  /** Numbers the connections, so that a sequence number is only compared within its session. */
  #sessionNo = 0;

  constructor(options: SmppProviderOptions) {
    this.name = options.name ?? 'smpp';
    this.#o = {
      host: options.host,
      port: options.port,
      systemId: options.systemId,
      password: options.password,
      systemType: options.systemType ?? '',
      sourceTon: options.sourceTon ?? 1,
      sourceNpi: options.sourceNpi ?? 1,
      destTon: options.destTon ?? 1,
      destNpi: options.destNpi ?? 1,
      enquireLinkMs: options.enquireLinkMs ?? 30_000,
      responseTimeoutMs: options.responseTimeoutMs ?? 10_000,
      reconnect: options.reconnect ?? { initialMs: 1_000, maxMs: 30_000 },
      throttleBackoff: options.throttleBackoff ?? { initialMs: 1_000, maxMs: 30_000 },
      throttleRetries: options.throttleRetries ?? 3,
      window: Math.max(1, options.window ?? 10),
      throughputPerSecond: options.throughputPerSecond ?? 0,
      maxSegments: options.maxSegments ?? 10,
      reassemblyTimeoutMs: options.reassemblyTimeoutMs ?? 300_000,
    };
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.#reassembler = new Reassembler(this.#o.reassemblyTimeoutMs, (m) => this.#deliverIncomplete(m));
  }

  /** Resolves once bound the first time; rejects if the SMSC refuses the credentials. Network failures are retried. */
  start(handlers: ProviderHandlers, context?: ProviderContext): Promise<void> {
    this.#handlers = handlers;
    if (context?.ledger !== undefined) this.#ledger = context.ledger;
    this.#stopping = false;
    return new Promise((resolve, reject) => {
      this.#started = { resolve, reject };
      this.#connect();
    });
  }

  send(sms: OutboundSms): Promise<SendResult> {
    return this.#sent.run(sms.id, () => this.#send(sms));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#reconnectTimer);
    this.#stopEnquireLink();
    this.#reassembler.clear();
    this.#started?.reject(new ProviderError('provider stopped before the first bind', true, 'stopped'));
    this.#started = undefined;
    const session = this.#session;
    if (!session) return;
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    if (this.#bound) {
      // SMPP 3.4 §4.2: unbind politely, but never wait long for a peer that is going away.
      await Promise.race([this.#request(session, 'unbind', {}).catch(() => undefined), sleep(1_000)]);
    }
    session.destroy();
    await closed;
    this.#failPending('provider stopped');
  }

  // ---- connection ----

  #connect(): void {
    const session = smpp.connect({ host: this.#o.host, port: this.#o.port });
    this.#session = session;
    const sessionNo = ++this.#sessionNo;
    let lastError: string | undefined;
    session.on('connect', () => this.#bind(session));
    session.on('error', (err: Error) => {
      lastError = err.message;
    });
    session.on('close', () => this.#onClose(session, lastError));
    session.on('deliver_sm', (pdu: PDU) => {
      this.#inboundChain = this.#inboundChain
        .then(() => this.#onDeliverSm(session, sessionNo, pdu))
        .catch((error: unknown) => this.#onEvent({ type: 'handler-failed', command: 'deliver_sm', error }));
    });
    session.on('enquire_link', (pdu: PDU) => {
      session.send(pdu.response());
    });
    session.on('unbind', (pdu: PDU) => {
      session.send(pdu.response());
      session.close();
    });
  }

  #bind(session: Session): void {
    const params: Record<string, unknown> = {
      system_id: this.#o.systemId,
      password: this.#o.password,
      system_type: this.#o.systemType,
      interface_version: 0x34,
    };
    this.#request(session, 'bind_transceiver', params).then(
      (resp) => {
        if (resp.command_status === STATUS.ESME_ROK) {
          this.#bound = true;
          this.#everBound = true;
          this.#reconnectAttempt = 0;
          this.#startEnquireLink(session);
          this.#onEvent({ type: 'bound' });
          this.#started?.resolve();
          this.#started = undefined;
          return;
        }
        this.#onEvent({ type: 'bind-refused', status: resp.command_status });
        if (!this.#everBound && PERMANENT_BIND_STATUS.has(resp.command_status)) {
          this.#stopping = true;
          this.#started?.reject(
            new ProviderError(
              `SMSC refused bind_transceiver: ${statusName(resp.command_status)}`,
              false,
              statusName(resp.command_status),
            ),
          );
          this.#started = undefined;
        }
        session.destroy();
      },
      () => session.destroy(),
    );
  }

  #onClose(session: Session, error: string | undefined): void {
    if (session !== this.#session) return;
    this.#bound = false;
    this.#session = undefined;
    this.#stopEnquireLink();
    this.#failPending('connection to the SMSC lost');
    this.#onEvent(error === undefined ? { type: 'disconnected' } : { type: 'disconnected', error });
    if (this.#stopping) return;
    const { initialMs, maxMs } = this.#o.reconnect;
    const delayMs = Math.min(maxMs, initialMs * 2 ** this.#reconnectAttempt++);
    this.#onEvent({ type: 'reconnecting', delayMs });
    this.#reconnectTimer = setTimeout(() => this.#connect(), delayMs);
  }

  #startEnquireLink(session: Session): void {
    this.#stopEnquireLink();
    this.#enquireTimer = setInterval(() => {
      if (this.#enquireOutstanding) return;
      this.#enquireOutstanding = true;
      this.#request(session, 'enquire_link', {}).then(
        () => {
          this.#enquireOutstanding = false;
        },
        // An unanswered enquire_link means a dead link the OS has not noticed: start over.
        () => {
          this.#enquireOutstanding = false;
          session.destroy();
        },
      );
    }, this.#o.enquireLinkMs);
    this.#enquireTimer.unref();
  }

  #stopEnquireLink(): void {
    clearInterval(this.#enquireTimer);
    this.#enquireTimer = undefined;
    this.#enquireOutstanding = false;
  }

  #request(
    session: Session,
    command: 'bind_transceiver' | 'submit_sm' | 'enquire_link' | 'unbind',
    params: Record<string, unknown>,
  ): Promise<PDU> {
    return new Promise<PDU>((resolve, reject) => {
      const entry: PendingRequest = {
        fail: (e) => {
          clearTimeout(timer);
          this.#pending.delete(entry);
          reject(e);
        },
      };
      const timer = setTimeout(
        () => entry.fail(new ProviderError(`no ${command}_resp from the SMSC`, true, 'timeout')),
        this.#o.responseTimeoutMs,
      );
      this.#pending.add(entry);
      const written = session[command](params, (resp) => {
        clearTimeout(timer);
        this.#pending.delete(entry);
        resolve(resp);
      });
      if (!written) entry.fail(new ProviderError('not connected to the SMSC', true, 'unbound'));
    });
  }

  #failPending(reason: string): void {
    for (const p of [...this.#pending]) p.fail(new ProviderError(reason, true, 'connection-lost'));
  }

  // ---- outbound ----

  async #send(sms: OutboundSms): Promise<SendResult> {
    let plan;
    try {
      plan = planSegments(sms.text, this.#o.maxSegments);
    } catch (e) {
      if (e instanceof SegmentCapError) throw new ProviderError(e.message, false, e.name);
      throw e;
    }
    const multi = plan.count > 1;
    // Derived from the job, not counted: parts resubmitted by a later run must carry the same reference.
    const ref = multi ? concatenationRef(sms.id) : 0;
    // Parts an earlier run of this job got accepted are not submitted again.
    const accepted = await this.#ledger.accepted(sms.id);
    const source = this.#address(sms.from, this.#o.sourceTon, this.#o.sourceNpi);
    const dest = this.#address(sms.to, this.#o.destTon, this.#o.destNpi);
    const ids: string[] = [];
    for (const [i, segment] of plan.segments.entries()) {
      const done = accepted.get(i);
      if (done !== undefined) {
        ids.push(done);
        continue;
      }
      const body = plan.encoding === 'gsm7' ? encodeGsm7(segment) : encodeUcs2(segment);
      const params: Record<string, unknown> = {
        source_addr_ton: source.ton,
        source_addr_npi: source.npi,
        source_addr: source.addr,
        dest_addr_ton: dest.ton,
        dest_addr_npi: dest.npi,
        destination_addr: dest.addr,
        esm_class: multi ? ESM_UDHI : 0,
        data_coding: plan.encoding === 'gsm7' ? DATA_CODING_GSM7 : DATA_CODING_UCS2,
        registered_delivery: sms.wantReport ? 0x01 : 0x00,
        short_message: multi
          ? Buffer.concat([concatenationUdh(ref, plan.count, i + 1), body])
          : Buffer.from(body),
      };
      const id = await this.#submit(params);
      await this.#ledger.accept(sms.id, i, plan.count, id);
      ids.push(id);
    }
    return { providerMessageIds: ids, segments: plan.count };
  }

  /** One segment; a throttled one is resubmitted after the backoff, up to throttleRetries times. */
  async #submit(params: Record<string, unknown>): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      await this.#acquire();
      let resp: PDU;
      try {
        const session = this.#session;
        if (!session || !this.#bound) throw new ProviderError('not bound to the SMSC', true, 'unbound');
        resp = await this.#request(session, 'submit_sm', { ...params });
      } finally {
        this.#release();
      }
      const status = resp.command_status;
      if (status === STATUS.ESME_ROK) {
        this.#throttleLevel = 0;
        return String(resp['message_id']);
      }
      const name = statusName(status);
      if (status === STATUS.ESME_RTHROTTLED || status === STATUS.ESME_RMSGQFUL) {
        const { initialMs, maxMs } = this.#o.throttleBackoff;
        const backoffMs = Math.min(maxMs, initialMs * 2 ** this.#throttleLevel++);
        this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + backoffMs);
        this.#onEvent({ type: 'throttled', status, backoffMs });
        if (attempt < this.#o.throttleRetries) continue;
        throw new ProviderError(`SMSC is throttling: ${name}`, true, name);
      }
      throw new ProviderError(`SMSC refused submit_sm: ${name}`, RETRYABLE_STATUS.has(status), name);
    }
  }

  /** Waits for a window slot, the throughput budget and the end of any throttling pause. */
  async #acquire(): Promise<void> {
    for (;;) {
      if (this.#stopping) throw new ProviderError('provider stopped', true, 'stopped');
      if (this.#inflight >= this.#o.window) {
        await new Promise<void>((resolve) => this.#windowWaiters.push(resolve));
        continue;
      }
      const now = Date.now();
      const waitMs = Math.max(this.#pausedUntil, this.#nextSlotAt) - now;
      if (waitMs > 0) {
        await sleep(waitMs);
        continue;
      }
      this.#inflight++;
      if (this.#o.throughputPerSecond > 0) this.#nextSlotAt = now + 1_000 / this.#o.throughputPerSecond;
      return;
    }
  }

  #release(): void {
    this.#inflight--;
    this.#windowWaiters.shift()?.();
  }

  #address(number: string, ton: number, npi: number): { addr: string; ton: number; npi: number } {
    if (number.startsWith('+')) return { addr: number.slice(1), ton, npi };
    // SMPP 3.4 §5.2.5: an alphanumeric sender id is TON 5, NPI 0.
    if (/[^0-9]/.test(number)) return { addr: number, ton: 0x05, npi: 0x00 };
    return { addr: number, ton, npi };
  }

  // ---- inbound ----

  async #onDeliverSm(session: Session, sessionNo: number, pdu: PDU): Promise<void> {
    let status: number = STATUS.ESME_ROK;
    try {
      const key = inboundKey(sessionNo, pdu);
      if (this.#recentInbound.has(key)) {
        // A retransmission of a PDU already handled (its response was lost): acknowledge it again, deliver nothing.
        this.#onEvent({ type: 'inbound-duplicate', key });
      } else {
        await this.#handleDeliverSm(pdu);
        this.#recentInbound.add(key);
        if (this.#recentInbound.size > 10_000) {
          const oldest = this.#recentInbound.values().next();
          if (!oldest.done) this.#recentInbound.delete(oldest.value);
        }
      }
    } catch (error) {
      // A temporary application error makes the SMSC redeliver later (SMPP 3.4 §5.1.3): nothing is lost.
      status = STATUS.ESME_RX_T_APPN;
      this.#onEvent({ type: 'handler-failed', command: 'deliver_sm', error });
    }
    session.send(pdu.response(status === STATUS.ESME_ROK ? {} : { command_status: status }));
  }

  async #handleDeliverSm(pdu: PDU): Promise<void> {
    const handlers = this.#handlers;
    if (!handlers) throw new Error('provider not started');
    const esmClass = Number(pdu['esm_class'] ?? 0);
    const sm = pdu['short_message'] as DecodedShortMessage | undefined;
    const payload = pdu['message_payload'] as DecodedShortMessage | undefined;
    const text = textOf(sm) || textOf(payload);
    const type = esmClass & ESM_TYPE_MASK;
    if (type === 0x04 || type === 0x20) {
      const report = parseReceipt(pdu, text);
      if (report === 'unparsable') this.#onEvent({ type: 'receipt-unparsable', text });
      else if (report) {
        // The whole message is reported once: delivered when every part is, failed at its first failed part.
        await forwardSettled(this.#ledger, report, idSpellings(report.providerMessageId), (r) =>
          handlers.report(r),
        );
      }
      return;
    }
    const from = toE164(stringParam(pdu['source_addr']), Number(pdu['source_addr_ton'] ?? 0));
    const to = toE164(stringParam(pdu['destination_addr']), Number(pdu['dest_addr_ton'] ?? 0));
    const part = esmClass & ESM_UDHI ? findConcatenation(sm?.udh ?? payload?.udh ?? []) : undefined;
    let whole: string | undefined = text;
    if (part && part.total > 1) {
      // Earlier parts are acknowledged as they arrive (an SMSC that waits for each response would stall otherwise).
      whole = this.#reassembler.add(`${from}|${to}`, part, text);
      if (whole === undefined) return;
    }
    await handlers.inbound({
      from,
      to,
      text: whole,
      providerMessageId: randomUUID(),
      receivedAt: Date.now(),
    });
  }

  #deliverIncomplete(message: IncompleteMessage): void {
    this.#onEvent({ type: 'inbound-incomplete', missing: message.missing });
    const [from = '', to = ''] = message.key.split('|');
    const handlers = this.#handlers;
    if (!handlers) return;
    this.#inboundChain = this.#inboundChain.then(() =>
      handlers
        .inbound({ from, to, text: message.text, providerMessageId: randomUUID(), receivedAt: Date.now() })
        .catch((error: unknown) => this.#onEvent({ type: 'handler-failed', command: 'deliver_sm', error })),
    );
  }
}

/** The UDH reference of a job's parts (one octet): the same in every run of the job. */
function concatenationRef(jobId: string): number {
  return createHash('sha256').update(jobId).digest()[0]!;
}

/**
 * The ways an SMSC may spell one message id: as given, and — the common quirk
 * of answering submit_sm with a hex id but writing receipts in decimal, or the
 * other way round — converted between hex and decimal.
 */
export function idSpellings(id: string): string[] {
  const spellings = [id];
  if (id.length > 30) return spellings;
  if (/^\d+$/.test(id)) spellings.push(BigInt(id).toString(16));
  if (/^[0-9a-f]+$/i.test(id)) spellings.push(BigInt(`0x${id}`).toString(10));
  return spellings;
}

/**
 * What makes a deliver_sm the same PDU again. SMPP 3.4 gives a mobile-originated
 * deliver_sm no message id, so there is no stable id across sessions: within
 * one session a retransmission reuses the sequence number (§2.6) and carries
 * the same content. A receipt names its message (receipted_message_id or the
 * text's id:), which the ledger de-duplicates across sessions too.
 */
function inboundKey(sessionNo: number, pdu: PDU): string {
  const hash = createHash('sha256');
  for (const name of ['source_addr', 'destination_addr', 'esm_class', 'receipted_message_id']) {
    const value = pdu[name];
    hash.update(`${name}=${typeof value === 'string' || typeof value === 'number' ? value : ''}\n`);
  }
  for (const name of ['short_message', 'message_payload']) {
    const value = pdu[name] as DecodedShortMessage | undefined;
    if (value === undefined) continue;
    hash.update(`${name}=`);
    for (const udh of value.udh ?? []) hash.update(udh);
    hash.update(typeof value.message === 'string' ? value.message : value.message);
  }
  return `${sessionNo}:${pdu.sequence_number}:${hash.digest('base64')}`;
}

function textOf(sm: DecodedShortMessage | undefined): string {
  if (!sm) return '';
  // Binary data_coding values come back undecoded; latin1 keeps every octet visible.
  return typeof sm.message === 'string' ? sm.message : sm.message.toString('latin1');
}

const stringParam = (value: unknown): string => (typeof value === 'string' ? value : '');

function toE164(addr: string, ton: number): string {
  if (addr.startsWith('+') || ton !== 1) return addr;
  return `+${addr}`;
}

/**
 * A delivery receipt: the TLVs of SMPP 3.4 §5.3.2.12/35 when present, else the
 * de-facto text format of Appendix B ("id:… sub:… dlvrd:… submit date:… done
 * date:… stat:DELIVRD err:… text:…"). Undefined for a non-final state.
 */
export function parseReceipt(pdu: PDU, text: string): DeliveryReport | 'unparsable' | undefined {
  const field = (name: string): string | undefined =>
    new RegExp(`(?:^|\\s)${name}:(\\S+)`, 'i').exec(text)?.[1];
  const tlvId = pdu['receipted_message_id'];
  const providerMessageId = typeof tlvId === 'string' && tlvId !== '' ? tlvId : field('id');
  if (providerMessageId === undefined) return 'unparsable';
  const state = pdu['message_state'];
  const stat = field('stat');
  let status: DeliveryStatus | undefined;
  if (typeof state === 'number') status = MESSAGE_STATE[state];
  else if (stat !== undefined) status = RECEIPT_STAT[stat.toUpperCase()];
  else return 'unparsable';
  if (status === undefined) return undefined;
  const err = networkErrorCode(pdu['network_error_code']) ?? field('err');
  const report: DeliveryReport = { providerMessageId, status, at: Date.now() };
  return err !== undefined && !/^0+$/.test(err) ? { ...report, errorCode: err } : report;
}

/** §5.3.2.31: network type octet, then a 2-octet error code. */
function networkErrorCode(value: unknown): string | undefined {
  if (!Buffer.isBuffer(value) || value.length < 3) return undefined;
  return String(value.readUInt16BE(1));
}
