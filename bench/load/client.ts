import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ScramSha1Client } from './scram.js';

/**
 * A deliberately small XMPP client for load generation: STARTTLS, SCRAM-SHA-1,
 * bind, initial presence, then raw stanza strings in and out. No DOM, no XML
 * library: incoming bytes are only cut into top-level elements.
 */

export interface Target {
  readonly host: string;
  readonly port: number;
  readonly domain: string;
}

const STREAM_NS = "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'";

/** Cuts a stream into top-level elements (depth 1 under <stream:stream>), quote-aware inside tags. */
export class ElementSplitter {
  private buf = '';
  private pos = 0;
  private depth = 0;
  private start = 0;

  constructor(
    private readonly onElement: (xml: string) => void,
    private readonly onClose: () => void,
  ) {}

  reset(): void {
    this.buf = '';
    this.pos = 0;
    this.depth = 0;
    this.start = 0;
  }

  feed(chunk: string): void {
    this.buf += chunk;
    const buf = this.buf;
    let pos = this.pos;
    for (;;) {
      const lt = buf.indexOf('<', pos);
      if (lt < 0) {
        pos = buf.length;
        break;
      }
      let i = lt + 1;
      let quote = 0;
      for (; i < buf.length; i++) {
        const c = buf.charCodeAt(i);
        if (quote !== 0) {
          if (c === quote) quote = 0;
        } else if (c === 34 || c === 39) quote = c;
        else if (c === 62) break;
      }
      if (i >= buf.length) {
        pos = lt;
        break;
      }
      const second = buf.charCodeAt(lt + 1);
      pos = i + 1;
      if (second === 63 || second === 33) continue; // <?xml ?> or <!-- -->
      if (second === 47) {
        this.depth--;
        if (this.depth === 1) this.onElement(buf.slice(this.start, pos));
        else if (this.depth <= 0) {
          this.depth = 0;
          this.onClose();
        }
        continue;
      }
      const selfClosing = buf.charCodeAt(i - 1) === 47;
      if (this.depth === 0) {
        this.depth = 1; // <stream:stream ...>
      } else if (this.depth === 1) {
        this.start = lt;
        if (selfClosing) this.onElement(buf.slice(lt, pos));
        else this.depth = 2;
      } else if (!selfClosing) this.depth++;
    }
    const keep = this.depth >= 2 ? this.start : pos;
    this.buf = buf.slice(keep);
    this.pos = pos - keep;
    this.start -= keep;
  }
}

export class XmppError extends Error {
  override readonly name = 'XmppError';
}

const textOf = (xml: string, tag: string): string => {
  const open = xml.indexOf(`<${tag}`);
  if (open < 0) return '';
  const gt = xml.indexOf('>', open);
  if (xml.charCodeAt(gt - 1) === 47) return '';
  const close = xml.indexOf(`</${tag}>`, gt);
  return close < 0 ? '' : xml.slice(gt + 1, close);
};

