import { randomUUID } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import { tryParseJid } from '@switchboard/jid';
import { NS, xml, type Attrs, type Element } from '@switchboard/xml';
import type { ServerConnection } from './connection.js';
import { NS_BIDI, NS_BIDI_FEATURE } from './bidi.js';
import { NS_DIALBACK, NS_DIALBACK_FEATURE, dialbackKey, keysMatch } from './dialback.js';
import { certificateNames } from './identity.js';
import type { Policy } from './policy.js';

export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

export interface InboundDeps {
  readonly context: SecureContext;
  readonly policy: Policy;
  readonly secret: string;
  readonly idleTimeoutMs: number;
  /** XEP-0288: offer bidirectional streams. */
  readonly bidi: boolean;
  /** XEP-0288: `remote` authenticated on a bidirectional stream, which may now carry our stanzas to it. */
  onBidi(stream: InboundStream, local: string, remote: string): void;
  /** XEP-0220 receiving role: asks `remote`'s authoritative server whether `key` is right. */
  verify(remote: string, local: string, streamId: string, key: string): Promise<boolean>;
  /** A checked stanza from an authenticated remote domain, for the router. */
  deliver(el: Element, remoteDomain: string): void;
  onAuthenticated(remote: string, method: 'external' | 'dialback'): void;
  onClosed(stream: InboundStream): void;
  log(fields: Record<string, unknown>, message: string): void;
}

const STANZAS: ReadonlySet<string> = new Set(['message', 'presence', 'iq']);

/**
 * The receiving side of a server stream (RFC 6120 §4, §5, §6; XEP-0220):
 * STARTTLS is required, then SASL EXTERNAL for a peer whose certificate
 * names its domain, or dialback. Stanzas are accepted only from the
 * domains this stream authenticated (RFC 6120 §4.9.3.9 invalid-from).
 */
