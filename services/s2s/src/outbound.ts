import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type SecureContext, type TLSSocket } from 'node:tls';
import { NS, xml, type Element } from '@switchboard/xml';
import { ServerConnection } from './connection.js';
import { NS_BIDI, NS_BIDI_FEATURE } from './bidi.js';
import { NS_DIALBACK, dialbackKey } from './dialback.js';
import { certificateNames } from './identity.js';
import { NS_SASL, NS_TLS } from './inbound.js';
import type { Target } from './resolver.js';

/** Why an outbound stream failed; maps onto the bounce condition. */
export type FailureReason = 'connect' | 'tls' | 'auth' | 'closed';

export class OutboundFailure extends Error {
  override readonly name = 'OutboundFailure';
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
  }
}

export interface NegotiateOptions {
  readonly target: Target;
  readonly local: string;
  readonly remote: string;
  readonly context: SecureContext;
  readonly secret: string;
  /** Whether we may go on when the peer's certificate does not name it, and authenticate by dialback. */
  readonly dialbackAllowed: boolean;
  /**
   * 'authenticate': get the stream ready to carry our stanzas. 'verify': stop
   * once TLS is up and ready for a XEP-0220 db:verify (receiving role).
   */
  readonly mode: 'authenticate' | 'verify';
  /** XEP-0288: ask for a bidirectional stream when offered (only to a peer whose certificate validated). */
  readonly bidi?: boolean;
  readonly signal: AbortSignal;
}

export interface NegotiatedStream {
  readonly conn: ServerConnection;
  readonly method: 'external' | 'dialback' | 'none' | 'bidi';
  /**
   * XEP-0288: the peer may send us stanzas on this stream too, from its domain (the one its
   * certificate was validated for) to ours.
   */
  readonly bidi: boolean;
  /** Elements after negotiation (db:verify answers, errors). */
  onElement(handler: (el: Element) => void): void;
  onClosed(handler: (reason: Error | null) => void): void;
}

/**
 * The initiating side of a server stream to one target (RFC 6120 §4–6):
 * TCP (or TLS at once for XEP-0368), STARTTLS which is never skipped, the
 * peer's certificate checked against its domain (RFC 7590), then SASL
 * EXTERNAL when offered, else dialback (XEP-0220) when allowed.
 */
