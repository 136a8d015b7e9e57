import { randomBytes, randomUUID } from 'node:crypto';
import type { Store } from '@switchboard/store';
import type { Logger } from '@switchboard/kit';
import { JidError, jid, parseJid, prepResourcepart, type Jid } from '@switchboard/jid';
import {
  ENVELOPE_VERSION,
  Streams,
  encodeDelivery,
  encodeEnvelope,
  partitionOf,
  type Envelope,
  type EnvelopeKind,
} from '@switchboard/protocol';
import type { Element } from '@switchboard/xml';
import {
  NS,
  parseElement,
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
import { SM_NS, aheadOf, newlyAcked, parseH, wireCount } from '../sm/counter.js';
import type { ResumptionStore, UnackedStanza } from '../sm/store.js';
import {
  FAST_MECHANISMS,
  FAST_NS,
  HtSha256NoneServer,
  invalidateTokens,
  issueToken,
  type FastOptions,
  type FastTokenStore,
} from '../sasl/fast.js';
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
import { CSI_NS, CsiBuffer } from './csi.js';
import type { StreamSink, Transport } from './transport.js';

const TLS_NS = 'urn:ietf:params:xml:ns:xmpp-tls';
const SASL_NS = 'urn:ietf:params:xml:ns:xmpp-sasl';
const BIND_NS = 'urn:ietf:params:xml:ns:xmpp-bind';
const SESSION_NS = 'urn:ietf:params:xml:ns:xmpp-session';
/** XEP-0388 Extensible SASL Profile. */
const SASL2_NS = 'urn:xmpp:sasl:2';
/** XEP-0386 Bind 2. */
const BIND2_NS = 'urn:xmpp:bind:0';

/** What a XEP-0388 `<authenticate/>` asked for besides authentication. */
interface Sasl2Request {
  /** XEP-0388 §2.3 user-agent id: FAST tokens are bound to it. */
  readonly agentId: string | null;
  /** XEP-0386 inline bind request. */
  readonly bind: Element | null;
  /** XEP-0198 inline resumption. */
  readonly resume: Element | null;
  /** XEP-0484 token request: the mechanism the token is for. */
  readonly requestToken: string | null;
  readonly invalidateToken: boolean;
}

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
  /** XEP-0198 state that outlives the connection (Redis in the cluster). */
  readonly resumption: ResumptionStore;
  /** XEP-0484 FAST tokens (ids only; secrets derive from `fakeSaltSecret`). */
  readonly fastTokens: FastTokenStore;
  /** The stream is gone: forget it. */
  streamClosed(stream: ClientStream): void;
  /** The connection is gone but the session waits for resumption (XEP-0198 §5): keep delivering to it. */
  streamDetached(stream: ClientStream): void;
  /**
   * `stream` resumed the session now named by its `sessionId` (it was `previousKey`): deliveries
   * for the session go to it, and a copy held on this edge before is retired.
   */
  adoptSession(stream: ClientStream, previousKey: string): void;
}

/** Stream management counters of a stream that enabled it (XEP-0198 §4), unwrapped. */
interface SmState {
  /** Fences our writes to the resumption store. */
  epoch: number;
  /** Stanzas handled from the client. */
  inbound: number;
  /** Stanzas counted towards the client (sent, or queued while detached). */
  sent: number;
  /** Of those, acknowledged by the client. */
  acked: number;
  resumable: boolean;
  maxSeconds: number;
  /** `sent` when we last sent `<r/>`. */
  requestedAt: number;
  /** When we last wrote a stanza, for the delayed ack request. */
  lastWrite: number;
}

/** Where a session is in its life (XEP-0198 §5 adds 'detached'). */
type Lifecycle = 'attached' | 'detached' | 'retired';

/** Idle streams share one settled promise instead of holding their own (memory per connection). */
const SETTLED: Promise<void> = Promise.resolve();

/** Resumption state of an attached stream outlives it by this much after the last write. */
const ATTACHED_TTL_MS = 24 * 3600_000;

/** Extra lifetime of a detached session's Redis keys beyond its timeout, so the edge ends it before they expire. */
const DETACHED_TTL_MARGIN_MS = 120_000;

