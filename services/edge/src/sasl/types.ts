import type { LoginThrottle } from './throttle.js';

/** One account's salted SCRAM secrets for one hash; the same shape as `@switchboard/store` keeps. */
export interface ScramCredential {
  iterations: number;
  /** base64 */
  salt: string;
  /** base64 of H(ClientKey) (RFC 5802 §3) */
  storedKey: string;
  /** base64 of HMAC(SaltedPassword, "Server Key") (RFC 5802 §3) */
  serverKey: string;
}

export interface Credentials {
  'SCRAM-SHA-1': ScramCredential;
  'SCRAM-SHA-256': ScramCredential;
}

/** RFC 6120 §6.5 defined conditions, the only children a `<failure/>` may carry. */
export type SaslCondition =
  | 'aborted'
  | 'account-disabled'
  | 'credentials-expired'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'mechanism-too-weak'
  | 'not-authorized'
  | 'temporary-auth-failure';

export interface SaslChallenge {
  kind: 'challenge';
  data: Buffer;
}

export interface SaslSuccess {
  kind: 'success';
  /** Additional data with success (RFC 6120 §6.3.10), e.g. SCRAM's `v=` server signature. */
  data?: Buffer;
  /** The authzid the client asked for, when it gave one (already checked against its own bare JID). */
  authzid?: string;
  /** The SASLprep'd simple username (RFC 6120 §6.3.7): the localpart; the edge maps it to user@domain. */
  username: string;
}

export interface SaslFailure {
  kind: 'failure';
  condition: SaslCondition;
  /** For logs and the optional `<text/>`; never says whether the account exists. */
  text?: string;
  /** Set with `temporary-auth-failure` caused by throttling. */
  retryAfterMs?: number;
}

export type SaslStep = SaslChallenge | SaslSuccess | SaslFailure;

/**
 * Channel-binding types we implement (RFC 9266, RFC 5929). tls-unique is kept
 * for the many OpenSSL-based clients (slixmpp, Poezio, older Conversations)
 * that know no other; it is offered last.
 */
export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point' | 'tls-unique';

/** The TLS facts channel binding needs, taken from the stream's TLS socket by the edge. */
export interface TlsChannel {
  /** RFC 9266: exporter with label "EXPORTER-Channel-Binding", 32 bytes, empty context. */
  exporter(): Buffer;
  /** RFC 5929 §4.1: hash of the server's certificate. */
  serverEndPoint(): Buffer;
  /** RFC 5929 §3.1: the first Finished message of the handshake. */
  unique(): Buffer;
}

/** Account state checked after the credentials were proven, so it never leaks whether an account exists. */
export type AccountStatus = 'ok' | 'account-disabled' | 'credentials-expired';

export interface SaslContext {
  /** Credentials for a SASLprep'd localpart, or null when there is no such account; may throw when the store is down. */
  lookup(username: string): Promise<Credentials | null>;
  /** The stream's domain: an authzid must be empty or `username@domain`. */
  domain: string;
  /** Null when the stream is not (yet) encrypted. */
  tls: TlsChannel | null;
  /** Channel-binding types the edge offers on this stream (what `mechanismsFor` was given). */
  bindings: readonly ChannelBindingType[];
  /** Key for fake salts of unknown users; keep it stable across restarts and edges, and secret. */
  fakeSaltSecret: Buffer;
  /** Stored credentials with fewer iterations are refused (mechanism-too-weak). Default 4096. */
  minIterations?: number;
  /** Iteration count shown for unknown users; make it match what registration uses. Default 4096. */
  fakeIterations?: number;
  /** Offer and accept PLAIN on an unencrypted stream (tests, loopback setups). Default false. */
  allowPlaintextPlain?: boolean;
  /** Called after a successful proof; disabled or expired accounts fail with the matching condition. */
  checkAccount?(username: string): Promise<AccountStatus>;
  /** Overrides the authzid rule (e.g. with PRECIS-normalized JIDs); default compares `localpart@domain`. */
  isOwnJid?(authzid: string, username: string): boolean;
  /** When set, each attempt checks and records failures per IP and per account. */
  throttle?: { limiter: LoginThrottle; ip: string };
  /** Test hook: the server nonce part (printable, no ','). Default 24 random bytes in base64. */
  nonce?: () => string;
}

/** One authentication attempt with one mechanism (RFC 6120 §6.4). */
export interface SaslServer {
  readonly mechanism: string;
  /** The `<auth/>` element: initial response or null when the client sent none. */
  start(initialResponse: Buffer | null): Promise<SaslStep>;
  /** A `<response/>` element. */
  step(response: Buffer): Promise<SaslStep>;
  /** The client sent `<abort/>` (RFC 6120 §6.4.4). */
  abort(): SaslFailure;
}
