import { randomBytes, randomUUID } from 'node:crypto';
import type { Store } from '@switchboard/store';
import type { Logger } from '@switchboard/kit';
import { JidError, jid, parseJid, prepResourcepart, type Jid } from '@switchboard/jid';
import {
  ENVELOPE_VERSION,
  Streams,
  encodeEnvelope,
  partitionOf,
  type Envelope,
  type EnvelopeKind,
} from '@switchboard/protocol';
import type { Element } from '@switchboard/xml';
import {
  NS,
  StreamError,
  serialize,
  streamErrorElement,
  xml,
  type Attrs,
  type StreamErrorCondition,
} from '@switchboard/xml';
import type { EdgeConfig } from '../config.js';
import type { SlidingWindowLimit } from '../limits.js';
import { TokenBucket } from '../limits.js';
import type { EdgeMetrics } from '../metrics.js';
import type { BatchPublisher } from '../publisher.js';
import {
  SASL_CHANNEL_BINDING_NS,
  channelBindingFeature,
  channelBindingsOf,
  createMechanism,
  decodePayload,
  encodePayload,
  mechanismsFor,
  type ChannelBindingType,
  type LoginThrottle,
  type SaslContext,
  type SaslServer,
  type SaslStep,
  type StreamSecurity,
  type TlsChannel,
} from '../sasl/index.js';
import {
  REGISTER_FEATURE_NS,
  REGISTER_NS,
  changePassword,
  createAccount,
  registeredForm,
  registrationForm,
  submittedFields,
} from './registration.js';
import {
  StanzaError,
  StanzaStreamViolation,
  checkClientStanza,
  iqResult,
  stanzaErrorReply,
} from './stanza.js';
import type { StreamSink, Transport } from './transport.js';

const TLS_NS = 'urn:ietf:params:xml:ns:xmpp-tls';
const SASL_NS = 'urn:ietf:params:xml:ns:xmpp-sasl';
const BIND_NS = 'urn:ietf:params:xml:ns:xmpp-bind';
const SESSION_NS = 'urn:ietf:params:xml:ns:xmpp-session';

const STREAM_CONDITIONS: ReadonlySet<string> = new Set<StreamErrorCondition>([
  'bad-format',
  'bad-namespace-prefix',
  'conflict',
  'connection-timeout',
  'host-gone',
  'host-unknown',
  'improper-addressing',
  'internal-server-error',
  'invalid-from',
  'invalid-namespace',
  'invalid-xml',
  'not-authorized',
  'not-well-formed',
  'policy-violation',
  'remote-connection-failed',
  'reset',
  'resource-constraint',
  'restricted-xml',
  'see-other-host',
  'system-shutdown',
  'undefined-condition',
  'unsupported-encoding',
  'unsupported-feature',
  'unsupported-stanza-type',
  'unsupported-version',
]);

/** What every stream of one edge shares. */
export interface EdgeContext {
  readonly config: EdgeConfig;
  readonly edgeId: string;
  /** Served domains, normalized. */
  readonly domains: ReadonlySet<string>;
  readonly store: Store;
  readonly logger: Logger;
  readonly metrics: EdgeMetrics;
  readonly throttle: LoginThrottle;
  readonly registrations: SlidingWindowLimit;
  readonly fakeSaltSecret: Buffer;
  readonly publisher: BatchPublisher;
  /** The stream is gone: forget it. */
  streamClosed(stream: ClientStream): void;
}

type InputEvent = { kind: 'open'; attrs: Attrs } | { kind: 'element'; el: Element } | { kind: 'end' };

const NO_BINDINGS: readonly ChannelBindingType[] = Object.freeze([]);

/** Delivery ids remembered per session, to drop what the bus repeats after a consumer failed. */
const RECENT_DELIVERIES = 1024;

