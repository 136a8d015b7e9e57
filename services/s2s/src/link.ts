import type { SecureContext } from 'node:tls';
import type { Element } from '@switchboard/xml';
import type { NegotiatedStream } from './outbound.js';
import { OutboundFailure, negotiate } from './outbound.js';
import type { Resolver } from './resolver.js';

/** The stanza error an undeliverable stanza bounces with (RFC 6120 §8.3.3.13, §8.3.3.14). */
export type BounceCondition = 'remote-server-not-found' | 'remote-server-timeout' | 'policy-violation';

/** A stanza for the remote domain and what to do once it has left this node. */
export interface OutboundItem {
  readonly xml: string;
  /** Written to the remote stream, or bounced: the bus entry it came from may be acked. */
  done(): void;
}

export interface LinkDeps {
  readonly resolver: Resolver;
  readonly context: SecureContext;
  readonly secret: string;
  readonly dialbackAllowed: boolean;
  /** XEP-0288: ask peers for bidirectional streams. */
  readonly bidi: boolean;
  readonly connectTimeoutMs: number;
  readonly connectAttempts: number;
  readonly backoffMs: number;
  readonly backoffMaxMs: number;
  readonly idleTimeoutMs: number;
  /** Bounces to the sender; resolves true once the bounce is published (false: leave the entry pending). */
  bounce(xml: string, condition: BounceCondition, text: string): Promise<boolean>;
  onState(state: 'up' | 'down', method?: string): void;
  onFailure(reason: string): void;
  onSent(): void;
  /** XEP-0288: a stanza the remote sent us on our own (bidirectional) stream. */
  receive(el: Element, stream: NegotiatedStream): void;
  log(fields: Record<string, unknown>, message: string): void;
}

/**
 * Our outbound stream from one local domain to one remote domain: stanzas
 * queue while it connects, go out in order once it is ready, and bounce
 * when it cannot be established (RFC 6120 §10.4.2). After a failure the
 * domain is left alone for a backoff that doubles per failure; stanzas in
 * that window bounce at once instead of waiting. An item is `done` only
 * once written or bounced; `close()` drops the queue without either, so
 * its bus entries stay pending for whoever owns the domain next.
 */
export class OutboundLink {
  private readonly queue: OutboundItem[] = [];
  private stream: NegotiatedStream | null = null;
  private connecting = false;
  private failures = 0;
  private downUntil = 0;
  private lastFailure: { condition: BounceCondition; text: string } | null = null;
  private idle: NodeJS.Timeout | undefined;
  private readonly aborter = new AbortController();

  constructor(
    readonly local: string,
    readonly remote: string,
    private readonly deps: LinkDeps,
  ) {}

  send(item: OutboundItem): void {
    if (this.aborter.signal.aborted) return;
    if (this.stream !== null) {
      this.write(this.stream, item);
      return;
    }
    if (!this.connecting && Date.now() < this.downUntil && this.lastFailure !== null) {
      this.bounce(item, this.lastFailure);
      return;
    }
    this.queue.push(item);
    if (!this.connecting) void this.connect();
  }

  private write(stream: NegotiatedStream, item: OutboundItem): void {
    stream.conn.send(item.xml, (error) => {
      if (error === undefined || error === null) {
        item.done();
        return;
      }
      // Never reached the socket: the stream is gone; send it again over a new one (at-least-once).
      if (this.stream === stream) this.stream = null;
      this.send(item);
    });
    this.deps.onSent();
    this.touch();
  }

  private bounce(item: OutboundItem, failure: { condition: BounceCondition; text: string }): void {
    this.deps.bounce(item.xml, failure.condition, failure.text).then(
      (published) => {
        if (published) item.done();
      },
      (error: unknown) => this.deps.log({ err: error, remote: this.remote }, 'bouncing a stanza failed'),
    );
  }

