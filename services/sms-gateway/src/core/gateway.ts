import { StanzaError, errorReply } from '@switchboard/component';
import { tryParseJid, type Jid } from '@switchboard/jid';
import type { Logger } from '@switchboard/kit';
import { xml, type Element } from '@switchboard/xml';
import {
  ProviderError,
  type DeliveryReport,
  type InboundSms,
  type SmsProvider,
} from '../providers/provider.js';
import type { FailedJob, OutboundJob, OutboundQueue } from '../queue/queue.js';
import type { Registrations } from '../registrations/registrations.js';
import type { RoomBridge } from '../rooms/bridge.js';
import type { Incoming, Transport } from '../transports/index.js';
import { NS_COMMANDS, RegistrationCommands } from './commands.js';
import { dataForm, submittedValues, type FormField } from './forms.js';
import { DEFAULT_KEYWORD_REPLIES, keywordOf, type KeywordReplies } from './keywords.js';
import type { GatewayMetrics } from './metrics.js';
import { isE164, normalizeNumber } from './numbers.js';
import { DEFAULT_VERIFICATION, Registrar, type ClaimOutcome, type VerificationPolicy } from './registrar.js';

/** How long, and how many, delivery reports wait for the send that they report on to be recorded. */
const EARLY_REPORT_TTL_MS = 60_000;
const EARLY_REPORT_LIMIT = 10_000;

export const NS_REGISTER = 'jabber:iq:register';
export const NS_GATEWAY = 'jabber:iq:gateway';
export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
export const NS_RECEIPTS = 'urn:xmpp:receipts';
export const NS_OOB = 'jabber:x:oob';
export { NS_COMMANDS };

/** Twilio error 21610: the recipient texted STOP to the sending number at Twilio (its own opt-out list). */
const TWILIO_OPTED_OUT = '21610';

/** How long presence to every user may take at stop before the gateway stops anyway. */
const GOODBYE_TIMEOUT_MS = 2000;

/** A stanza error whose reply carries a payload, e.g. a XEP-0077 form asking for the next field (RFC 6120 §8.3.1). */
class PayloadError extends StanzaError {
  constructor(
    condition: ConstructorParameters<typeof StanzaError>[0],
    text: string,
    readonly payload: Element,
  ) {
    super(condition, text);
  }
}

/** XEP-0077 fields that carry provider credentials, e.g. a Twilio account SID (username) and token (password). */
export type AccountField = 'username' | 'password';

/** Which XEP-0077 field fills which key of the provider's `OutboundSms.account`, e.g. `{ username: 'accountSid' }`. */
export type AccountFields = Readonly<Partial<Record<AccountField, string>>>;

export interface GatewayOptions {
  /** The component domain, e.g. `sms.example.com`. */
  readonly domain: string;
  readonly transport: Pick<Transport, 'send'>;
  readonly provider: Pick<SmsProvider, 'name' | 'send'>;
  readonly registrations: Registrations;
  readonly queue: Pick<OutboundQueue, 'enqueue'>;
  readonly logger: Logger;
  readonly metrics?: GatewayMetrics;
  /** Country code for national numbers (`1`, `44`); without it only international input is accepted. */
  readonly defaultCountryCode?: string;
  /** Most segments one message may take. */
  readonly maxSegments: number;
  /** Segment count of a text (GSM-7/UCS-2 rules); without it a plain length cap of `maxSegments × 153` characters applies. */
  readonly segmentsOf?: (text: string) => number;
  /** Provider credentials asked for at registration. Default none. */
  readonly accountFields?: AccountFields;
  /** How long a sent SMS waits for its delivery report. Default 72 h. */
  readonly reportTtlMs?: number;
  readonly keywordReplies?: KeywordReplies;
  /** The gateway's name in disco#info. */
  readonly name?: string;
  /** SMS users in group chats (XEP-0045 through the gateway); without it texts are only 1:1. */
  readonly rooms?: RoomBridge;
  /** Number verification by SMS code; on by default ({@link DEFAULT_VERIFICATION}). */
  readonly verification?: Partial<VerificationPolicy>;
  /** JID domains whose users may register; everyone when absent. */
  readonly allowedDomains?: readonly string[];
}