export function negotiate(options: NegotiateOptions): Promise<NegotiatedStream> {
  const { target, local, remote } = options;
  return new Promise((resolve, reject) => {
    let settled = false;
    let elementHandler: ((el: Element) => void) | null = null;
    const early: Element[] = [];
    /** Set when the stream closed before anyone asked to hear of it. */
    let closedEarly: { reason: Error | null } | undefined;
    let closedHandler: ((reason: Error | null) => void) | null = null;
    let step: (el: Element) => void = () => undefined;
    let streamId = '';
    let saslDone = false;
    let method: NegotiatedStream['method'] = 'none';
    let peerCertified = false;
    let bidi = false;

    const socket = target.directTls
      ? tlsConnect({
          host: target.host,
          port: target.port,
          servername: remote,
          secureContext: options.context,
          ALPNProtocols: ['xmpp-server'], // XEP-0368 §3
          rejectUnauthorized: false,
        })
      : netConnect({ host: target.host, port: target.port });
    const conn = new ServerConnection(socket);

    const fail = (reason: FailureReason, message: string): void => {
      if (settled) return;
      settled = true;
      conn.close();
      reject(new OutboundFailure(reason, message));
    };
    const abort = (): void => fail('connect', 'aborted');
    options.signal.addEventListener('abort', abort, { once: true });

    const done = (): void => {
      if (settled) return;
      settled = true;
      options.signal.removeEventListener('abort', abort);
      resolve({
        conn,
        method,
        bidi,
        onElement: (h) => {
          elementHandler = h;
          // What arrived between negotiation and this call (same read as the last features, XEP-0288).
          for (const el of early.splice(0)) h(el);
        },
        onClosed: (h) => {
          closedHandler = h;
          if (closedEarly !== undefined) h(closedEarly.reason);
        },
      });
    };

    const checkPeer = (): boolean => {
      const tls = conn.tls as TLSSocket;
      if (certificateNames(tls, remote)) {
        peerCertified = true;
        return true;
      }
      // RFC 7590 §3.4 / XEP-0344: an unvalidated certificate is acceptable only with dialback.
      if (!options.dialbackAllowed) {
        fail('tls', `the certificate of ${remote} does not validate and dialback is not allowed`);
        return false;
      }
      return true;
    };

    const afterSecure = (features: Element): void => {
      if (options.mode === 'verify') {
        done();
        return;
      }
      // XEP-0288 §2: requested before authentication; the peer's identity must be proven by its
      // certificate (§6), since stanzas from it will arrive on this stream.
      if (options.bidi === true && !saslDone && peerCertified && features.getChild('bidi', NS_BIDI_FEATURE)) {
        conn.send(xml('bidi', { xmlns: NS_BIDI }));
        bidi = true;
      }
      const mechanisms = features.getChild('mechanisms', NS_SASL);
      const external = mechanisms?.getChildren('mechanism').some((m) => m.getText() === 'EXTERNAL') ?? false;
      if (!saslDone && external) {
        step = (el) => {
          if (el.is('success', NS_SASL)) {
            saslDone = true;
            method = 'external';
            conn.restart();
            step = onFeatures;
            conn.open({ from: local, to: remote });
          } else if (options.dialbackAllowed && el.is('failure', NS_SASL)) {
            startDialback();
          } else fail('auth', `SASL EXTERNAL failed at ${remote}`);
        };
        // XEP-0178 §3: the authorization identity is our domain.
        conn.send(
          xml('auth', { xmlns: NS_SASL, mechanism: 'EXTERNAL' }, Buffer.from(local).toString('base64')),
        );
        return;
      }
      if (saslDone) {
        done();
        return;
      }
      if (!options.dialbackAllowed) {
        fail('auth', `${remote} offers no SASL EXTERNAL and dialback is not allowed`);
        return;
      }
      startDialback();
    };

    const startDialback = (): void => {
      step = (el) => {
        if (!el.is('result', NS_DIALBACK)) return;
        if (el.attrs['type'] === 'valid') {
          method = 'dialback';
          done();
        } else fail('auth', `${remote} refused our dialback key (${el.attrs['type'] ?? 'no type'})`);
      };
      conn.send(
        xml('db:result', { from: local, to: remote }, dialbackKey(options.secret, remote, local, streamId)),
      );
    };

    const onFeatures = (el: Element): void => {
      if (!el.is('features', NS.STREAMS)) return;
      if (!conn.secure) {
        // RFC 7590 §3.1: TLS or nothing; a stream without STARTTLS is never used in the clear.
        if (el.getChild('starttls', NS_TLS) === undefined) {
          fail('tls', `${remote} does not offer STARTTLS`);
          return;
        }
        step = (proceed) => {
          if (!proceed.is('proceed', NS_TLS)) {
            fail('tls', `${remote} refused STARTTLS`);
            return;
          }
          conn.upgradeAsClient(options.context, remote, () => {
            if (!checkPeer()) return;
            step = onFeatures;
            conn.open({ from: local, to: remote });
          });
        };
        conn.send(xml('starttls', { xmlns: NS_TLS }));
        return;
      }
      afterSecure(el);
    };

    conn.attach({
      streamStart: (attrs) => {
        streamId = attrs['id'] ?? '';
        if (attrs['version'] !== '1.0') fail('tls', `${remote} speaks no XMPP 1.0 stream (no STARTTLS)`);
      },
      element: (el) => {
        if (el.is('error', NS.STREAMS)) {
          const first = el.children.find((c): c is Element => typeof c !== 'string');
          const condition = first?.getName() ?? 'undefined-condition';
          if (settled) conn.close(new Error(`stream error ${condition}`));
          else fail('auth', `${remote} sent stream error ${condition}`);
          return;
        }
        if (!settled) step(el);
        else if (elementHandler !== null) elementHandler(el);
        else early.push(el);
      },
      closed: (reason) => {
        if (!settled) {
          fail(
            conn.secure || saslDone ? 'auth' : 'connect',
            reason?.message ?? `${remote} closed the stream`,
          );
          return;
        }
        if (closedHandler !== null) closedHandler(reason);
        else closedEarly = { reason };
      },
    });
    step = onFeatures;
    const opening = (): void => conn.open({ from: local, to: remote });
    if (target.directTls) {
      socket.once('secureConnect', () => {
        if (checkPeer()) opening();
      });
    } else socket.once('connect', opening);
  });
}