  private touch(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.stream?.conn.close(), this.deps.idleTimeoutMs);
    this.idle.unref();
  }

  private async connect(): Promise<void> {
    this.connecting = true;
    const deadline = AbortSignal.any([this.aborter.signal, AbortSignal.timeout(this.deps.connectTimeoutMs)]);
    let failure: { condition: BounceCondition; text: string };
    try {
      const stream = await this.establish(deadline);
      if (this.aborter.signal.aborted || this.stream !== null) {
        // Closed meanwhile, or the remote's bidirectional stream was adopted (XEP-0288).
        stream.conn.close();
        this.connecting = false;
        return;
      }
      this.attach(stream);
      this.failures = 0;
      this.connecting = false;
      for (const item of this.queue.splice(0)) this.send(item);
      return;
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      const timedOut = deadline.aborted && !this.aborter.signal.aborted;
      failure = {
        condition: timedOut ? 'remote-server-timeout' : 'remote-server-not-found',
        text,
      };
      if (this.aborter.signal.aborted) return;
      if (this.stream !== null) {
        this.connecting = false;
        return;
      }
      this.deps.onFailure(timedOut ? 'timeout' : error instanceof OutboundFailure ? error.reason : 'resolve');
      this.deps.log({ err: error, remote: this.remote }, 'outbound stream failed');
    }
    this.failures++;
    this.downUntil =
      Date.now() + Math.min(this.deps.backoffMs * 2 ** (this.failures - 1), this.deps.backoffMaxMs);
    this.lastFailure = failure;
    this.connecting = false;
    for (const item of this.queue.splice(0)) this.bounce(item, failure);
  }

  /** Tries every target, and the whole list up to `connectAttempts` times with backoff. */
  private async establish(signal: AbortSignal): Promise<NegotiatedStream> {
    const resolution = await this.deps.resolver.resolve(this.remote);
    if (!('targets' in resolution) || resolution.targets.length === 0) {
      throw new Error(`no server found for ${this.remote}`);
    }
    let last: unknown = new Error('no attempt');
    for (let attempt = 0; attempt < this.deps.connectAttempts; attempt++) {
      if (attempt > 0)
        await delay(Math.min(this.deps.backoffMs * 2 ** (attempt - 1), this.deps.backoffMaxMs), signal);
      for (const target of resolution.targets) {
        if (signal.aborted) throw new OutboundFailure('connect', 'timed out');
        try {
          return await negotiate({
            target,
            local: this.local,
            remote: this.remote,
            context: this.deps.context,
            secret: this.deps.secret,
            dialbackAllowed: this.deps.dialbackAllowed,
            mode: 'authenticate',
            bidi: this.deps.bidi,
            signal,
          });
        } catch (error) {
          last = error;
          // RFC 7590: a TLS or authentication failure is final for this target; never retry in the clear.
        }
      }
    }
    throw last;
  }

  private attach(stream: NegotiatedStream): void {
    this.stream = stream;
    this.deps.onState('up', stream.method);
    this.touch();
    stream.onElement((el: Element) => {
      if (stream.bidi) this.deps.receive(el, stream);
      else
        this.deps.log({ remote: this.remote, element: el.getName() }, 'ignored element on outbound stream');
    });
    stream.onClosed(() => {
      clearTimeout(this.idle);
      if (this.stream === stream) this.stream = null;
      this.deps.onState('down');
    });
  }

  /**
   * XEP-0288: sends over a stream the remote opened to us and made bidirectional, unless this
   * link has its own stream already. False when not adopted.
   */
  adopt(stream: NegotiatedStream): boolean {
    if (this.stream !== null || this.aborter.signal.aborted) return false;
    this.attach(stream);
    this.failures = 0;
    this.downUntil = 0;
    this.lastFailure = null;
    for (const item of this.queue.splice(0)) this.send(item);
    return true;
  }

  /** Closes the stream; queued stanzas are neither sent nor bounced (their entries stay pending). */
  close(): void {
    this.queue.length = 0;
    this.aborter.abort();
    clearTimeout(this.idle);
    this.stream?.conn.close();
    this.stream = null;
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