/** Characters per segment of a concatenated GSM-7 SMS (3GPP TS 23.040 §9.2.3.24.1 leaves 153 of 160). */
const GSM7_SEGMENT_CHARS = 153;

/**
 * The translation between XMPP and SMS. It sees stanzas and provider events
 * only; how they arrive (bus or XEP-0114) is the transport's business.
 */
export class SmsGateway {
  private readonly domain: string;
  private readonly log: Logger;
  private readonly accountFields: readonly (readonly [AccountField, string])[];
  private readonly replies: KeywordReplies;
  private readonly reportTtlMs: number;
  private readonly registrar: Registrar;
  private readonly commands: RegistrationCommands;

  constructor(private readonly options: GatewayOptions) {
    this.domain = options.domain.toLowerCase();
    this.log = options.logger;
    this.accountFields = Object.entries(options.accountFields ?? {}) as [AccountField, string][];
    this.replies = options.keywordReplies ?? DEFAULT_KEYWORD_REPLIES;
    this.reportTtlMs = options.reportTtlMs ?? 72 * 3600_000;
    this.registrar = new Registrar({
      domain: this.domain,
      name: options.name ?? 'SMS gateway',
      registrations: options.registrations,
      queue: options.queue,
      logger: options.logger,
      verification: { ...DEFAULT_VERIFICATION, ...options.verification },
      ...(options.allowedDomains === undefined ? {} : { allowedDomains: options.allowedDomains }),
      ...(options.defaultCountryCode === undefined ? {} : { defaultCountryCode: options.defaultCountryCode }),
    });
    this.commands = new RegistrationCommands({
      domain: this.domain,
      registrar: this.registrar,
      accountFields: this.accountFields,
      current: (jid) => options.registrations.get(jid),
      afterRegistered: (outcome) => this.afterRegistered(outcome),
      afterRemoved: (jid) => this.afterRemoved(jid),
    });
  }

  /** The features disco#info announces (XEP-0030). */
  get features(): readonly string[] {
    return [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_REGISTER, NS_GATEWAY, NS_COMMANDS, NS_RECEIPTS, NS_OOB];
  }

  contactJid(number: string): string {
    return `${number}@${this.domain}`;
  }

  // ---- XMPP → gateway ----

  /** Handles one stanza addressed to the gateway's domain. Rejects only on infrastructure failures (then redeliver). */
  async handleStanza(el: Element, incoming: Incoming): Promise<void> {
    const from = el.attrs['from'] === undefined ? null : tryParseJid(el.attrs['from']);
    const to = el.attrs['to'] === undefined ? null : tryParseJid(el.attrs['to']);
    if (from === null || to === null || to.domain !== this.domain) {
      this.log.debug({ from: el.attrs['from'], to: el.attrs['to'] }, 'stanza not for this gateway');
      return;
    }
    try {
      if (this.options.rooms !== undefined && (await this.options.rooms.handleStanza(el, from, to))) return;
      if (el.name === 'message') await this.onMessage(el, from, to, incoming);
      else if (el.name === 'presence') await this.onPresence(el, from, to);
      else if (el.name === 'iq') await this.onIq(el, from, to);
    } catch (error) {
      if (!(error instanceof StanzaError)) throw error;
      // RFC 6120 §8.3.1: never answer an error with an error.
      if (el.attrs['type'] === 'error') return;
      // The error may carry the payload the client should fill in again (XEP-0077 §3.1, example 6).
      await this.send(
        error instanceof PayloadError
          ? xml(
              el.name,
              { from: el.attrs['to'], to: el.attrs['from'], id: el.attrs['id'], type: 'error' },
              error.payload,
              error.toElement(),
            )
          : errorReply(el, error),
      );
    }
  }