export class InboundStream {
  readonly authenticated = new Set<string>();
  private streamId = '';
  /** The stream header's 'from': the domain SASL EXTERNAL authenticates. */
  private peerDomain: string | undefined;
  private localDomain = '';
  private saslDone = false;
  /** XEP-0288: the initiator asked for a bidirectional stream. */
  private bidi = false;
  /** XEP-0288 with SASL: the domain to announce once the peer restarted the stream. */
  private bidiAfterRestart: string | undefined;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    readonly conn: ServerConnection,
    private readonly deps: InboundDeps,
  ) {
    conn.attach({
      streamStart: (attrs) => this.onStreamStart(attrs),
      element: (el) => this.onElement(el),
      closed: (reason) => {
        clearTimeout(this.idle);
        if (reason !== null) deps.log({ err: reason, peer: this.peerDomain }, 'inbound stream closed');
        deps.onClosed(this);
      },
    });
    this.touch();
  }

  private touch(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.conn.close(), this.deps.idleTimeoutMs);
    this.idle.unref();
  }

  private onStreamStart(attrs: Attrs): void {
    const to = attrs['to'];
    const from = attrs['from'];
    this.streamId = randomUUID();
    this.localDomain = to ?? '';
    this.conn.open({ from: this.localDomain, to: from ?? '', id: this.streamId });
    if (attrs['xmlns'] !== NS.SERVER) {
      this.conn.streamError('invalid-namespace'); // RFC 6120 §4.9.3.10
      return;
    }
    if (to === undefined || !this.deps.policy.isLocal(to)) {
      this.conn.streamError('host-unknown'); // RFC 6120 §4.9.3.6
      return;
    }
    if (from !== undefined) {
      const domain = tryParseJid(from)?.domain;
      if (domain === undefined || this.deps.policy.isLocal(domain)) {
        this.conn.streamError('invalid-from');
        return;
      }
      if (!this.deps.policy.federates(domain)) {
        this.conn.streamError('policy-violation', `federation with ${domain} is not allowed`);
        return;
      }
      this.peerDomain = domain;
    }
    if (attrs['version'] !== '1.0') {
      // RFC 6120 §4.7.5: without version 1.0 there are no features, so no STARTTLS either.
      this.conn.streamError('unsupported-version');
      return;
    }
    this.conn.send(this.features());
    if (this.bidiAfterRestart !== undefined) {
      const remote = this.bidiAfterRestart;
      this.bidiAfterRestart = undefined;
      this.deps.onBidi(this, this.localDomain, remote);
    }
  }

  private features(): Element {
    const features = xml('stream:features', {});
    if (!this.conn.secure) {
      features.append(xml('starttls', { xmlns: NS_TLS }, xml('required', {})));
      return features;
    }
    const tls = this.conn.tls;
    if (
      !this.saslDone &&
      tls !== null &&
      this.peerDomain !== undefined &&
      certificateNames(tls, this.peerDomain)
    ) {
      features.append(xml('mechanisms', { xmlns: NS_SASL }, xml('mechanism', {}, 'EXTERNAL')));
    }
    if (!this.saslDone) features.append(xml('dialback', { xmlns: NS_DIALBACK_FEATURE }, xml('errors', {})));
    // XEP-0288 §2: offered on the secured stream, before authentication.
    if (this.deps.bidi && !this.saslDone && this.authenticated.size === 0)
      features.append(xml('bidi', { xmlns: NS_BIDI_FEATURE }));
    return features;
  }

  private onElement(el: Element): void {
    this.touch();
    const ns = el.getNS();
    const name = el.getName();
    if (ns === NS_TLS && name === 'starttls') {
      if (this.conn.secure) {
        this.conn.streamError('policy-violation', 'TLS is already on');
        return;
      }
      this.conn.upgradeAsServer(this.deps.context, () => undefined);
      return;
    }
    if (!this.conn.secure) {
      // RFC 6120 §5.3.1: TLS is mandatory-to-negotiate here; nothing else before it.
      this.conn.streamError('policy-violation', 'STARTTLS is required');
      return;
    }
    if (ns === NS_BIDI && name === 'bidi') {
      if (this.deps.bidi && this.authenticated.size === 0) this.bidi = true;
      return;
    }
    if (ns === NS_SASL && name === 'auth') {
      this.onAuth(el);
      return;
    }
    if (ns === NS_DIALBACK && name === 'result') {
      void this.onDialbackResult(el);
      return;
    }
    if (ns === NS_DIALBACK && name === 'verify') {
      this.onDialbackVerify(el);
      return;
    }
    if (ns === NS.SERVER && STANZAS.has(name)) {
      this.onStanza(el);
      return;
    }
    this.conn.streamError('unsupported-stanza-type', `<${name}/> in ${ns}`);
  }

  /** RFC 6120 §6.4 with EXTERNAL (RFC 4422 App. A, XEP-0178 §3). */
  private onAuth(el: Element): void {
    const failure = (): void => this.conn.send(xml('failure', { xmlns: NS_SASL }, xml('not-authorized', {})));
    const tls = this.conn.tls;
    if (el.attrs['mechanism'] !== 'EXTERNAL' || this.saslDone || tls === null) {
      this.conn.send(xml('failure', { xmlns: NS_SASL }, xml('invalid-mechanism', {})));
      return;
    }
    const text = el.getText().trim();
    const authzid =
      text === '' || text === '=' ? this.peerDomain : Buffer.from(text, 'base64').toString('utf8');
    if (authzid === undefined || authzid !== this.peerDomain || !certificateNames(tls, authzid)) {
      failure();
      return;
    }
    this.saslDone = true;
    this.authenticated.add(authzid);
    this.deps.onAuthenticated(authzid, 'external');
    this.conn.send(xml('success', { xmlns: NS_SASL }));
    this.conn.restart();
    // Our stanzas may follow only once the restarted stream is open (RFC 6120 §6.4.6).
    if (this.bidi) this.bidiAfterRestart = authzid;
  }

  /** XEP-0220 §2.1.2–2.4: the originating server asks us to accept its domain. */
  private async onDialbackResult(el: Element): Promise<void> {
    const from = el.attrs['from'] ?? '';
    const to = el.attrs['to'] ?? '';
    const key = el.getText().trim();
    const answer = (type: string, error?: string): void => {
      const reply = xml('db:result', { from: to, to: from, type });
      if (error !== undefined)
        reply.append(
          xml('error', { type: 'cancel' }, xml(error, { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' })),
        );
      this.conn.send(reply);
    };
    if (!this.deps.policy.isLocal(to)) {
      answer('error', 'item-not-found');
      return;
    }
    if (
      tryParseJid(from)?.domain !== from ||
      this.deps.policy.isLocal(from) ||
      !this.deps.policy.federates(from)
    ) {
      answer('error', 'not-allowed');
      return;
    }
    const tls = this.conn.tls;
    // XEP-0344 §2.3: a certificate that names the domain is proof enough.
    const certified = tls !== null && certificateNames(tls, from);
    if (!certified && !this.deps.policy.dialback(from)) {
      answer('error', 'not-allowed');
      return;
    }
    let valid = certified;
    if (!valid) {
      try {
        valid = await this.deps.verify(from, to, this.streamId, key);
      } catch (error) {
        this.deps.log({ err: error, peer: from }, 'dialback verification failed');
        answer('error', 'remote-server-not-found');
        return;
      }
    }
    if (this.conn.closed) return;
    if (valid) {
      this.authenticated.add(from);
      this.deps.onAuthenticated(from, 'dialback');
      answer('valid');
      if (this.bidi) this.deps.onBidi(this, to, from);
    } else {
      answer('invalid');
    }
  }

  /** XEP-0220 §2.2: the authoritative role, checking a key we generated for one of our streams. */
  private onDialbackVerify(el: Element): void {
    const receiving = el.attrs['from'] ?? '';
    const originating = el.attrs['to'] ?? '';
    const id = el.attrs['id'] ?? '';
    const valid =
      this.deps.policy.isLocal(originating) &&
      keysMatch(dialbackKey(this.deps.secret, receiving, originating, id), el.getText().trim());
    this.conn.send(
      xml('db:verify', { from: originating, to: receiving, id, type: valid ? 'valid' : 'invalid' }),
    );
  }

  private onStanza(el: Element): void {
    if (this.authenticated.size === 0) {
      this.conn.streamError('not-authorized'); // RFC 6120 §4.9.3.12
      return;
    }
    const from = tryParseJid(el.attrs['from'] ?? '');
    const to = tryParseJid(el.attrs['to'] ?? '');
    if (from === null || to === null) {
      this.conn.streamError('improper-addressing'); // RFC 6120 §4.9.3.7
      return;
    }
    if (!this.authenticated.has(from.domain)) {
      this.conn.streamError('invalid-from', `${from.domain} is not authenticated on this stream`);
      return;
    }
    if (!this.deps.policy.isLocal(to.domain)) {
      this.conn.streamError('host-unknown', `${to.domain} is not served here`);
      return;
    }
    el.attrs['from'] = from.toString();
    el.attrs['to'] = to.toString();
    this.deps.deliver(el, from.domain);
  }
}
