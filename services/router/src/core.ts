import { BusFencedError, type Bus, type BusEntry, type Fence, type PublishItem } from '@switchboard/bus';
import type { Logger } from '@switchboard/kit';
import {
  Keys,
  Streams,
  decodeEnvelope,
  encodeDelivery,
  encodeEnvelope,
  partitionOf,
  type Envelope,
} from '@switchboard/protocol';
import type { Store } from '@switchboard/store';
import { xml, type Element } from '@switchboard/xml';
import type { RouterConfig } from './config.js';
import type { SessionRecord, SessionRegistry } from './sessions/registry.js';
import { StanzaError, errorReply } from './stanza-error.js';
import { Stanza, payloadOf } from './stanza.js';

/**
 * Everything one batch produces. Deliveries and forwards go out in one
 * `publishBatch`; `after` runs once they are durable, before the ack
 * (e.g. removing offline messages that were just delivered).
 */
export class Pass {
  readonly out: PublishItem[] = [];
  readonly after: (() => Promise<void>)[] = [];
  /** Inbound work for partitions this router owns, handled in the same pass (no Redis trip). */
  readonly queue: Stanza[] = [];
}

/** What a handler decided: handled (true) or let the next one, then the default, decide. */
export type Handled = boolean | undefined | void;

/**
 * A value, or a promise of it. Handlers, guards and hooks answer synchronously when what they need
 * is cached (the common case on the message hot path) and the core awaits only real promises: an
 * async function per stanza and step allocated promises and closures that made up a third of the
 * router's garbage at 10,000 msgs/s (bench/PROFILE.md).
 */
export type MaybePromise<T> = T | Promise<T>;

/** `f` of `value`: at once for a plain value, once it settles for a promise. */
export function andThen<T, R>(value: MaybePromise<T>, f: (v: T) => MaybePromise<R>): MaybePromise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}

export type StanzaHandler = (st: Stanza, pass: Pass) => MaybePromise<Handled>;

/** A verdict before routing: let it through, drop it silently, or bounce it with an error. */
export type Verdict = 'pass' | 'drop' | StanzaError;
export type Guard = (st: Stanza, pass: Pass) => MaybePromise<Verdict>;

/**
 * An IQ handler answers with the result payload (an element, or null for an
 * empty result), an error, or `ANSWERED` when it sent the reply itself.
 */
export type IqAnswer = Element | null | StanzaError | typeof ANSWERED;
export type IqHandler = (st: Stanza, payload: Element, pass: Pass) => Promise<IqAnswer>;
export const ANSWERED = Symbol('answered');

/** Where an IQ handler listens: the server's domain, or a user's bare JID (handled on the user's behalf). */
export type IqScope = 'host' | 'account';

export type RouterEvent =
  | 'session-start'
  | 'session-end'
  /** A session was detached, resumed, or went inactive/active (envelope `type`; XEP-0198, XEP-0352). */
  | 'session-state'
  /** Presence from a local user's session, in the user's partition. */
  | 'presence-out'
  /** Presence to an existing local account, in its partition. */
  | 'presence-in'
  /** A message to an existing local account (bare or full JID), in its partition. */
  | 'message-in'
  /** A message to a served domain itself. */
  | 'message-host'
  /**
   * A session sent available presence after being unavailable (RFC 6121
   * §4.2): offline messages and pending subscription requests go to it.
   * Every handler runs; the session record is already updated.
   */
  | 'initial-presence';

export type GuardPoint = 'out' | 'in';

export interface RouterModule {
  readonly name: string;
  setup(core: RouterCore): void;
}

export interface CoreDeps {
  readonly bus: Bus;
  readonly store: Store;
  readonly sessions: SessionRegistry;
  readonly logger: Logger;
  /** Default Date.now. */
  readonly now?: () => number;
  /**
   * The fence of this router's lease on a partition, undefined when it does
   * not hold it (cluster); absent in one process, where nobody else can own a partition.
   */
  readonly fence?: (partition: number) => Fence | undefined;
}

/**
 * The stanza router, after Prosody's: decode → outbound processing in the
 * sender's partition → route by address kind (component, remote, host,
 * account, full JID) → inbound processing in the recipient's partition →
 * handlers registered by modules → unhandled gives service-unavailable.
 */