  private async onMessage(el: Element, from: Jid, to: Jid, incoming: Incoming): Promise<void> {
    const type = el.attrs['type'] ?? 'normal';
    if (type === 'error' || type === 'groupchat' || type === 'headline') return;
    if (to.local === '') {
      throw new StanzaError('service-unavailable', 'send messages to +<number>@' + this.domain);
    }
    const body = el.getChildText('body') ?? '';
    const urls = el
      .getChildren('x', NS_OOB)
      .map((x) => x.getChildText('url')?.trim() ?? '')
      .filter((url) => url !== '');
    // Conversations, Gajim and Dino share an upload as body == URL plus the same URL in OOB: send it once.
    const extra = urls.filter((url, i) => !body.includes(url) && urls.indexOf(url) === i);
    const text = [body.trim() === '' ? '' : body, ...extra].filter((part) => part !== '').join('\n');
    if (text === '') {
      // Chat states, receipts and markers carry no text and have nowhere to go on SMS (RFC 6121 §5.2.3).
      if (el.getChildElements().length > 0) return;
      throw new StanzaError('bad-request', 'the message has no body');
    }
    const number = this.numberOf(to, 'item-not-found');
    const sender = await this.options.registrations.get(from.bare().toString());
    if (sender === null) {
      throw new StanzaError('registration-required', `register your phone number with ${this.domain} first`);
    }
    if (await this.options.registrations.isOptedOut(number, sender.number)) {
      throw new StanzaError('forbidden', `${number} has opted out (STOP) of messages from ${sender.number}`);
    }
    this.checkLength(text);
    const wantReceipt = el.getChild('request', NS_RECEIPTS) !== undefined && el.attrs['id'] !== undefined;
    const job: OutboundJob = {
      id: incoming.id,
      sms: {
        id: incoming.id,
        from: sender.number,
        to: number,
        text,
        wantReport: true,
        ...(sender.account === undefined ? {} : { account: sender.account }),
      },
      sender: from.toString(),
      contact: to.bare().toString(),
      stanzaId: el.attrs['id'] ?? '',
      wantReceipt,
    };
    await this.options.rooms?.noteConversation(number, sender.number);
    if (await this.options.queue.enqueue(job)) this.options.metrics?.queued.inc();
    else this.log.info({ jobId: job.id }, 'duplicate stanza; already queued');
  }

  private checkLength(text: string): void {
    const max = this.options.maxSegments;
    if (this.options.segmentsOf !== undefined) {
      const segments = this.options.segmentsOf(text);
      if (segments > max) {
        throw new StanzaError(
          'not-acceptable',
          `the message needs ${segments} SMS segments; at most ${max} are allowed`,
        );
      }
    } else if (text.length > max * GSM7_SEGMENT_CHARS) {
      throw new StanzaError(
        'not-acceptable',
        `the message has ${text.length} characters; at most ${max * GSM7_SEGMENT_CHARS} are allowed`,
      );
    }
  }

  /** The E.164 number a contact JID names; `condition` when it names none. */
  private numberOf(to: Jid, condition: 'item-not-found' | 'jid-malformed'): string {
    if (isE164(to.local)) return to.local;
    if (to.local.startsWith('+')) {
      throw new StanzaError('jid-malformed', `${to.local} is not an E.164 number (+ and up to 15 digits)`);
    }
    throw new StanzaError(
      condition,
      `${to.local} is not a phone number; contacts are +<E.164>@${this.domain}`,
    );
  }