function isStanzaName(name: string): name is 'message' | 'presence' | 'iq' {
  return name === 'message' || name === 'presence' || name === 'iq';
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
  /** The session's id; a stream that resumes a session (XEP-0198 §5) takes the id of that session. */
  sessionId: string = randomUUID();
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
  private sasl2: Sasl2Request | null = null;
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
  private sm: SmState | null = null;
  /** Counters of an `<enabled/>` about to be sent. */
  private pendingSm: SmState | null = null;
  private lifecycle: Lifecycle = 'attached';
  /** Stanzas counted for stream management and not yet written to the resumption store. */
  private pushes: UnackedStanza[] | null = null;
  private pushScheduled = false;
  /** Resumption store operations of this stream, in order. */
  private storeOps: Promise<void> = SETTLED;
  private detachTimer: NodeJS.Timeout | undefined;
  /** Set by a shutdown that keeps resumable sessions for resumption elsewhere (drain, idle timeout). */
  private detachOnClose = false;
  /** Set when the session must end with the connection whatever it enabled (edge closing). */
  private noDetach = false;
  private finalized = false;
  /** Non-null while the client is inactive (XEP-0352). */
  private csi: CsiBuffer | null = null;
  private resolveClosed!: () => void;
  /** Resolves when the stream is finished: its session ended (session-end queued), detached and expired, or moved. */
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
    // XEP-0198 acks answer our own requests: they cost no stanza budget (the byte limit still applies).
    if (!(el.getName() === 'a' && el.getNS() === SM_NS) && !this.stanzaBucket.take(1)) {
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
        if (config.sasl2.enabled) features.append(this.sasl2Feature(security));
        if (config.registration.enabled) features.append(xml('register', { xmlns: REGISTER_FEATURE_NS }));
      }
    } else if (this.full !== null) {
      // XEP-0388: no restart after SASL2 success, so the bound stream gets fresh features.
      if (config.streamManagement.enabled && this.sm === null) features.append(xml('sm', { xmlns: SM_NS }));
      if (config.csi.enabled) features.append(xml('csi', { xmlns: CSI_NS }));
    } else {
      // RFC 6120 §7.4; RFC 3921 §3 session establishment, optional per rfc3921bis.
      features.append(
        xml('bind', { xmlns: BIND_NS }),
        xml('session', { xmlns: SESSION_NS }, xml('optional')),
        // What the router implements: RFC 6121 §2.6.1 roster versioning, §3.4.1 pre-approval.
        xml('ver', { xmlns: 'urn:xmpp:features:rosterver' }),
        xml('sub', { xmlns: 'urn:xmpp:features:pre-approval' }),
      );
      // XEP-0198 §3 and XEP-0352 §4: offered with resource binding.
      if (config.streamManagement.enabled) features.append(xml('sm', { xmlns: SM_NS }));
      if (config.csi.enabled) features.append(xml('csi', { xmlns: CSI_NS }));
    }
    this.send(features);
  }

  /** XEP-0388 §2.1 `<authentication/>`, with what may be done inline (XEP-0386, XEP-0198, XEP-0484). */
  private sasl2Feature(security: StreamSecurity): Element {
    const config = this.ctx.config;
    const bindInline: Element[] = [];
    if (config.streamManagement.enabled) bindInline.push(xml('feature', { var: SM_NS }));
    if (config.csi.enabled) bindInline.push(xml('feature', { var: CSI_NS }));
    const inline: Element[] = [xml('bind', { xmlns: BIND2_NS }, xml('inline', {}, ...bindInline))];
    if (config.streamManagement.enabled) inline.push(xml('sm', { xmlns: SM_NS }));
    if (config.fast.enabled)
      inline.push(
        xml(
          'fast',
          { xmlns: FAST_NS },
          FAST_MECHANISMS.map((m) => xml('mechanism', {}, m)),
        ),
      );
    return xml(
      'authentication',
      { xmlns: SASL2_NS },
      ...mechanismsFor(security).map((m) => xml('mechanism', {}, m)),
      xml('inline', {}, ...inline),
    );
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
    if (ns === SASL2_NS && this.ctx.config.sasl2.enabled) return this.sasl2Element(el);
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

  // ---- XEP-0388 SASL2, with XEP-0386 Bind 2, inline XEP-0198 and XEP-0484 FAST ----

  private fastOptions(agentId: string): FastOptions {
    return {
      tokens: this.ctx.fastTokens,
      secret: this.ctx.fakeSaltSecret,
      agentId,
      lifetimeMs: this.ctx.config.fast.tokenLifetimeDays * 86_400_000,
    };
  }

  private async sasl2Element(el: Element): Promise<void> {
    const name = el.getName();
    let step: SaslStep;
    if (name === 'authenticate') {
      if (this.ctx.config.requireTls && !this.transport.isSecure()) {
        return this.sasl2Result({ kind: 'failure', condition: 'encryption-required' });
      }
      const mechanism = el.attrs['mechanism'] ?? '';
      const agentId = el.getChild('user-agent')?.attrs['id'] ?? null;
      const fast = el.getChild('fast', FAST_NS);
      const invalidate = fast?.attrs['invalidate'];
      this.sasl2 = {
        agentId,
        bind: el.getChild('bind', BIND2_NS) ?? null,
        resume: el.getChild('resume', SM_NS) ?? null,
        requestToken: el.getChild('request-token', FAST_NS)?.attrs['mechanism'] ?? null,
        invalidateToken: invalidate === 'true' || invalidate === '1',
      };
      if ((FAST_MECHANISMS as readonly string[]).includes(mechanism)) {
        if (!this.ctx.config.fast.enabled || agentId === null) {
          // XEP-0484 §3: tokens are bound to a user-agent id.
          return this.sasl2Result({ kind: 'failure', condition: 'invalid-mechanism' });
        }
        this.sasl = new HtSha256NoneServer(this.saslContext(), this.fastOptions(agentId));
      } else {
        this.sasl = createMechanism(mechanism, this.saslContext());
      }
      const initial = el.getChild('initial-response');
      const payload =
        initial === undefined ? { ok: true as const, data: null } : decodePayload(initial.getText());
      step = 'ok' in payload ? await this.sasl.start(payload.data) : payload;
    } else if (name === 'response' && this.sasl !== null) {
      const payload = decodePayload(el.getText());
      if (!('ok' in payload)) step = payload;
      else step = await this.sasl.step(payload.data ?? Buffer.alloc(0));
    } else if (name === 'abort' && this.sasl !== null) {
      step = this.sasl.abort();
    } else {
      step = { kind: 'failure', condition: 'malformed-request' };
    }
    await this.sasl2Result(step);
  }

  private async sasl2Result(step: SaslStep): Promise<void> {
    if (this.closing) return;
    if (step.kind === 'challenge') {
      this.send(xml('challenge', { xmlns: SASL2_NS }, encodePayload(step.data)));
      return;
    }
    if (step.kind === 'failure') {
      this.sasl = null;
      this.saslFailures++;
      this.ctx.metrics.logins.inc({ result: 'failed' });
      // XEP-0388 §2.6.2: the RFC 6120 condition, in its namespace.
      this.send(
        xml(
          'failure',
          { xmlns: SASL2_NS },
          xml(step.condition, { xmlns: SASL_NS }),
          step.text === undefined ? undefined : xml('text', {}, step.text),
        ),
      );
      if (this.saslFailures >= this.ctx.config.sasl.maxFailures) {
        this.streamError('policy-violation', 'too many failed authentication attempts');
      }
      return;
    }
    const used = this.sasl instanceof HtSha256NoneServer ? this.sasl.used : null;
    const request = this.sasl2!;
    this.sasl = null;
    this.sasl2 = null;
    this.channel = null;
    this.bindings = NO_BINDINGS;
    this.localpart = step.username;
    const bare = `${step.username}@${this.domain}`;
    this.ctx.metrics.logins.inc({ result: 'ok' });
    this.log.info({ user: bare, mechanism: used === null ? 'password' : 'fast' }, 'authenticated');

    const inline: Element[] = [];
    // XEP-0484 §4: a token on request, and a fresh one when a half-spent token is used (§5 rotation).
    const fast = this.ctx.config.fast;
    if (fast.enabled && request.agentId !== null) {
      const options = this.fastOptions(request.agentId);
      const halfLife = (fast.tokenLifetimeDays * 86_400_000) / 2;
      const rotate = used !== null && (!used.current || Date.now() - used.token.issuedAt > halfLife);
      const wanted = request.requestToken ?? (rotate ? used.token.mechanism : null);
      if (request.invalidateToken) {
        await invalidateTokens(options, bare);
      } else if (wanted !== null && (FAST_MECHANISMS as readonly string[]).includes(wanted)) {
        const issued = await issueToken(options, bare, wanted);
        inline.push(
          xml('token', {
            xmlns: FAST_NS,
            token: issued.token,
            expiry: new Date(issued.expiresAt).toISOString(),
          }),
        );
      }
    }

    let afterSuccess: (() => void) | null = null;
    let resumed = false;
    if (request.resume !== null && this.ctx.config.streamManagement.enabled) {
      const outcome = await this.takeSession(request.resume);
      inline.push(outcome.element);
      if (outcome.kind === 'resumed') {
        resumed = true;
        afterSuccess = outcome.finish;
      }
    }
    if (!resumed && request.bind !== null && !this.closing) {
      inline.push(await this.bind2(request.bind));
    }
    if (this.closing) return;
    const identity = this.full?.toString() ?? bare;
    // XEP-0388 §2.6.1: success, with the authorization identifier and what was done inline.
    this.send(
      xml(
        'success',
        { xmlns: SASL2_NS },
        step.data === undefined ? undefined : xml('additional-data', {}, encodePayload(step.data)),
        xml('authorization-identifier', {}, identity),
        ...inline,
      ),
    );
    if (this.pendingSm !== null) {
      // XEP-0198 §4: counting starts with the <enabled/> just sent.
      this.sm = this.pendingSm;
      this.pendingSm = null;
    }
    if (afterSuccess !== null) afterSuccess();
    // XEP-0388: no stream restart; the features of the authenticated stream follow.
    this.sendFeatures();
  }

  /** XEP-0386 §2.4: binds a resource from the client's tag, with the inline features it asked for. */
  private async bind2(request: Element): Promise<Element> {
    const tag = request.getChildText('tag')?.trim() ?? '';
    let resource = '';
    if (tag !== '') {
      try {
        resource = prepResourcepart(tag);
      } catch (error) {
        if (!(error instanceof JidError)) throw error;
      }
    }
    // The tag is the resource when it is one; otherwise the server makes one up (RFC 6120 §7.6).
    if (resource === '') resource = randomBytes(9).toString('base64url');
    const full = jid(this.localpart!, this.domain, resource);
    this.full = full;
    this.publishSessionEvent('session-start');
    this.log.info({ jid: full.toString(), bind: 2 }, 'resource bound');
    const features: Element[] = [];
    const enable = request.getChild('enable', SM_NS);
    if (enable !== undefined && this.ctx.config.streamManagement.enabled) {
      features.push(await this.prepareSm(enable));
    }
    if (request.getChild('inactive', CSI_NS) !== undefined && this.ctx.config.csi.enabled) {
      this.csi ??= new CsiBuffer();
      this.publishSessionState('inactive');
    }
    return xml('bound', { xmlns: BIND2_NS }, ...features);
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
    if (el.getNS() === SM_NS) {
      if (el.getName() === 'resume') return this.resumeSession(el);
      // XEP-0198 §3: enable comes after resource binding.
      this.send(smFailed('unexpected-request'));
      return undefined;
    }
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
    const ns = el.getNS();
    if (ns === SM_NS) return this.smElement(el);
    if (ns === CSI_NS && this.ctx.config.csi.enabled) {
      this.csiElement(el);
      return undefined;
    }
    // XEP-0198 §4: every stanza received after <enable/> counts as handled.
    if (this.sm !== null && isStanzaName(el.getName())) this.sm.inbound++;
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

  /** Tells the router how the session can be reached now (for XEP-0357 push). */
  private publishSessionState(state: 'detached' | 'resumed' | 'inactive' | 'active'): void {
    this.publish('session-state', '', state, '', '');
  }

  /**
   * Writes a delivery from `deliver:{edgeId}`; repeated ids are dropped (at-least-once bus). With
   * stream management and no connection (detached, closing) it is queued as unacked for a resume
   * or for re-routing when the session ends; while the client is inactive (XEP-0352) it may wait.
   */
  deliver(id: string, stanza: string, ts = Date.now()): boolean {
    if (this.lifecycle === 'retired' || this.seenDelivery(id)) return false;
    const entry: UnackedStanza = { id, xml: stanza, ts };
    if (this.closing || this.lifecycle === 'detached') {
      if (this.sm === null) return false;
      this.sm.sent++;
      this.queuePush(entry);
      return true;
    }
    if (this.csi !== null) {
      if (this.csi.hold(entry)) return true;
      this.flushHeld();
    }
    this.writeStanza(entry);
    return true;
  }

  /** A stanza to the client, counted and kept until acked when stream management is on. */
  private writeStanza(entry: UnackedStanza): void {
    this.transport.sendElement(entry.xml);
    const now = Date.now();
    this.lastOutput = now;
    this.ctx.metrics.stanzasOut.inc();
    this.ctx.metrics.bytesOut.inc(Buffer.byteLength(entry.xml));
    const sm = this.sm;
    if (sm === null) return;
    sm.sent++;
    sm.lastWrite = now;
    this.queuePush(entry);
    if (sm.sent - sm.requestedAt >= this.ctx.config.streamManagement.ackEvery && this.csi === null)
      this.requestAck();
  }

  // ---- XEP-0352 client state indication ----

  private csiElement(el: Element): void {
    if (el.getName() === 'inactive') {
      if (this.csi === null) this.publishSessionState('inactive');
      this.csi ??= new CsiBuffer();
    } else if (el.getName() === 'active') {
      this.flushHeld();
      if (this.csi !== null) this.publishSessionState('active');
      this.csi = null;
    }
  }

  private flushHeld(): void {
    const held = this.csi?.drain() ?? [];
    for (const entry of held) this.writeStanza(entry);
  }

  // ---- XEP-0198 stream management ----

  private smElement(el: Element): Promise<void> | undefined {
    const sm = this.sm;
    switch (el.getName()) {
      case 'enable':
        return this.enableSm(el);
      case 'resume':
        // XEP-0198 §5: only instead of resource binding.
        this.send(smFailed('unexpected-request'));
        return undefined;
      case 'r':
        if (sm === null) break;
        this.send(xml('a', { xmlns: SM_NS, h: String(wireCount(sm.inbound)) }));
        this.persistCounters(0);
        return undefined;
      case 'a': {
        if (sm === null) break;
        const h = parseH(el.attrs['h']);
        const delta = h === null ? null : newlyAcked(h, sm.acked, sm.sent);
        if (delta === null) {
          // XEP-0198 §4: an ack for more than was sent.
          this.streamError('undefined-condition', 'handled-count-too-high');
          return undefined;
        }
        sm.acked += delta;
        if (delta > 0) this.persistCounters(delta);
        return undefined;
      }
    }
    // XEP-0198 §4: <r/> and <a/> only once stream management is enabled.
    throw new StanzaStreamViolation('unsupported-stanza-type', 'stream management is not enabled');
  }

  private async enableSm(el: Element): Promise<void> {
    const config = this.ctx.config.streamManagement;
    if (!config.enabled || this.sm !== null) {
      this.send(smFailed(config.enabled ? 'unexpected-request' : 'feature-not-implemented'));
      return;
    }
    const enabled = await this.prepareSm(el);
    if (this.closing) return;
    this.send(enabled);
    // XEP-0198 §4: counting starts with <enabled/>.
    this.sm = this.pendingSm;
    this.pendingSm = null;
  }

  /** Starts the resumption state; the counters take effect when the returned `<enabled/>` is sent. */
  private async prepareSm(el: Element): Promise<Element> {
    const config = this.ctx.config.streamManagement;
    const resume = el.attrs['resume'];
    const resumable = resume === 'true' || resume === '1';
    const asked = Number(el.attrs['max']);
    // XEP-0198 §5: the client may ask for a shorter timeout than the server's maximum.
    const maxSeconds =
      Number.isInteger(asked) && asked > 0
        ? Math.min(asked, config.maxResumeSeconds)
        : config.maxResumeSeconds;
    const full = this.full!;
    const epoch = await this.ctx.resumption.create(
      {
        sessionId: this.sessionId,
        bare: full.bare().toString(),
        fullJid: full.toString(),
        edgeId: this.ctx.edgeId,
      },
      ATTACHED_TTL_MS,
    );
    this.pendingSm = {
      epoch,
      inbound: 0,
      sent: 0,
      acked: 0,
      resumable,
      maxSeconds,
      requestedAt: 0,
      lastWrite: 0,
    };
    this.log.debug({ resumable, maxSeconds }, 'stream management enabled');
    return resumable
      ? xml('enabled', { xmlns: SM_NS, id: this.sessionId, resume: 'true', max: String(maxSeconds) })
      : xml('enabled', { xmlns: SM_NS });
  }

  private async resumeSession(el: Element): Promise<void> {
    if (!this.ctx.config.streamManagement.enabled) {
      this.send(smFailed('feature-not-implemented'));
      return;
    }
    const outcome = await this.takeSession(el);
    if (this.closing) return;
    this.send(outcome.element);
    if (outcome.kind === 'resumed') outcome.finish();
  }

  /**
   * XEP-0198 §5: takes the session `<resume/>` names over. On success the stream holds it (its
   * id, JID and counters); `finish` resends what is unacked once `<resumed/>` went out.
   */
  private async takeSession(
    el: Element,
  ): Promise<
    { kind: 'resumed'; element: Element; finish: () => void } | { kind: 'failed'; element: Element }
  > {
    const previd = el.attrs['previd'];
    const h = parseH(el.attrs['h']);
    if (previd === undefined || previd === '' || h === null) {
      return { kind: 'failed', element: smFailed('bad-request') };
    }
    const bare = `${this.localpart!}@${this.domain}`;
    const taken = await this.ctx.resumption.take(previd, bare, this.ctx.edgeId, ATTACHED_TTL_MS);
    if (taken.kind === 'gone') {
      // XEP-0198 §5: item-not-found, with the inbound count when we still know it.
      return { kind: 'failed', element: smFailed('item-not-found', taken.inbound) };
    }
    const state = taken.state;
    let delta = newlyAcked(h, state.acked, state.sent);
    let sent = state.sent;
    if (delta === null) {
      const ahead = aheadOf(h, state.acked);
      if (ahead <= state.sent - state.acked + MAX_UNRECORDED) {
        // The client counts more than was recorded: the previous edge wrote stanzas to the socket
        // and died before recording them (one delivery batch at most). The client has them and all
        // recorded before them: everything is acked, counting goes on from its h, nothing is resent.
        delta = state.unacked.length;
        sent = state.acked + ahead;
      } else {
        // A bogus h acknowledges what the client can prove it has: everything unacked is resent.
        delta = 0;
      }
    }
    const previousKey = this.sessionId;
    this.sessionId = state.sessionId;
    this.full = parseJid(state.fullJid);
    this.sm = {
      epoch: state.epoch,
      inbound: state.inbound,
      sent,
      acked: sent === state.sent ? state.acked + delta : sent,
      resumable: true,
      maxSeconds: this.ctx.config.streamManagement.maxResumeSeconds,
      requestedAt: sent,
      lastWrite: Date.now(),
    };
    this.ctx.adoptSession(this, previousKey);
    // The router delivers to the edge that registered the session: tell it this one holds it now.
    if (state.previousEdgeId !== this.ctx.edgeId) this.publishSessionEvent('session-start');
    else this.publishSessionState('resumed');
    this.persistCounters(delta, sent === state.sent ? undefined : sent);
    const element = xml('resumed', {
      xmlns: SM_NS,
      previd: state.sessionId,
      h: String(wireCount(state.inbound)),
    });
    if (this.closing) {
      // The connection went while we took the session over: it waits here for the next resume.
      this.finalized = false;
      this.finished = false;
      this.detach();
      return { kind: 'resumed', element, finish: () => undefined };
    }
    // Delivered already: a copy the dead edge's delivery stream still held (read, written, not yet
    // acked when it died) and the janitor re-routes here is a repeat.
    for (const entry of state.unacked) this.seenDelivery(entry.id);
    const finish = (): void => {
      // XEP-0198 §5: what the client did not acknowledge goes out again, in order.
      for (const entry of state.unacked.slice(delta)) this.transport.sendElement(entry.xml);
      this.lastOutput = Date.now();
      if (sent > this.sm!.acked) this.requestAck();
      this.log.info(
        { jid: state.fullJid, from: state.previousEdgeId, resent: state.unacked.length - delta },
        'session resumed',
      );
    };
    return { kind: 'resumed', element, finish };
  }

  private requestAck(): void {
    const sm = this.sm;
    if (sm === null || this.closing) return;
    sm.requestedAt = sm.sent;
    this.transport.sendElement(`<r xmlns='${SM_NS}'/>`);
  }

  /** Periodic duty from the edge's ticker: ask for an ack of stanzas unacked for a while. */
  tick(now: number): void {
    const sm = this.sm;
    if (sm === null || this.closing || this.csi !== null) return;
    if (
      sm.sent > sm.acked &&
      sm.requestedAt < sm.sent &&
      now - sm.lastWrite >= this.ctx.config.streamManagement.ackDelayMs
    )
      this.requestAck();
  }

  private persistCounters(trim: number, sent?: number): void {
    const sm = this.sm!;
    const update = { trim, acked: sm.acked, inbound: sm.inbound, ...(sent === undefined ? {} : { sent }) };
    const ttl = this.storeTtl();
    const epoch = sm.epoch;
    this.chain(() => this.ctx.resumption.update(this.sessionId, epoch, update, ttl));
  }

  private storeTtl(): number {
    const sm = this.sm!;
    return this.lifecycle === 'attached' && !this.closing
      ? ATTACHED_TTL_MS
      : sm.maxSeconds * 1000 + DETACHED_TTL_MARGIN_MS;
  }

  private queuePush(entry: UnackedStanza): void {
    (this.pushes ??= []).push(entry);
    if (this.pushScheduled) return;
    this.pushScheduled = true;
    // One store write per delivery batch, not per stanza.
    queueMicrotask(() => this.flushPushes());
  }

  /**
   * Writes the stanzas counted since the last write to the resumption store now; resolves once
   * the store holds them, so the bus acks a delivery only when a crash of this edge can no longer
   * lose it (the janitor re-routes what the store holds). Undefined without stream management.
   */
  stored(): Promise<void> | undefined {
    if (this.sm === null) return undefined;
    this.flushPushes();
    return this.storeOps;
  }

  private flushPushes(): void {
    this.pushScheduled = false;
    const batch = this.pushes;
    if (batch === null || batch.length === 0 || this.sm === null) return;
    this.pushes = null;
    const epoch = this.sm.epoch;
    const ttl = this.storeTtl();
    this.chain(async () => {
      const outcome = await this.ctx.resumption.push(this.sessionId, epoch, batch, ttl);
      // Taken over meanwhile: the stream that holds the session now gets them.
      if (outcome.kind === 'moved') this.forward(outcome.edgeId, batch);
      // Ended meanwhile: like any stanza for a gone session (RFC 6121 §8.5.3.2.1).
      else if (outcome.kind === 'gone') this.reroute(batch);
    });
  }

  private chain(op: () => Promise<void>): void {
    this.storeOps = this.storeOps.then(op).catch((error: unknown) => {
      this.log.error({ err: error }, 'resumption store operation failed');
    });
  }

  private forward(edgeId: string, stanzas: readonly UnackedStanza[]): void {
    const to = this.full!.toString();
    for (const s of stanzas) {
      this.ctx.publisher.enqueue(
        Streams.deliver(edgeId),
        encodeDelivery({
          v: 1,
          kind: 'stanza',
          id: s.id,
          sessionId: this.sessionId,
          to,
          xml: s.xml,
          ts: s.ts,
        }),
      );
    }
  }

  /**
   * Sends undelivered stanzas back through the router's inbound processing for this full JID,
   * after the session-end: messages go to other resources or offline storage (with XEP-0203
   * delay), IQs are answered with an error, presence is dropped (RFC 6121 §8.5.3.2).
   */
  private reroute(stanzas: readonly UnackedStanza[]): void {
    const full = this.full!.toString();
    const stream = Streams.route(partitionOf(this.full!.bare().toString(), this.ctx.config.partitions));
    for (const s of stanzas) {
      let el: Element;
      try {
        el = parseElement(s.xml);
      } catch {
        continue;
      }
      const name = el.getName();
      if (!isStanzaName(name)) continue;
      const envelope: Envelope = {
        v: ENVELOPE_VERSION,
        id: s.id,
        kind: name,
        edgeId: '',
        sessionId: '',
        from: el.attrs['from'] ?? '',
        to: full,
        type: el.attrs['type'] ?? '',
        stanzaId: el.attrs['id'] ?? '',
        xml: s.xml,
        ts: s.ts,
        stage: 'in',
      };
      this.ctx.publisher.enqueue(stream, encodeEnvelope(envelope));
    }
  }

  /** The connection is gone; the session waits `max` seconds for a resume (XEP-0198 §5). */
  private detach(): void {
    const sm = this.sm!;
    this.lifecycle = 'detached';
    // What an inactive client was spared is unacked now: resent on resume, re-routed on timeout.
    for (const entry of this.csi?.drain() ?? []) {
      sm.sent++;
      (this.pushes ??= []).push(entry);
    }
    this.csi = null;
    this.flushPushes();
    this.persistCounters(0);
    this.detachTimer = setTimeout(() => this.expire(), sm.maxSeconds * 1000);
    this.detachTimer.unref();
    this.ctx.streamDetached(this);
    this.publishSessionState('detached');
    this.log.info({ jid: this.full?.toString(), maxSeconds: sm.maxSeconds }, 'session detached');
  }

  /** Ends a detached session now: its timeout, or the edge shutting down. */
  expire(): void {
    if (this.lifecycle !== 'detached') return;
    if (this.detachTimer !== undefined) clearTimeout(this.detachTimer);
    this.log.info({ jid: this.full?.toString() }, 'detached session ended');
    this.endSession();
    this.finalize();
  }

  /**
   * The session lives on in another stream (resumed here or on another edge): this copy goes
   * without ending it; an open connection is closed (XEP-0198 §5, the older stream of the session).
   */
  retire(): void {
    if (this.lifecycle === 'retired') return;
    const wasAttached = this.lifecycle === 'attached' && !this.closing;
    this.lifecycle = 'retired';
    this.log.info({ jid: this.full?.toString() }, 'session taken over');
    if (this.detachTimer !== undefined) clearTimeout(this.detachTimer);
    this.csi = null;
    if (wasAttached) {
      this.streamError('conflict', 'the session was resumed on another connection');
      return;
    }
    this.finalize();
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
    if (this.lifecycle === 'detached') {
      // Replaced by a new session for the same resource, or the account is gone.
      this.expire();
      return;
    }
    const known = STREAM_CONDITIONS.has(condition)
      ? (condition as StreamErrorCondition)
      : 'undefined-condition';
    this.streamError(known, text === '' ? undefined : text);
  }

  // ---- output and closing ----

  private send(el: Element): void {
    if (this.closing) return;
    if (this.sm !== null && isStanzaName(el.getName())) {
      // Our own replies count for stream management like deliveries do (XEP-0198 §4).
      this.writeStanza({ id: randomUUID(), xml: serialize(el), ts: Date.now() });
      return;
    }
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
    const keep = this.detachOnClose && this.sm?.resumable === true && !this.noDetach;
    if (!keep) this.endSession();
    this.closeTimer = setTimeout(() => this.transport.destroy(), 2000);
    this.closeTimer.unref();
  }

  private endSession(): void {
    if (this.full === null || this.finished || this.lifecycle === 'retired') return;
    this.finished = true;
    const sm = this.sm;
    if (sm === null) {
      this.publishSessionEvent('session-end');
      return;
    }
    // XEP-0198: what the client did not acknowledge is not lost with the session.
    const held = this.csi?.drain() ?? [];
    this.csi = null;
    this.flushPushes();
    const epoch = sm.epoch;
    this.chain(async () => {
      const left = await this.ctx.resumption.end(this.sessionId, epoch);
      // Null: another stream took the session over; it is not ours to end.
      if (left === null) return;
      this.publishSessionEvent('session-end');
      this.reroute([...left, ...held]);
    });
  }

  private finish(): void {
    if (this.finalized) return;
    this.closing = true;
    this.inbox.length = 0;
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    const resumable =
      this.sm?.resumable === true && this.full !== null && this.lifecycle === 'attached' && !this.noDetach;
    if (resumable && (!this.finished || this.detachOnClose)) {
      this.detach();
      return;
    }
    this.endSession();
    this.finalize();
  }

  private finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.closing = true;
    this.finished = true;
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    if (this.detachTimer !== undefined) clearTimeout(this.detachTimer);
    this.ctx.streamClosed(this);
    void this.storeOps.then(() => this.resolveClosed());
  }

  /**
   * Closes with a stream error that a resumable session survives (drain, idle timeout): it is
   * detached, not ended, so the client can resume here or on another edge.
   */
  shutdown(condition: StreamErrorCondition, text?: string, host?: string, resumable = true): void {
    if (resumable) this.detachOnClose = true;
    else this.noDetach = true;
    this.streamError(condition, text, host);
  }

  /** Cuts the connection at once (end of drain). */
  destroy(): void {
    this.transport.destroy();
  }

  /** Cuts the connection and ends the session, resumable or not (the edge is closing). */
  terminate(): void {
    this.noDetach = true;
    if (this.lifecycle === 'detached') this.expire();
    else this.transport.destroy();
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

/** XEP-0198 `<failed/>` with a stanza error condition, and the inbound count when known (§5). */
/** Stanzas an edge may have written but not yet recorded when it died: far more than one delivery batch. */
const MAX_UNRECORDED = 10_000;

function smFailed(condition: string, h: number | null = null): Element {
  return xml(
    'failed',
    h === null ? { xmlns: SM_NS } : { xmlns: SM_NS, h: String(wireCount(h)) },
    xml(condition, { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }),
  );
}