export class RouterCore {
  readonly config: RouterConfig;
  readonly bus: Bus;
  readonly store: Store;
  readonly sessions: SessionRegistry;
  readonly logger: Logger;
  readonly now: () => number;
  readonly startedAt: number;
  /** The first served domain; the server's own address in stanzas it generates for no particular host. */
  readonly domains: ReadonlySet<string>;
  readonly components: ReadonlySet<string>;
  owned: ReadonlySet<number>;
  /**
   * Whether `user` blocks stanzas from or to `jid` (XEP-0191); the blocking
   * module replaces it. Presence broadcasts skip blocked contacts.
   */
  isBlocked: (user: string, jid: string) => Promise<boolean> = () => Promise.resolve(false);

  readonly #handlers = new Map<RouterEvent, StanzaHandler[]>();
  readonly #guards: { readonly [P in GuardPoint]: Guard[] } = { out: [], in: [] };
  readonly #iq = { host: new Map<string, IqHandler>(), account: new Map<string, IqHandler>() };
  readonly #features = new Set<string>();
  readonly #accountFeatures = new Set<string>();
  readonly #forgetters: ((keep: (bare: string) => boolean) => void)[] = [];
  readonly #fence: ((partition: number) => Fence | undefined) | undefined;
  /** `route:{p}` → p for the streams this router may read. */
  readonly #partitionOfStream = new Map<string, number>();

  constructor(config: RouterConfig, deps: CoreDeps) {
    this.config = config;
    this.bus = deps.bus;
    this.store = deps.store;
    this.sessions = deps.sessions;
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    this.startedAt = this.now();
    this.domains = new Set(config.domains);
    this.components = new Set(config.components);
    this.owned = new Set(config.ownedPartitions);
    this.#fence = deps.fence;
    for (let p = 0; p < config.partitions; p++) this.#partitionOfStream.set(Streams.route(p), p);
  }

  // ---- registration, for modules ----

  on(event: RouterEvent, handler: StanzaHandler): void {
    let list = this.#handlers.get(event);
    if (list === undefined) this.#handlers.set(event, (list = []));
    list.push(handler);
  }

  guard(point: GuardPoint, guard: Guard): void {
    this.#guards[point].push(guard);
  }