  private async onPresence(el: Element, from: Jid, to: Jid): Promise<void> {
    const type = el.attrs['type'] ?? 'available';
    const bare = from.bare().toString();
    const contact = to.bare().toString();
    if (to.local !== '' && !isE164(to.local)) return;
    if (type === 'unavailable') {
      // XEP-0100 §4.5: the user logged off; the gateway (or the contact) goes offline for them too.
      await this.send(xml('presence', { from: contact, to: from.toString(), type: 'unavailable' }));
      return;
    }
    const registered = (await this.options.registrations.get(bare)) !== null;
    switch (type) {
      case 'subscribe':
        // Auto-approval for registered users (XEP-0100 §4.1.1); others are refused (RFC 6121 §3.2).
        await this.send(
          xml('presence', { from: contact, to: bare, type: registered ? 'subscribed' : 'unsubscribed' }),
        );
        if (!registered) return;
        await this.send(this.available(contact, bare));
        // XEP-0100 §6.3: the legacy contact asks back, so the subscription becomes mutual ("both").
        // Servers answer it for the user when they already approved (RFC 6121 §3.1.3), so a repeat is harmless.
        if (to.local !== '') await this.send(xml('presence', { from: contact, to: bare, type: 'subscribe' }));
        return;
      case 'unsubscribe':
        await this.send(xml('presence', { from: contact, to: bare, type: 'unsubscribed' }));
        return;
      case 'probe':
        // RFC 6121 §4.3.2: answer a probe with the current presence.
        await this.send(
          registered
            ? this.available(contact, bare)
            : xml('presence', { from: contact, to: bare, type: 'unavailable' }),
        );
        return;
      case 'available':
        // Directed presence at login (XEP-0100 §4.4): the gateway and contacts show as online.
        if (registered) await this.send(this.available(contact, from.toString()));
        return;
      default:
        return;
    }
  }

  private available(from: string, to: string): Element {
    return xml('presence', { from, to });
  }