/** Remembers the last `capacity` ids, to drop deliveries the at-least-once bus repeats. */
class RecentIds {
  private readonly set = new Set<string>();
  constructor(private readonly capacity: number) {}
  /** True when `id` was already seen; records it otherwise. */
  seen(id: string): boolean {
    if (this.set.has(id)) return true;
    this.set.add(id);
    if (this.set.size > this.capacity) {
      const oldest = this.set.values().next();
      if (oldest.done !== true) this.set.delete(oldest.value);
    }
    return false;
  }
}

/**
 * One client connection through its streams (RFC 6120 §4): header checks, STARTTLS, SASL,
 * in-band registration, resource binding, then stanzas checked, stamped and published.
 * Input is handled strictly in order; while an asynchronous step runs (SASL, store) later
 * input waits in `inbox`.
 */
export class ClientStream implements StreamSink {
  readonly sessionId = randomUUID();
  readonly connectedAt = Date.now();
  lastInput = Date.now();
  lastOutput = Date.now();
  private streamId = '';
  private domain: string;
  private headerSent = false;
  private closing = false;
  private finished = false;
  private localpart: string | null = null;
  private full: Jid | null = null;
  private sasl: SaslServer | null = null;
  private saslFailures = 0;
  private channel: TlsChannel | null = null;
  private bindings: readonly ChannelBindingType[] = NO_BINDINGS;
  private readonly inbox: InputEvent[] = [];
  private busy = false;
  private readonly stanzaBucket: TokenBucket;
  private readonly byteBucket: TokenBucket;
  /** Created on the first delivery or close order, not with every stream. */
  private deliveredIds: RecentIds | null = null;
  private closeTimer: NodeJS.Timeout | undefined;
  private resolveClosed!: () => void;
  /** Resolves when the connection is gone and session-end (if any) is queued. */
  readonly closed = new Promise<void>((resolve) => {
    this.resolveClosed = resolve;
  });

  constructor(
    private readonly ctx: EdgeContext,
    readonly transport: Transport,
  ) {
    const limits = ctx.config.limits;
    this.stanzaBucket = new TokenBucket(limits.stanzasPerSecond, limits.stanzaBurst);
    this.byteBucket = new TokenBucket(limits.bytesPerSecond, limits.bytesBurst);
    this.domain = [...ctx.domains][0] ?? 'localhost';
    this.refreshTls();
    transport.attach(this);
  }

  /** Made per message: a few lines per session are logged, and an idle stream should not hold a logger. */
  private get log(): Logger {
    return this.ctx.logger.child({ sessionId: this.sessionId, transport: this.transport.kind });
  }

  /** The bound full JID, null before resource binding. */
  get jid(): Jid | null {
    return this.full;
  }