  /** Handles IQ get and set whose payload is in `ns`; the handler sees the type. */
  iq(scope: IqScope, ns: string, handler: IqHandler): void {
    if (this.#iq[scope].has(ns)) throw new Error(`two handlers for ${scope} IQ ${ns}`);
    this.#iq[scope].set(ns, handler);
  }

  /** A disco#info feature of the server (XEP-0030), or of accounts with `scope` 'account'. */
  feature(ns: string, scope: IqScope = 'host'): void {
    (scope === 'host' ? this.#features : this.#accountFeatures).add(ns);
  }

  /** Registers a per-user cache to trim when partitions move to another router. */
  onForget(forget: (keep: (bare: string) => boolean) => void): void {
    this.#forgetters.push(forget);
  }

  /** Takes a new set of owned partitions; caches of users now elsewhere are dropped. */
  setOwned(partitions: readonly number[]): void {
    this.owned = new Set(partitions);
    const keep = (bare: string): boolean => this.owned.has(partitionOf(bare, this.config.partitions));
    this.sessions.forget(keep);
    for (const forget of this.#forgetters) forget(keep);
  }

  features(scope: IqScope): string[] {
    return [...(scope === 'host' ? this.#features : this.#accountFeatures)].sort();
  }

  // ---- the batch ----

  async handleBatch(entries: readonly BusEntry[]): Promise<void> {
    const pass = new Pass();
    for (const entry of entries) {
      let env: Envelope;
      try {
        env = decodeEnvelope(entry.payload);
      } catch (error) {
        // A payload that is not an envelope can never be processed: drop it (and ack) rather than retry forever.
        this.logger.warn(
          { err: error, stream: entry.stream, entryId: entry.id },
          'dropping undecodable entry',
        );
        continue;
      }
      const processing = this.processTop(new Stanza(env, env.stage === 'in' ? 'in' : 'out'), pass);
      if (processing !== undefined) await processing;
    }
    if (pass.out.length > 0) {
      const fences = this.#fencesFor(entries);
      await this.bus.publishBatch(pass.out, fences === undefined ? undefined : { fences });
    }
    for (const task of pass.after) await task();
  }

  /**
   * The leases the batch's effects depend on: one per partition it was read
   * from. Publishing checks them atomically, so a router that lost a lease
   * (paused past its TTL, partitioned from Redis) cannot deliver twice or out
   * of order what the new owner now processes; its batch stays unacked.
   */
  #fencesFor(entries: readonly BusEntry[]): Fence[] | undefined {
    const fenceOf = this.#fence;
    if (fenceOf === undefined) return undefined;
    const fences: Fence[] = [];
    const seen = new Set<number>();
    for (const entry of entries) {
      const partition = this.#partitionOfStream.get(entry.stream);
      if (partition === undefined || seen.has(partition)) continue;
      seen.add(partition);
      const fence = fenceOf(partition);
      if (fence === undefined) throw new BusFencedError(Keys.partitionLease(partition));
      fences.push(fence);
    }
    return fences;
  }

  /**
   * Processes one stanza and everything it causes in partitions this router owns, in order.
   * Returns a promise only when a step had to wait (a store read, a cache miss).
   */
  processTop(st: Stanza, pass: Pass): Promise<void> | undefined {
    const first = this.#processSafely(st, pass);
    if (first !== undefined) return this.#drainQueue(pass, 0, first);
    const queue = pass.queue;
    for (let i = 0; i < queue.length; i++) {
      const waiting = this.#processSafely(queue[i]!, pass);
      if (waiting !== undefined) return this.#drainQueue(pass, i + 1, waiting);
    }
    queue.length = 0;
    return undefined;
  }

  /** The rest of processTop once a step waits: `waiting`, then the queue from `from` on. */
  async #drainQueue(pass: Pass, from: number, waiting: Promise<void>): Promise<void> {
    await waiting;
    for (let i = from; i < pass.queue.length; i++) await this.#processSafely(pass.queue[i]!, pass);
    pass.queue.length = 0;
  }

  #processSafely(st: Stanza, pass: Pass): Promise<void> | undefined {
    try {
      const waiting = st.stage === 'out' ? this.#outbound(st, pass) : this.#inbound(st, pass);
      if (!(waiting instanceof Promise)) return undefined;
      return waiting.catch((error: unknown) => this.#failed(st, pass, error));
    } catch (error) {
      this.#failed(st, pass, error);
      return undefined;
    }
  }

  #failed(st: Stanza, pass: Pass, error: unknown): void {
    // One bad stanza must not block its partition: log it and answer what expects an answer.
    this.logger.error(
      { err: error, envelopeId: st.env.id, edgeId: st.env.edgeId, sessionId: st.env.sessionId },
      'stanza processing failed',
    );
    if (st.kind === 'iq' || st.kind === 'message') {
      try {
        this.bounce(st, new StanzaError('internal-server-error'), pass);
      } catch {
        // The stanza itself is unreadable; nothing to answer.
      }
    }
  }

  // ---- routing ----

  isLocalUser(bare: string, domain: string): boolean {
    return this.domains.has(domain) && bare !== domain;
  }

  #outbound(st: Stanza, pass: Pass): MaybePromise<void> {
    const kind = st.kind;
    if (kind === 'session-start' || kind === 'session-end' || kind === 'session-state') {
      return andThen(this.run(kind, st, pass), noop);
    }
    // Components and the server itself have no outbound state: straight to the recipient.
    if (!this.isLocalUser(st.from.bare, st.from.domain)) {
      this.routeIn(st, pass);
      return;
    }
    const passed = this.#guard(this.#guards.out, st, pass);
    if (passed instanceof Promise)
      return passed.then((ok) => (ok ? this.#outboundPassed(st, pass) : undefined));
    if (passed) return this.#outboundPassed(st, pass);
  }

  #outboundPassed(st: Stanza, pass: Pass): MaybePromise<void> {
    if (st.kind !== 'presence') return this.routeIn(st, pass);
    return andThen(this.run('presence-out', st, pass), (handled) => {
      if (!handled) this.routeIn(st, pass);
    });
  }

  /**
   * Runs `guards` over `st`: true when every one lets it through; the first that refuses gets
   * the stanza dropped or bounced here (false). A promise only when a guard returned one.
   */
  #guard(guards: readonly Guard[], st: Stanza, pass: Pass): MaybePromise<boolean> {
    for (let i = 0; i < guards.length; i++) {
      const verdict = guards[i]!(st, pass);
      if (verdict instanceof Promise) return this.#guardAfter(guards, i, verdict, st, pass);
      if (verdict !== 'pass') return this.#refuse(st, verdict, pass);
    }
    return true;
  }

  /** #guard once guard `i` had to wait. */
  async #guardAfter(
    guards: readonly Guard[],
    i: number,
    waiting: Promise<Verdict>,
    st: Stanza,
    pass: Pass,
  ): Promise<boolean> {
    let verdict = await waiting;
    while (verdict === 'pass') {
      if (++i === guards.length) return true;
      verdict = await guards[i]!(st, pass);
    }
    return this.#refuse(st, verdict, pass);
  }