  /** Presence from the gateway to every registered user: at start (available) and at stop (unavailable). */
  async announce(available: boolean, timeoutMs = GOODBYE_TIMEOUT_MS): Promise<void> {
    const all = async (): Promise<void> => {
      for (const registration of await this.options.registrations.list()) {
        await this.send(
          available
            ? this.available(this.domain, registration.jid)
            : xml('presence', { from: this.domain, to: registration.jid, type: 'unavailable' }),
        );
      }
    };
    // At stop the transport may already be gone: send what goes within the time, never hang the shutdown.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const outcome = await Promise.race([all().then(() => 'sent' as const), timeout]);
      if (outcome === 'timeout') this.log.warn({ available }, 'gateway presence to users timed out');
    } catch (error) {
      this.log.warn({ err: error, available }, 'gateway presence to users failed');
    } finally {
      clearTimeout(timer);
    }
  }

  private async onIq(el: Element, from: Jid, to: Jid): Promise<void> {
    const type = el.attrs['type'];
    if (type !== 'get' && type !== 'set') return;
    const [query] = el.getChildElements();
    // RFC 6120 §8.2.3: an iq get/set has exactly one payload.
    if (query === undefined || el.getChildElements().length !== 1) throw new StanzaError('bad-request');
    const ns = query.getNS();
    const key = `${type} ${ns}`;
    let result: Element | null;
    let after: readonly Element[] = [];
    if (to.local !== '') {
      if (key === `get ${NS_DISCO_INFO}`) result = this.contactInfo(to);
      else throw new StanzaError('service-unavailable');
    } else if (key === `get ${NS_DISCO_INFO}`) result = this.gatewayInfo(query);
    else if (key === `get ${NS_DISCO_ITEMS}`) result = this.gatewayItems(query);
    else if (key === `get ${NS_REGISTER}`) result = await this.registrationForm(from);
    else if (key === `set ${NS_REGISTER}`) [result, after] = await this.register(query, from);
    else if (key === `get ${NS_GATEWAY}`) result = this.gatewayPrompt();
    else if (key === `set ${NS_GATEWAY}`) result = this.gatewayJid(query);
    else if (key === `set ${NS_COMMANDS}` && query.name === 'command') {
      const reply = await this.commands.execute(query, from.bare().toString());
      result = reply.command;
      after = reply.after;
    }
    // RFC 6120 §8.4: an iq nobody here understands.
    else throw new StanzaError('service-unavailable');
    await this.send(
      xml('iq', { from: el.attrs['to'], to: el.attrs['from'], id: el.attrs['id'], type: 'result' }, result),
    );
    // XEP-0100 §4.1.1/§4.3.1: presence about a (un)registration follows its result.
    for (const stanza of after) await this.send(stanza);
  }

  private gatewayInfo(query: Element): Element {
    const node = query.attrs['node'];
    if (node !== undefined) {
      // XEP-0050 §2.3: a command node describes itself.
      const info = this.commands.info(node);
      if (info === null) throw new StanzaError('item-not-found');
      return xml('query', { xmlns: NS_DISCO_INFO, node }, ...info);
    }
    // XEP-0100 §5: identity category "gateway", type "sms" from the registry.
    return xml(
      'query',
      { xmlns: NS_DISCO_INFO },
      xml('identity', { category: 'gateway', type: 'sms', name: this.options.name ?? 'SMS gateway' }),
      ...this.features.map((feature) => xml('feature', { var: feature })),
    );
  }

  private gatewayItems(query: Element): Element {
    const node = query.attrs['node'];
    if (node === undefined) return xml('query', { xmlns: NS_DISCO_ITEMS });
    // XEP-0050 §2.2: the commands are the items of the commands node.
    if (node !== NS_COMMANDS) throw new StanzaError('item-not-found');
    return xml('query', { xmlns: NS_DISCO_ITEMS, node }, ...this.commands.items());
  }

  private contactInfo(to: Jid): Element {
    this.numberOf(to, 'item-not-found');
    // Clients ask a contact before requesting receipts (XEP-0184 §6).
    return xml(
      'query',
      { xmlns: NS_DISCO_INFO },
      xml('identity', { category: 'client', type: 'sms', name: to.local }),
      xml('feature', { var: NS_DISCO_INFO }),
      xml('feature', { var: NS_RECEIPTS }),
    );
  }

  private async registrationForm(from: Jid): Promise<Element> {
    const bare = from.bare().toString();
    const current = await this.options.registrations.get(bare);
    const pending = await this.registrar.pendingNumber(bare);
    const phone = pending ?? current?.number ?? '';
    const account = this.accountFields.map(([field, key]) => [field, current?.account?.[key] ?? ''] as const);
    const instructions =
      pending !== null
        ? `A code was texted to ${pending}. Submit the number again with the code (field "code"; legacy clients: "text").`
        : 'Enter your phone number in international form (+15551234567)' +
          (this.accountFields.length > 0 ? ' and your SMS provider account' : '') +
          (this.registrar.verifies ? '. The gateway texts it a code; submit again with the code.' : '.');
    // XEP-0077 §3.1: a registered entity sees <registered/> and its current values;
    // §5: the same as a data form, which clients such as Gajim prefer.
    return xml(
      'query',
      { xmlns: NS_REGISTER },
      current === null ? null : xml('registered'),
      xml('instructions', {}, instructions),
      xml('phone', {}, phone),
      ...account.map(([field, value]) => xml(field, {}, value)),
      this.registrar.verifies ? xml('text') : null,
      this.registrationDataForm(phone, account, pending !== null, instructions),
    );
  }

  private registrationDataForm(
    phone: string,
    account: readonly (readonly [AccountField, string])[],
    askCode: boolean,
    instructions: string,
  ): Element {
    const fields: FormField[] = [
      { var: 'phone', type: 'text-single', label: 'Phone number', required: true, value: phone },
      ...account.map(([field, value]): FormField => ({
        var: field,
        type: field === 'password' ? 'text-private' : 'text-single',
        label: field === 'password' ? 'Provider password or token' : 'Provider account',
        required: true,
        value,
      })),
    ];
    if (this.registrar.verifies) {
      fields.push({
        var: 'code',
        type: 'text-single',
        label: 'Code from the SMS',
        desc: 'Leave empty to have a code texted to the number',
        required: askCode,
      });
    }
    return dataForm({ title: 'SMS gateway registration', instructions, formType: NS_REGISTER, fields });
  }

  private async register(query: Element, from: Jid): Promise<[null, Element[]]> {
    const bare = from.bare().toString();
    if (query.getChild('remove') !== undefined) {
      // XEP-0077 §3.2: <remove/> stands alone; anything beside it is a bad request.
      if (query.getChildElements().length !== 1) throw new StanzaError('bad-request', '<remove/> goes alone');
      if (!(await this.registrar.remove(bare))) throw new StanzaError('registration-required');
      return [null, this.afterRemoved(bare)];
    }
    // XEP-0077 §5: a submitted data form wins over the legacy fields.
    const form = submittedValues(query);
    const value = (name: string): string => (form === null ? query.getChildText(name) : form.get(name)) ?? '';
    const account: Record<string, string> = {};
    for (const [field, key] of this.accountFields) {
      const given = value(field);
      if (given === '') throw new StanzaError('not-acceptable', `the ${field} field is required`);
      account[key] = given;
    }
    const code = form === null ? value('text') : value('code');
    const phone = value('phone');
    const outcome = await this.registrar.claim(bare, {
      phone,
      code,
      ...(this.accountFields.length > 0 ? { account } : {}),
    });
    if (outcome.kind === 'registered') return [null, this.afterRegistered(outcome)];
    // Step one of two: the code went out. not-acceptable is XEP-0077's "required data missing";
    // the error carries the form back with the code field required, the number filled in.
    const instructions = `A code was texted to ${outcome.number}. Submit the registration again with the code.`;
    const pairs = this.accountFields.map(([field, key]) => [field, account[key] ?? ''] as const);
    throw new PayloadError(
      'not-acceptable',
      `${instructions} (field "code"; legacy clients: "text")`,
      xml(
        'query',
        { xmlns: NS_REGISTER },
        xml('instructions', {}, instructions),
        xml('phone', {}, outcome.number),
        ...pairs.map(([field, given]) => xml(field, {}, given)),
        xml('text'),
        this.registrationDataForm(outcome.number, pairs, true, instructions),
      ),
    );
  }

  private afterRegistered(outcome: Extract<ClaimOutcome, { kind: 'registered' }>): Element[] {
    if (!outcome.created) return [];
    const bare = outcome.registration.jid;
    // XEP-0100 §4.1.1: after registering, the gateway asks to share presence with the user.
    return [
      xml('presence', { from: this.domain, to: bare, type: 'subscribe' }),
      this.available(this.domain, bare),
    ];
  }

  private afterRemoved(bare: string): Element[] {
    // XEP-0100 §4.3.1: the gateway ends both subscriptions and goes offline for the user.
    return [
      xml('presence', { from: this.domain, to: bare, type: 'unsubscribe' }),
      xml('presence', { from: this.domain, to: bare, type: 'unsubscribed' }),
      xml('presence', { from: this.domain, to: bare, type: 'unavailable' }),
    ];
  }

  private gatewayPrompt(): Element {
    // XEP-0100 §6.3.1.
    return xml(
      'query',
      { xmlns: NS_GATEWAY },
      xml('desc', {}, 'Enter the phone number of the contact you would like to add.'),
      xml('prompt', {}, 'Phone Number'),
    );
  }

  private gatewayJid(query: Element): Element {
    const typed = query.getChildText('prompt') ?? '';
    const number = normalizeNumber(typed, this.options.defaultCountryCode);
    if (number === null)
      throw new StanzaError('jid-malformed', `${typed || 'an empty value'} is not a phone number`);
    // XEP-0100 §6.3.2: the answer is the JID, in <jid/>.
    return xml('query', { xmlns: NS_GATEWAY }, xml('jid', {}, this.contactJid(number)));
  }

  // ---- the queue's worker ----

  /** Sends one queued SMS; a thrown ProviderError tells the queue whether to retry. */
  async processJob(job: OutboundJob): Promise<void> {
    // An opt-out may have arrived while the job waited; the gateway's own keyword replies still go.
    if (job.sender !== '' && (await this.options.registrations.isOptedOut(job.sms.to, job.sms.from))) {
      throw new ProviderError(`${job.sms.to} has opted out`, false, 'opted-out');
    }
    const started = performance.now();
    let result;
    try {
      result = await this.options.provider.send(job.sms);
    } catch (error) {
      // A refusal takes provider time too; the latency histogram counts every answer.
      this.options.metrics?.providerLatency.observe((performance.now() - started) / 1000);
      if (error instanceof ProviderError && error.code === TWILIO_OPTED_OUT) {
        // Twilio keeps its own STOP list: record the opt-out so later messages are refused before sending.
        await this.options.registrations.setOptOut(job.sms.to, job.sms.from, true);
        throw new ProviderError(
          `${job.sms.to} has opted out (STOP at the provider, ${TWILIO_OPTED_OUT})`,
          false,
          'opted-out',
        );
      }
      throw error;
    }
    this.options.metrics?.providerLatency.observe((performance.now() - started) / 1000);
    this.options.metrics?.sent.inc();
    this.options.metrics?.segments.inc(result.segments);
    if (job.sender === '' || result.providerMessageIds.length === 0) return;
    await this.options.registrations.rememberSent(
      {
        sender: job.sender,
        contact: job.contact,
        stanzaId: job.stanzaId,
        wantReceipt: job.wantReceipt,
        providerMessageIds: result.providerMessageIds,
      },
      this.reportTtlMs,
    );
    // A fast SMSC can report before the ids above were stored: replay what was parked for them.
    for (const id of result.providerMessageIds) {
      const early = this.earlyReports.get(id);
      if (early === undefined) continue;
      this.earlyReports.delete(id);
      await this.report(early.report);
    }
  }

  /** Reports that arrived before their message's ids were stored, by provider message id. */
  private readonly earlyReports = new Map<string, { report: DeliveryReport; expires: number }>();

  private parkEarlyReport(report: DeliveryReport): void {
    const now = Date.now();
    for (const [id, parked] of this.earlyReports) {
      if (parked.expires > now && this.earlyReports.size < EARLY_REPORT_LIMIT) break;
      this.earlyReports.delete(id); // oldest first: Map keeps insertion order
    }
    this.earlyReports.set(report.providerMessageId, { report, expires: now + EARLY_REPORT_TTL_MS });
  }

  /** A job failed for good: the sender gets a message error (RFC 6120 §8.3). */
  async jobFailed(failure: FailedJob): Promise<void> {
    const { job } = failure;
    this.options.metrics?.failed.inc({ reason: failure.unrecoverable ? 'refused' : 'exhausted' });
    this.log.warn({ jobId: job.id, reason: failure.reason, attempts: failure.attempts }, 'SMS failed');
    if (job.sender === '') return;
    const error = failure.reason.includes('opted out')
      ? new StanzaError('forbidden', `${job.sms.to} has opted out (STOP)`)
      : failure.unrecoverable
        ? new StanzaError(
            'not-acceptable',
            `the SMS provider refused the message: ${failure.reason}`,
            'cancel',
          )
        : new StanzaError('remote-server-timeout', `the SMS could not be sent: ${failure.reason}`);
    await this.sendError(job.contact, job.sender, job.stanzaId, error);
  }

  private async sendError(from: string, to: string, id: string, error: StanzaError): Promise<void> {
    await this.send(
      xml('message', { from, to, id: id === '' ? undefined : id, type: 'error' }, error.toElement()),
    );
  }

  // ---- provider → XMPP ----

  /** A delivery report: a XEP-0184 receipt when one was requested, a message error when the SMS failed. */
  async report(report: DeliveryReport): Promise<void> {
    this.options.metrics?.reports.inc({ status: report.status });
    if (report.status === 'unknown') return;
    const record = await this.options.registrations.takeSent(report.providerMessageId);
    if (record === null) {
      // Either the send has not finished storing its ids yet, or the message is not ours/expired.
      this.log.debug(
        { providerMessageId: report.providerMessageId },
        'report for an unknown message, parked',
      );
      this.parkEarlyReport(report);
      return;
    }
    if (report.status === 'delivered') {
      // XEP-0184 §4: the receipt names the id of the message it acknowledges.
      if (record.wantReceipt) {
        await this.send(
          xml(
            'message',
            { from: record.contact, to: record.sender },
            xml('received', { xmlns: NS_RECEIPTS, id: record.stanzaId }),
          ),
        );
      }
      return;
    }
    const detail =
      report.errorCode === undefined ? report.status : `${report.status}, code ${report.errorCode}`;
    const error =
      report.status === 'expired'
        ? new StanzaError('remote-server-timeout', `the SMS expired before delivery (${detail})`)
        : new StanzaError('recipient-unavailable', `the SMS was not delivered (${detail})`, 'cancel');
    await this.sendError(record.contact, record.sender, record.stanzaId, error);
  }

  /** An inbound SMS: a chat message to the user who registered the number, or a keyword to honour. */
  async inbound(sms: InboundSms): Promise<void> {
    const owner = await this.options.registrations.byNumber(sms.to);
    if (owner === null) {
      this.options.metrics?.inbound.inc({ kind: 'unknown-number' });
      this.log.info(
        { to: sms.to, providerMessageId: sms.providerMessageId },
        'SMS for an unregistered number dropped',
      );
      return;
    }
    const rooms = this.options.rooms;
    await rooms?.noteConversation(sms.from, sms.to);
    // YES answers a pending room invitation before it counts as the START keyword.
    if (rooms !== undefined && (await rooms.onYes(sms))) {
      this.options.metrics?.inbound.inc({ kind: 'room' });
      return;
    }
    const keyword = keywordOf(sms.text);
    if (keyword !== null) {
      this.options.metrics?.inbound.inc({ kind: keyword });
      if (keyword === 'help') await this.options.registrations.recordHelp(sms.from, sms.to, sms.receivedAt);
      else await this.options.registrations.setOptOut(sms.from, sms.to, keyword === 'stop');
      // An opted-out number leaves every room it is in.
      if (keyword === 'stop') await rooms?.optOut(sms.from);
      this.log.info({ from: sms.from, to: sms.to, keyword }, 'SMS keyword honoured');
      await this.options.queue.enqueue({
        id: `keyword-${sms.providerMessageId}`,
        sms: {
          id: `keyword-${sms.providerMessageId}`,
          from: sms.to,
          to: sms.from,
          text: this.replies[keyword],
          wantReport: false,
          ...(owner.account === undefined ? {} : { account: owner.account }),
        },
        sender: '',
        contact: this.contactJid(sms.from),
        stanzaId: '',
        wantReceipt: false,
      });
      return;
    }
    if (rooms !== undefined && (await rooms.onText(sms, owner))) {
      this.options.metrics?.inbound.inc({ kind: 'room' });
      return;
    }
    this.options.metrics?.inbound.inc({ kind: 'chat' });
    const from = this.contactJid(sms.from);
    if (sms.text.trim() !== '' || sms.media === undefined || sms.media.length === 0) {
      await this.send(
        xml(
          'message',
          { from, to: owner.jid, type: 'chat', id: `sms-${sms.providerMessageId}` },
          xml('body', {}, sms.text),
        ),
      );
    }
    // MMS media: one message per URL, body == URL plus XEP-0066, which clients show inline.
    for (const [i, url] of (sms.media ?? []).entries()) {
      await this.send(
        xml(
          'message',
          { from, to: owner.jid, type: 'chat', id: `sms-${sms.providerMessageId}-media-${i}` },
          xml('body', {}, url),
          xml('x', { xmlns: NS_OOB }, xml('url', {}, url)),
        ),
      );
    }
  }

  private send(el: Element): Promise<void> {
    return this.options.transport.send(el);
  }
}