  get authenticated(): boolean {
    return this.localpart !== null;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  // ---- input from the transport ----

  onBytes(count: number): boolean {
    if (this.closing) return false;
    this.lastInput = Date.now();
    this.ctx.metrics.bytesIn.inc({ transport: this.transport.kind }, count);
    if (!this.byteBucket.take(count)) {
      this.streamError('policy-violation', 'too many bytes per second');
      return false;
    }
    return true;
  }

  onOpen(attrs: Attrs): void {
    this.enqueue({ kind: 'open', attrs });
  }

  onElement(el: Element): void {
    if (this.closing) return;
    if (!this.stanzaBucket.take(1)) {
      this.streamError('policy-violation', 'too many stanzas per second');
      return;
    }
    this.enqueue({ kind: 'element', el });
  }

  onStreamEnd(): void {
    this.enqueue({ kind: 'end' });
  }

  onParseError(error: StreamError): void {
    this.ctx.metrics.parseErrors.inc({ condition: error.condition });
    this.streamError(error.condition, error.text);
  }

  onFault(error: unknown): void {
    this.fault(error);
  }

  onDisconnect(): void {
    this.finish();
  }

  private enqueue(event: InputEvent): void {
    if (this.closing) return;
    if (this.busy) {
      this.inbox.push(event);
      return;
    }
    this.run(event);
  }

  private run(event: InputEvent): void {
    let pending: Promise<void> | undefined;
    try {
      pending = this.handle(event);
    } catch (error) {
      this.fault(error);
      return;
    }
    if (pending === undefined) return;
    this.busy = true;
    pending.then(
      () => this.resume(),
      (error: unknown) => {
        this.busy = false;
        this.fault(error);
      },
    );
  }

  private resume(): void {
    this.busy = false;
    while (!this.busy && !this.closing) {
      const next = this.inbox.shift();
      if (next === undefined) break;
      this.run(next);
    }
  }

  private fault(error: unknown): void {
    if (error instanceof StanzaStreamViolation) {
      this.streamError(error.condition, error.text);
      return;
    }
    if (error instanceof StreamError) {
      this.streamError(error.condition, error.text);
      return;
    }
    this.log.error({ err: error }, 'stream failed');
    this.streamError('internal-server-error');
  }

  private handle(event: InputEvent): Promise<void> | undefined {
    switch (event.kind) {
      case 'open':
        this.handleOpen(event.attrs);
        return undefined;
      case 'end':
        // RFC 6120 §4.4: answer the close with ours, then the connection ends.
        this.closeStream();
        return undefined;
      case 'element':
        return this.handleElement(event.el);
    }
  }

  // ---- stream header and features ----

  private handleOpen(attrs: Attrs): void {
    this.streamId = randomBytes(12).toString('base64url');
    const to = attrs['to'];
    const requested = to === undefined ? null : normalizedDomain(to);
    const served = requested !== null && this.ctx.domains.has(requested);
    if (served && this.localpart === null) this.domain = requested;
    const header: Record<string, string> = {
      xmlns: NS.CLIENT,
      id: this.streamId,
      from: this.domain,
      version: '1.0',
      'xml:lang': 'en',
    };
    const from = attrs['from'];
    // RFC 6120 §4.7.2: echo the client's 'from' as 'to'.
    if (from !== undefined && safeJid(from) !== null) header['to'] = from;
    // RFC 6120 §4.9.1.1: the response header goes out before any stream error.
    this.transport.sendOpen(header);
    this.headerSent = true;

    if (this.transport.kind !== 'websocket' && attrs['xmlns'] !== NS.CLIENT) {
      return this.streamError('invalid-namespace', 'the content namespace must be jabber:client'); // §4.9.3.10
    }
    const version = attrs['version'];
    const match = version === undefined ? null : /^(\d+)\.(\d+)$/.exec(version);
    if (match === null || Number(match[1]) !== 1) {
      // RFC 6120 §4.7.5: we speak 1.0 only; a peer without 'version' speaks a pre-1.0 protocol.
      return this.streamError('unsupported-version', 'version 1.0 is required');
    }
    if (!served || (this.localpart !== null && requested !== this.domain)) {
      return this.streamError('host-unknown', undefined); // RFC 6120 §4.9.3.6
    }
    this.sendFeatures();
  }

  private security(): StreamSecurity {
    const secure = this.transport.isSecure();
    return {
      tls: this.channel !== null,
      bindings: this.bindings,
      // TLS ends at a proxy the config vouches for: PLAIN is as safe as over our own TLS.
      allowPlaintextPlain: secure && this.channel === null,
    };
  }

  private sendFeatures(): void {
    const features = xml('stream:features', { 'xmlns:stream': NS.STREAMS });
    const config = this.ctx.config;
    if (this.localpart === null) {
      const secure = this.transport.isSecure();
      if (!secure && this.transport.canStartTls()) {
        // RFC 6120 §5.3.1: mandatory-to-negotiate when we refuse to go on without it.
        features.append(xml('starttls', { xmlns: TLS_NS }, config.requireTls ? xml('required') : undefined));
      }
      if (secure || !config.requireTls) {
        const security = this.security();
        features.append(
          xml(
            'mechanisms',
            { xmlns: SASL_NS },
            mechanismsFor(security).map((m) => xml('mechanism', {}, m)),
          ),
        );
        const cb = channelBindingFeature(security);
        if (cb.length > 0) {
          // XEP-0440 §3.
          features.append(
            xml(
              'sasl-channel-binding',
              { xmlns: SASL_CHANNEL_BINDING_NS },
              cb.map((type) => xml('channel-binding', { type })),
            ),
          );
        }
        if (config.registration.enabled) features.append(xml('register', { xmlns: REGISTER_FEATURE_NS }));
      }
    } else if (this.full === null) {
      // RFC 6120 §7.4; RFC 3921 §3 session establishment, optional per rfc3921bis.
      features.append(
        xml('bind', { xmlns: BIND_NS }),
        xml('session', { xmlns: SESSION_NS }, xml('optional')),
        // What the router implements: RFC 6121 §2.6.1 roster versioning, §3.4.1 pre-approval.
        xml('ver', { xmlns: 'urn:xmpp:features:rosterver' }),
        xml('sub', { xmlns: 'urn:xmpp:features:pre-approval' }),
      );
    }
    this.send(features);
  }

  private refreshTls(): void {
    const socket = this.transport.tlsSocket();
    if (socket === null) {
      this.channel = null;
      this.bindings = NO_BINDINGS;
      return;
    }
    const { channel, bindings } = channelBindingsOf(socket);
    this.channel = channel;
    this.bindings = bindings;
  }

  // ---- elements ----

  private handleElement(el: Element): Promise<void> | undefined {
    if (this.localpart === null) return this.beforeAuth(el);
    if (this.full === null) return this.beforeBind(el);
    return this.afterBind(el);
  }

  private beforeAuth(el: Element): Promise<void> | undefined {
    const ns = el.getNS();
    if (el.is('starttls', TLS_NS)) {
      this.startTls();
      return undefined;
    }
    if (ns === SASL_NS) return this.saslElement(el);
    if (el.is('iq', NS.CLIENT) && el.getChild('query', REGISTER_NS) !== undefined)
      return this.registerBeforeAuth(el);
    // RFC 6120 §4.9.3.12: nothing else before authentication.
    throw new StanzaStreamViolation('not-authorized', 'authenticate first');
  }

  private startTls(): void {
    if (!this.transport.canStartTls()) {
      // RFC 6120 §5.4.2.2: failure, then the stream closes.
      this.send(xml('failure', { xmlns: TLS_NS }));
      this.closeStream();
      return;
    }
    this.send(xml('proceed', { xmlns: TLS_NS }));
    this.headerSent = false;
    this.transport.startTls(() => {
      this.refreshTls();
      this.log.debug({ protocol: this.transport.tlsSocket()?.getProtocol() }, 'tls established');
    });
  }

  private saslContext(): SaslContext {
    const store = this.ctx.store;
    const domain = this.domain;
    const security = this.security();
    return {
      lookup: async (username) => (await store.accounts.get(`${username}@${domain}`))?.credentials ?? null,
      domain,
      tls: this.channel,
      bindings: this.bindings,
      fakeSaltSecret: this.ctx.fakeSaltSecret,
      ...(security.allowPlaintextPlain === true ? { allowPlaintextPlain: true } : {}),
      throttle: { limiter: this.ctx.throttle, ip: this.transport.remoteAddress },
    };
  }

  private async saslElement(el: Element): Promise<void> {
    const name = el.getName();
    let step: SaslStep;
    if (name === 'auth') {
      if (this.ctx.config.requireTls && !this.transport.isSecure()) {
        // RFC 6120 §6.4.5 encryption-required; §5.3.1 TLS comes first when it is required.
        return this.saslResult({ kind: 'failure', condition: 'encryption-required' });
      }
      this.sasl = createMechanism(el.attrs['mechanism'] ?? '', this.saslContext());
      const payload = decodePayload(el.getText());
      step = 'ok' in payload ? await this.sasl.start(payload.data) : payload;
    } else if (name === 'response' && this.sasl !== null) {
      const payload = decodePayload(el.getText());
      if (!('ok' in payload)) step = payload;
      else if (payload.data === null) step = await this.sasl.step(Buffer.alloc(0));
      else step = await this.sasl.step(payload.data);
    } else if (name === 'abort' && this.sasl !== null) {
      step = this.sasl.abort();
    } else {
      // A response or abort without an exchange, or an element SASL does not define.
      step = { kind: 'failure', condition: 'malformed-request' };
    }
    this.saslResult(step);
  }

  private saslResult(step: SaslStep): void {
    if (this.closing) return;
    switch (step.kind) {
      case 'challenge':
        this.send(xml('challenge', { xmlns: SASL_NS }, encodePayload(step.data)));
        return;
      case 'success': {
        this.sasl = null;
        // Channel binding only serves SASL; an authenticated stream never negotiates again.
        this.channel = null;
        this.bindings = NO_BINDINGS;
        this.localpart = step.username;
        this.ctx.metrics.logins.inc({ result: 'ok' });
        this.log.info({ user: `${step.username}@${this.domain}` }, 'authenticated');
        this.send(xml('success', { xmlns: SASL_NS }, encodePayload(step.data)));
        // RFC 6120 §6.4.6: a new stream follows; nothing the client sent before it counts.
        this.headerSent = false;
        this.transport.restart();
        return;
      }
      case 'failure': {
        this.sasl = null;
        this.saslFailures++;
        this.ctx.metrics.logins.inc({ result: 'failed' });
        this.send(
          xml(
            'failure',
            { xmlns: SASL_NS },
            xml(step.condition),
            step.text === undefined ? undefined : xml('text', { 'xml:lang': 'en' }, step.text),
          ),
        );
        // RFC 6120 §6.4.5: a configurable number of retries, then the stream is closed.
        if (this.saslFailures >= this.ctx.config.sasl.maxFailures) {
          this.streamError('policy-violation', 'too many failed authentication attempts');
        }
        return;
      }
    }
  }

  private async registerBeforeAuth(iq: Element): Promise<void> {
    const config = this.ctx.config;
    const type = iq.attrs['type'];
    if (!config.registration.enabled) return this.replyError(iq, new StanzaError('service-unavailable'));
    if (config.requireTls && !this.transport.isSecure()) {
      // Passwords travel in the form: only inside TLS when TLS is required.
      return this.replyError(iq, new StanzaError('not-authorized', 'negotiate TLS first'));
    }
    if (type === 'get') {
      this.send(iqResult(iq, undefined, undefined, registrationForm()));
      return;
    }
    if (type !== 'set') return this.replyError(iq, new StanzaError('bad-request'));
    const query = iq.getChild('query', REGISTER_NS)!;
    try {
      const fields = submittedFields(query);
      if (!this.ctx.registrations.tryRecord(this.transport.remoteAddress)) {
        throw new StanzaError('policy-violation', 'too many registrations from this address');
      }
      const localpart = await createAccount(this.ctx.store, this.domain, fields);
      this.ctx.metrics.registrations.inc({ result: 'ok' });
      this.log.info({ user: `${localpart}@${this.domain}` }, 'account registered');
      this.send(iqResult(iq, undefined, undefined));
    } catch (error) {
      if (!(error instanceof StanzaError)) throw error;
      this.ctx.metrics.registrations.inc({ result: error.condition });
      this.replyError(iq, error);
    }
  }

  private beforeBind(el: Element): Promise<void> | undefined {
    if (el.is('iq', NS.CLIENT)) {
      const type = el.attrs['type'];
      if (type === 'set' && el.getChild('bind', BIND_NS) !== undefined) return this.bind(el);
      if (type === 'set' && el.getChild('session', SESSION_NS) !== undefined) {
        this.send(iqResult(el, undefined, undefined));
        return undefined;
      }
      if (el.getChild('query', REGISTER_NS) !== undefined) return this.registerAfterAuth(el);
    }
    // RFC 6120 §7.1: stanzas only flow once a resource is bound.
    throw new StanzaStreamViolation('not-authorized', 'bind a resource first');
  }

  private bind(iq: Element): Promise<void> | undefined {
    const localpart = this.localpart!;
    const requested = iq.getChild('bind', BIND_NS)?.getChildText('resource')?.trim() ?? '';
    let resource: string;
    if (requested === '') {
      // RFC 6120 §7.6: the server generates the resource.
      resource = randomBytes(9).toString('base64url');
    } else {
      try {
        resource = prepResourcepart(requested);
      } catch (error) {
        if (!(error instanceof JidError)) throw error;
        this.replyError(iq, new StanzaError('bad-request', 'the resource is not valid')); // RFC 6120 §7.7.2.1
        return undefined;
      }
    }
    const full = jid(localpart, this.domain, resource);
    this.full = full;
    this.publishSessionEvent('session-start');
    this.log.info({ jid: full.toString() }, 'resource bound');
    this.send(
      iqResult(iq, undefined, undefined, xml('bind', { xmlns: BIND_NS }, xml('jid', {}, full.toString()))),
    );
    return undefined;
  }

  private async registerAfterAuth(iq: Element): Promise<void> {
    const localpart = this.localpart!;
    const bare = `${localpart}@${this.domain}`;
    const to = iq.attrs['to'];
    if (to !== undefined && normalizedDomain(to) !== this.domain) {
      throw new StanzaStreamViolation('not-authorized', 'bind a resource first');
    }
    const type = iq.attrs['type'];
    if (type === 'get') {
      this.send(iqResult(iq, undefined, this.full?.toString(), registeredForm(localpart)));
      return;
    }
    if (type !== 'set') return this.replyError(iq, new StanzaError('bad-request'));
    const query = iq.getChild('query', REGISTER_NS)!;
    try {
      if (query.getChild('remove') !== undefined) {
        // XEP-0077 §3.2: result first, then the stream of the removed account closes.
        await this.ctx.store.accounts.delete(bare);
        this.log.info({ user: bare }, 'account removed');
        this.send(iqResult(iq, undefined, this.full?.toString()));
        this.streamError('not-authorized', 'the account was removed');
        return;
      }
      await changePassword(this.ctx.store, bare, localpart, submittedFields(query));
      this.log.info({ user: bare }, 'password changed');
      this.send(iqResult(iq, undefined, this.full?.toString()));
    } catch (error) {
      if (!(error instanceof StanzaError)) throw error;
      this.replyError(iq, error);
    }
  }

  private afterBind(el: Element): Promise<void> | undefined {
    const full = this.full!;
    let checked;
    try {
      checked = checkClientStanza(el, full);
    } catch (error) {
      if (error instanceof StanzaError) {
        this.replyError(el, error);
        return undefined;
      }
      throw error;
    }
    this.ctx.metrics.stanzasIn.inc({ kind: checked.kind });
    if (
      checked.kind === 'iq' &&
      (checked.to === '' || checked.to === this.domain) &&
      checked.type === 'set'
    ) {
      if (el.getChild('session', SESSION_NS) !== undefined) {
        this.send(iqResult(el, undefined, full.toString()));
        return undefined;
      }
      if (el.getChild('bind', BIND_NS) !== undefined) {
        // One resource per stream; RFC 6120 §7.7.2.4 style refusal.
        this.replyError(el, new StanzaError('not-allowed', 'a resource is already bound'));
        return undefined;
      }
    }
    if (
      checked.kind === 'iq' &&
      (checked.to === '' || checked.to === this.domain) &&
      el.getChild('query', REGISTER_NS)
    ) {
      return this.registerAfterAuth(el);
    }
    this.publish(checked.kind, checked.to, checked.type, checked.id, serialize(el));
    return undefined;
  }

  // ---- bus ----

  private publish(kind: EnvelopeKind, to: string, type: string, stanzaId: string, stanza: string): void {
    const full = this.full!;
    const bare = full.bare().toString();
    const envelope: Envelope = {
      v: ENVELOPE_VERSION,
      id: randomUUID(),
      kind,
      edgeId: this.ctx.edgeId,
      sessionId: this.sessionId,
      from: full.toString(),
      to,
      type,
      stanzaId,
      xml: stanza,
      ts: Date.now(),
    };
    this.ctx.publisher.enqueue(
      Streams.route(partitionOf(bare, this.ctx.config.partitions)),
      encodeEnvelope(envelope),
    );
  }

  private publishSessionEvent(kind: 'session-start' | 'session-end'): void {
    this.publish(kind, '', '', '', '');
  }

  /** Writes a delivery from `deliver:{edgeId}`; repeated ids are dropped (at-least-once bus). */
  deliver(id: string, stanza: string): boolean {
    if (this.closing || this.seenDelivery(id)) return false;
    this.transport.sendElement(stanza);
    this.lastOutput = Date.now();
    this.ctx.metrics.stanzasOut.inc();
    this.ctx.metrics.bytesOut.inc(Buffer.byteLength(stanza));
    return true;
  }

  private seenDelivery(id: string): boolean {
    return (this.deliveredIds ??= new RecentIds(RECENT_DELIVERIES)).seen(id);
  }

  /** Output of one delivery batch goes out together (see Transport.cork). */
  cork(): void {
    this.transport.cork();
  }

  uncork(): void {
    this.transport.uncork();
  }

  /** A close order from the router (conflict, account removed, …). */
  closeByOrder(id: string, condition: string, text: string): void {
    if (this.seenDelivery(id)) return;
    const known = STREAM_CONDITIONS.has(condition)
      ? (condition as StreamErrorCondition)
      : 'undefined-condition';
    this.streamError(known, text === '' ? undefined : text);
  }

  // ---- output and closing ----

  private send(el: Element): void {
    if (this.closing) return;
    this.transport.sendElement(serialize(el));
    this.lastOutput = Date.now();
  }

  private replyError(stanza: Element, error: StanzaError): void {
    const reply = stanzaErrorReply(stanza, error, this.full?.toString() ?? null);
    if (reply !== null) this.send(reply);
  }

  sendKeepalive(): void {
    if (this.closing) return;
    this.transport.sendKeepalive();
    this.lastOutput = Date.now();
  }

  /** RFC 6120 §4.9: the error, the closing tag, then the connection ends. */
  streamError(condition: StreamErrorCondition, text?: string, host?: string): void {
    if (this.closing) return;
    if (!this.headerSent) {
      this.transport.sendOpen({
        xmlns: NS.CLIENT,
        id: randomBytes(12).toString('base64url'),
        from: this.domain,
        version: '1.0',
      });
      this.headerSent = true;
    }
    this.ctx.metrics.streamErrors.inc({ condition });
    this.log.info({ condition, text }, 'stream error');
    this.transport.sendElement(
      serialize(
        streamErrorElement(condition, text, host === undefined ? { lang: 'en' } : { lang: 'en', host }),
      ),
    );
    this.closeStream();
  }

  /** Sends our closing tag and ends the connection once written; cut off if the peer lingers. */
  closeStream(): void {
    if (this.closing) return;
    this.closing = true;
    this.inbox.length = 0;
    this.transport.sendClose();
    this.transport.end();
    this.endSession();
    this.closeTimer = setTimeout(() => this.transport.destroy(), 2000);
    this.closeTimer.unref();
  }

  private endSession(): void {
    if (this.full !== null && !this.finished) {
      this.finished = true;
      this.publishSessionEvent('session-end');
    }
  }

  private finish(): void {
    this.closing = true;
    this.inbox.length = 0;
    this.endSession();
    this.finished = true;
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.ctx.streamClosed(this);
    this.resolveClosed();
  }

  /** Cuts the connection at once (end of drain). */
  destroy(): void {
    this.transport.destroy();
  }
}

function safeJid(value: string): Jid | null {
  try {
    return parseJid(value);
  } catch (error) {
    if (error instanceof JidError) return null;
    throw error;
  }
}

/** The domain a stream header's 'to' names, normalized; null when it is not a bare domain. */
function normalizedDomain(value: string): string | null {
  const parsed = safeJid(value);
  return parsed !== null && parsed.local === '' && parsed.resource === '' ? parsed.domain : null;
}
