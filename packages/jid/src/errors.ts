/** The three parts of a JID (RFC 7622 §3.1). */
export type JidPart = 'localpart' | 'domainpart' | 'resourcepart';

/**
 * Why a part was refused. Every reason is `jid-malformed` on the wire
 * (RFC 6120 §8.3.3.8); the reason is for logs and tests.
 */
export type JidErrorReason =
  /** A separator was present but the part after/before it is empty, or the part maps to nothing. */
  | 'empty'
  /** More than 1023 octets of UTF-8 after normalization (RFC 7622 §3.2–3.4). */
  | 'too-long'
  /** One of `" & ' / : < > @` in a localpart (RFC 7622 §3.3.1). */
  | 'forbidden-character'
  /** A code point the PRECIS string class or IDNA2008 does not allow, or whose context rule fails. */
  | 'disallowed-character'
  /** Not a domain name, IPv4 address or bracketed IPv6 literal (RFC 7622 §3.2). */
  | 'invalid-domain';

export class JidError extends Error {
  override readonly name = 'JidError';

  constructor(
    readonly part: JidPart,
    readonly reason: JidErrorReason,
    detail: string,
  ) {
    super(`${part}: ${reason}: ${detail}`);
  }
}