/** An attribute of an element's start tag. */
export function attrOf(xml: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}=(['"])(.*?)\\1`).exec(xml.slice(0, xml.indexOf('>')));
  return m?.[2];
}

export interface LoginOptions {
  readonly username: string;
  readonly password: string;
  readonly resource?: string;
  /** XEP-0077: register the account on this stream first (an existing one is fine). */
  readonly register?: boolean;
  /** Stop after registration instead of logging in. */
  readonly registerOnly?: boolean;
  readonly timeoutMs?: number;
  /** XEP-0198: enable resumable stream management after login (`<enable resume='true'/>`). */
  readonly streamManagement?: boolean;
  /**
   * XEP-0198 §5: resume this session instead of binding a resource. `h` is the count of stanzas
   * the client handled on the old stream; counting goes on from it.
   */
  readonly resume?: { readonly previd: string; readonly h: number };
  /**
   * false: authenticate on the plain TCP stream, skipping STARTTLS (the server must allow SASL
   * without TLS: RFC 6120 §5.3.1 lets it offer STARTTLS without `<required/>`). Default true.
   */
  readonly tls?: boolean;
}

const SM_NS = 'urn:xmpp:sm:3';

/** The server answered `<resume/>` with `<failed/>` (XEP-0198 §5): the session is gone. */
export class ResumeFailedError extends Error {
  override readonly name = 'ResumeFailedError';
}

export class BenchClient {
  /** Stanzas after login, as raw strings. */
  onStanza: ((xml: string) => void) | null = null;
  tlsInfo = '';
  /** Called once when the connection is lost or the server closes the stream after login. */
  onClose: ((err: Error) => void) | null = null;
  /** XEP-0198 session id (`<enabled id>`), once stream management is on. */
  smId: string | null = null;
  /** XEP-0198 §5 `max` the server announced, in seconds. */
  smMaxSeconds: number | null = null;
  /** XEP-0198 §4: stanzas received since `<enabled/>` (or carried on from `<resume h>`), mod 2^32. */
  inbound = 0;
  private smActive = false;
  private ackWaiters: (() => void)[] = [];
  private socket: Socket | TLSSocket;
  private readonly splitter: ElementSplitter;
  private readonly queue: string[] = [];
  private waiter: { resolve: (xml: string) => void; reject: (err: Error) => void } | null = null;
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    socket: Socket,
    private readonly target: Target,
  ) {
    this.socket = socket;
    this.splitter = new ElementSplitter(
      (xml) => this.deliver(xml),
      () => this.fail(new XmppError('stream closed by server')),
    );
  }

  static async open(target: Target, options: LoginOptions): Promise<BenchClient> {
    const socket = netConnect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    const client = new BenchClient(socket, target);
    client.attach(socket);
    const timer = setTimeout(
      () => client.fail(new XmppError(`timeout logging in ${options.username}`)),
      options.timeoutMs ?? 60_000,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      await client.negotiate(options);
      return client;
    } catch (err) {
      client.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  send(xml: string): boolean {
    return this.socket.write(xml);
  }

  /** Closes the stream (RFC 6120 §4.4) and waits for the socket to close. */
  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 2000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end('</stream:stream>');
    });
    this.closed = true;
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.splitter.feed(chunk));
    socket.on('error', (err: Error) => this.fail(err));
    socket.on('close', () => this.fail(new XmppError('connection closed')));
  }

  /** Hands stanzas to `handler` from now on, first those that arrived before it was set. */
  listen(handler: (xml: string) => void): void {
    this.onStanza = handler;
    for (const xml of this.queue.splice(0)) handler(xml);
  }

  /**
   * XEP-0198 §4: tells the server what this client has handled (`<a h/>`) and asks for its count
   * (`<r/>`); resolves once the server's `<a/>` arrives, i.e. once it has processed the ack.
   */
  acknowledge(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure !== null) {
        reject(this.failure);
        return;
      }
      this.ackWaiters.push(resolve);
      this.socket.write(`<a xmlns='${SM_NS}' h='${this.inbound}'/><r xmlns='${SM_NS}'/>`);
    });
  }

  /** XEP-0198 bookkeeping before a stanza or nonza goes to the caller; true when it is consumed here. */
  private streamManagement(xml: string): boolean {
    if (this.smActive) {
      const c1 = xml.charCodeAt(1);
      // <message, <presence, <iq: stanzas count (§4); <r/> and <a/> are answered/consumed here.
      if (c1 === 109 || c1 === 112 || c1 === 105) {
        if (xml.startsWith('<message') || xml.startsWith('<presence') || xml.startsWith('<iq')) {
          this.inbound = (this.inbound + 1) % 2 ** 32;
          return false;
        }
      }
      if (xml.startsWith('<r ') || xml.startsWith('<r/') || xml.startsWith('<r>')) {
        this.socket.write(`<a xmlns='${SM_NS}' h='${this.inbound}'/>`);
        return true;
      }
      if (xml.startsWith('<a ') || xml.startsWith('<a/')) {
        for (const w of this.ackWaiters.splice(0)) w();
        return true;
      }
      return false;
    }
    if (xml.startsWith('<enabled') || xml.startsWith('<resumed')) {
      this.smActive = true;
      // Counting starts at <enabled/> (§4), or goes on from the h sent in <resume/> (§5).
      if (xml.startsWith('<enabled')) {
        this.inbound = 0;
        this.smId = attrOf(xml, 'id') ?? null;
      }
      const max = attrOf(xml, 'max');
      if (max !== undefined) this.smMaxSeconds = Number(max);
    }
    return false;
  }

  private deliver(xml: string): void {
    if (this.streamManagement(xml)) return;
    if (this.onStanza !== null) {
      this.onStanza(xml);
      return;
    }
    if (xml.startsWith('<stream:error')) {
      this.fail(new XmppError(`stream error: ${xml.slice(0, 300)}`));
      return;
    }
    if (this.waiter !== null) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(xml);
    } else this.queue.push(xml);
  }

  private fail(err: Error): void {
    if (this.failure !== null) return;
    this.failure = err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
    this.ackWaiters = [];
    this.onClose?.(err);
  }

  private next(): Promise<string> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  private async expect(prefix: string, what: string): Promise<string> {
    let xml: string;
    try {
      xml = await this.next();
    } catch (err) {
      throw new XmppError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!xml.startsWith(prefix)) throw new XmppError(`${what}: expected ${prefix}, got ${xml.slice(0, 300)}`);
    return xml;
  }

  private openStream(): void {
    this.splitter.reset();
    this.socket.write(
      `<?xml version='1.0'?><stream:stream to='${this.target.domain}' version='1.0' xml:lang='en' ${STREAM_NS}>`,
    );
  }

  private async negotiate(options: LoginOptions): Promise<void> {
    const raw = this.socket;
    this.openStream();
    await this.expect('<stream:features', 'features');
    // `secure` is the stream SASL and everything after it go over: the TLS socket, or `raw` without TLS.
    let secure: Socket | TLSSocket = raw;
    if (options.tls === false) this.tlsInfo = 'no TLS';
    else {
      raw.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      await this.expect('<proceed', 'starttls');
      raw.removeAllListeners('data');
      raw.removeAllListeners('error');
      raw.removeAllListeners('close');
      const tls = tlsConnect({ socket: raw, servername: this.target.domain, rejectUnauthorized: false });
      secure = tls;
      this.socket = tls;
      this.attach(tls);
      await new Promise<void>((resolve, reject) => {
        tls.once('secureConnect', resolve);
        tls.once('error', reject);
      });
      const cipher = tls.getCipher();
      this.tlsInfo = `${tls.getProtocol() ?? '?'} ${cipher.name}`;
      this.openStream();
      await this.expect('<stream:features', 'features after TLS');
    }

    if (options.register === true) {
      secure.write(
        `<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>${options.username}</username>` +
          `<password>${options.password}</password></query></iq>`,
      );
      const reply = await this.expect('<iq', 'register');
      if (!/type=['"]result['"]/.test(reply) && !reply.includes('<conflict')) {
        throw new XmppError(`registration of ${options.username} failed: ${reply.slice(0, 300)}`);
      }
      if (options.registerOnly === true) return;
    }

    const scram = new ScramSha1Client(options.username, options.password);
    secure.write(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${scram.first()}</auth>`,
    );
    const challenge = await this.expect('<challenge', 'SASL challenge');
    secure.write(
      `<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${scram.final(textOf(challenge, 'challenge'))}</response>`,
    );
    const success = await this.expect('<success', 'SASL success');
    if (!scram.verify(textOf(success, 'success'))) throw new XmppError('server signature mismatch');

    this.openStream();
    const features = await this.expect('<stream:features', 'features after SASL');
    if (options.resume !== undefined) {
      // XEP-0198 §5: after authentication, instead of binding.
      if (!features.includes(SM_NS)) throw new XmppError('no stream management offered after SASL');
      this.inbound = options.resume.h;
      this.smId = options.resume.previd;
      secure.write(`<resume xmlns='${SM_NS}' previd='${options.resume.previd}' h='${options.resume.h}'/>`);
      const answer = await this.next();
      if (answer.startsWith('<failed')) throw new ResumeFailedError(`resume failed: ${answer.slice(0, 300)}`);
      if (!answer.startsWith('<resumed')) throw new XmppError(`resume: got ${answer.slice(0, 300)}`);
      return;
    }
    secure.write(
      `<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${options.resource ?? 'bench'}</resource></bind></iq>`,
    );
    const bound = await this.expect('<iq', 'bind');
    if (!/type=['"]result['"]/.test(bound)) throw new XmppError(`bind failed: ${bound.slice(0, 300)}`);
    // RFC 3921 §3 session establishment, only when the server says it is not optional.
    const sessionAt = features.indexOf('urn:ietf:params:xml:ns:xmpp-session');
    if (sessionAt >= 0 && !features.slice(sessionAt, sessionAt + 120).includes('optional')) {
      secure.write("<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
      await this.expect('<iq', 'session');
    }
    // What a client does at login (RFC 6121 §2.2, §4.2): initial presence and a roster get.
    // The roster result arrives after the server has handled the presence sent before it.
    secure.write("<presence/><iq type='get' id='roster1'><query xmlns='jabber:iq:roster'/></iq>");
    for (;;) {
      const xml = await this.next();
      if (xml.startsWith('<iq') && xml.includes('roster1')) {
        if (!/type=['"]result['"]/.test(xml)) throw new XmppError(`roster get failed: ${xml.slice(0, 300)}`);
        break;
      }
    }
    if (options.streamManagement === true) {
      secure.write(`<enable xmlns='${SM_NS}' resume='true'/>`);
      for (;;) {
        const xml = await this.next();
        if (xml.startsWith('<failed')) throw new XmppError(`enable failed: ${xml.slice(0, 300)}`);
        if (xml.startsWith('<enabled')) {
          if (attrOf(xml, 'resume') !== 'true' && attrOf(xml, 'resume') !== '1') {
            throw new XmppError(`stream management enabled without resumption: ${xml.slice(0, 300)}`);
          }
          break;
        }
      }
    }
  }
}