  /** A guard's verdict other than 'pass': drop the stanza, or bounce it with the error. */
  #refuse(st: Stanza, verdict: 'drop' | StanzaError, pass: Pass): false {
    if (verdict !== 'drop') this.bounce(st, verdict, pass);
    return false;
  }

  /**
   * Sends a stanza to its recipient's side: a component's stream, an error
   * for a domain not served, or inbound processing in the recipient's
   * partition: here when this router owns it, else through `route:{p}`.
   */
  routeIn(st: Stanza, pass: Pass): void {
    const domain = st.to.domain;
    if (this.components.has(domain)) {
      pass.out.push({ stream: Streams.service(domain), payload: encodeEnvelope(forwarded(st)) });
      return;
    }
    if (!this.domains.has(domain)) {
      const s2s = this.config.s2sPartitions;
      if (s2s !== undefined) {
        // RFC 6120 §10.4: a remote domain; the s2s node that owns its partition delivers or bounces it.
        pass.out.push({
          stream: Streams.s2s(partitionOf(domain, s2s)),
          payload: encodeEnvelope(forwarded(st)),
        });
        return;
      }
      // No federation configured (RFC 6120 §8.3.3.13).
      if (st.kind !== 'presence') this.bounce(st, new StanzaError('remote-server-not-found'), pass);
      return;
    }
    if (st.to.bare === domain) {
      pass.queue.push(st.stage === 'in' ? st : st.inbound());
      return;
    }
    const partition = partitionOf(st.to.bare, this.config.partitions);
    if (this.owned.has(partition)) {
      pass.queue.push(st.stage === 'in' ? st : st.inbound());
    } else {
      pass.out.push({ stream: Streams.route(partition), payload: encodeEnvelope(forwarded(st)) });
    }
  }

  #inbound(st: Stanza, pass: Pass): MaybePromise<void> {
    // A component or remote server may publish for inbound processing a stanza whose recipient is
    // not ours to process (another component, a remote domain): send it on rather than bounce it.
    if (!this.domains.has(st.to.domain)) {
      this.routeIn(st, pass);
      return;
    }
    if (st.to.bare === st.to.domain) return this.#inboundHost(st, pass);
    const user = st.to.bare;
    const fromServer = st.from.bare === st.from.domain && this.domains.has(st.from.domain);
    if (st.from.bare !== user && !fromServer && !st.skipGuards) {
      const passed = this.#guard(this.#guards.in, st, pass);
      if (passed instanceof Promise)
        return passed.then((ok) => (ok ? this.#inboundPassed(st, pass) : undefined));
      if (!passed) return;
    }
    return this.#inboundPassed(st, pass);
  }

  /** Inbound for a local account once the guards let it through. */
  #inboundPassed(st: Stanza, pass: Pass): MaybePromise<void> {
    // An account with a session here exists: no store read on the hot path.
    if ((this.sessions.peek(st.to.bare)?.length ?? 0) > 0) return this.#inboundTo(st, pass);
    return this.#inboundChecked(st, pass);
  }

  async #inboundChecked(st: Stanza, pass: Pass): Promise<void> {
    const user = st.to.bare;
    if (!(await this.accountExists(user))) {
      // RFC 6121 §8.5.1: IQ and message get service-unavailable; presence is ignored, but a
      // subscription request is denied so the requester does not wait forever (§3.1.3).
      if (st.kind !== 'presence') this.bounce(st, new StanzaError('service-unavailable'), pass);
      else if (st.type === 'subscribe') {
        this.send(xml('presence', { from: user, to: st.from.bare, type: 'unsubscribed' }), st, pass);
      }
      return;
    }
    await this.#inboundTo(st, pass);
  }

  /** Inbound for an existing local account, by kind. */
  #inboundTo(st: Stanza, pass: Pass): MaybePromise<void> {
    switch (st.kind) {
      case 'iq':
        return this.#inboundIq(st, pass);
      case 'message':
        return andThen(this.run('message-in', st, pass), noop);
      case 'presence':
        return andThen(this.run('presence-in', st, pass), noop);
      default:
        return;
    }
  }

  async #inboundIq(st: Stanza, pass: Pass): Promise<void> {
    if (st.to.resource !== '') {
      const session = await this.sessions.get(st.to.bare, st.to.resource);
      if (session !== null) this.deliver(session, st.env.xml, st.env.id, st.env.ts, pass);
      // RFC 6121 §8.5.3.2.1 (no such resource): IQ error for get/set; responses are dropped.
      else this.bounce(st, new StanzaError('service-unavailable'), pass);
      return;
    }
    await this.#answerIq('account', st, pass);
  }

  async #inboundHost(st: Stanza, pass: Pass): Promise<void> {
    if (st.kind === 'iq') {
      if (st.to.resource !== '') this.bounce(st, new StanzaError('service-unavailable'), pass);
      else await this.#answerIq('host', st, pass);
      return;
    }
    if (st.kind === 'message') {
      if (await this.run('message-host', st, pass)) return;
      // RFC 6120 §10.3.1 lets the server answer a message for itself with an error.
      if (st.type === 'normal' || st.type === 'chat' || st.type === '') {
        this.bounce(st, new StanzaError('service-unavailable'), pass);
      }
    }
    // Presence to the server itself needs nothing from it.
  }

  async #answerIq(scope: IqScope, st: Stanza, pass: Pass): Promise<void> {
    // RFC 6120 §8.2.3: results and errors are never answered.
    if (st.type !== 'get' && st.type !== 'set') return;
    const payload = payloadOf(st.el);
    if (payload === undefined) {
      this.bounce(
        st,
        new StanzaError('bad-request', undefined, 'an IQ get or set carries exactly one payload'),
        pass,
      );
      return;
    }
    const handler = this.#iq[scope].get(payload.getNS());
    // RFC 6120 §8.4: a request nobody here understands gets service-unavailable.
    if (handler === undefined) {
      this.bounce(st, new StanzaError('service-unavailable'), pass);
      return;
    }
    let answer: IqAnswer;
    try {
      answer = await handler(st, payload, pass);
    } catch (error) {
      if (!(error instanceof StanzaError)) throw error;
      answer = error;
    }
    if (answer === ANSWERED) return;
    if (answer instanceof StanzaError) this.bounce(st, answer, pass);
    else this.reply(st, answer, pass);
  }

  /**
   * Runs the handlers of `event` until one says it handled the stanza; a promise only when a
   * handler returned one.
   */
  run(event: RouterEvent, st: Stanza, pass: Pass): MaybePromise<boolean> {
    const list = this.#handlers.get(event);
    if (list === undefined) return false;
    for (let i = 0; i < list.length; i++) {
      const handled = list[i]!(st, pass);
      if (handled instanceof Promise) return this.#runAfter(list, i, handled, st, pass);
      if (handled === true) return true;
    }
    return false;
  }

  async #runAfter(
    list: readonly StanzaHandler[],
    i: number,
    waiting: Promise<Handled>,
    st: Stanza,
    pass: Pass,
  ): Promise<boolean> {
    if ((await waiting) === true) return true;
    for (let j = i + 1; j < list.length; j++) if ((await list[j]!(st, pass)) === true) return true;
    return false;
  }

  // ---- effects, for modules ----

  async accountExists(bare: string): Promise<boolean> {
    if ((await this.sessions.list(bare)).length > 0) return true;
    return (await this.store.accounts.get(bare)) !== null;
  }

  /** Queues a stanza for one session on its edge. `id` lets the edge drop a repeat. */
  deliver(session: SessionRecord, xml: string, id: string, ts: number, pass: Pass): void {
    pass.out.push({
      stream: Streams.deliver(session.edgeId),
      payload: encodeDelivery({
        v: 1,
        kind: 'stanza',
        id,
        sessionId: session.sessionId,
        to: session.fullJid,
        xml,
        ts,
      }),
    });
  }

  /** Orders the edge to end a session with a stream error (RFC 6120 §4.9). */
  close(session: SessionRecord, condition: string, text: string, id: string, pass: Pass): void {
    pass.out.push({
      stream: Streams.deliver(session.edgeId),
      payload: encodeDelivery({
        v: 1,
        kind: 'close',
        id,
        sessionId: session.sessionId,
        to: session.fullJid,
        condition,
        text,
        ts: this.now(),
      }),
    });
  }

  /**
   * Sends a stanza the server generates (reply, push, broadcast, bounce) on
   * its way: it gets an envelope id derived from `cause` and goes through
   * inbound processing on the recipient's side.
   */
  send(el: Element, cause: Stanza, pass: Pass, skipGuards = false): void {
    const to = el.attrs['to'] ?? cause.from.bare;
    const from = el.attrs['from'] ?? hostOf(this, to, cause);
    const env: Envelope = {
      v: 1,
      id: cause.childId(),
      kind: el.name as 'message' | 'presence' | 'iq',
      edgeId: '',
      sessionId: '',
      from,
      to,
      type: el.attrs['type'] ?? '',
      stanzaId: el.attrs['id'] ?? '',
      xml: el.toString(),
      ts: cause.env.ts,
      stage: 'in',
    };
    // The element is not kept: callers reuse it for the next recipient.
    const st = new Stanza(env, 'in');
    st.skipGuards = skipGuards;
    this.routeIn(st, pass);
  }

  /** The result of an IQ: to the requester, from what it addressed (nothing when it addressed its own account). */
  reply(st: Stanza, payload: Element | null, pass: Pass): void {
    const el = iqElement('result', st.toSelf ? undefined : st.env.to, st.env.from, st.env.stanzaId, payload);
    this.send(el, st, pass);
  }

  /**
   * Answers a stanza with an error, unless it is an error or an IQ result
   * itself (RFC 6120 §8.3.1: never an error about an error, no answer to a
   * response).
   */
  bounce(st: Stanza, error: StanzaError, pass: Pass): void {
    if (st.type === 'error' || (st.kind === 'iq' && st.type === 'result')) return;
    if (st.kind !== 'message' && st.kind !== 'presence' && st.kind !== 'iq') return;
    const el = st.el.clone();
    el.attrs['from'] = st.env.from;
    if (st.toSelf) delete el.attrs['to'];
    else el.attrs['to'] = st.env.to;
    this.send(errorReply(el, error), st, pass, true);
  }
}

export function iqElement(
  type: 'result' | 'set' | 'get',
  from: string | undefined,
  to: string,
  id: string,
  payload: Element | null,
): Element {
  return xml('iq', { from, to, type, id }, payload);
}

function forwarded(st: Stanza): Envelope {
  const env = st.env;
  const to = env.to === '' ? st.to.bare : env.to;
  return env.stage === 'in' && to === env.to ? env : { ...env, to, stage: 'in' };
}

function hostOf(core: RouterCore, to: string, cause: Stanza): string {
  const at = to.indexOf('@');
  const slash = to.indexOf('/');
  const domain = to.slice(at + 1, slash === -1 ? undefined : slash);
  return core.domains.has(domain) ? domain : cause.to.domain;
}

function noop(): void {}
