/**
 * Cheap splitting of addresses that are already normalized: the edge stamps
 * `from` and validates `to` (ARCHITECTURE.md, "A stanza's walk"), so the hot
 * path needs no PRECIS work. RFC 7622 §3.1: the first '/' starts the
 * resourcepart, and a localpart cannot contain '/' or '@'.
 */
export interface Address {
  /** The bare JID (localpart@domain or domain). */
  readonly bare: string;
  readonly local: string;
  readonly domain: string;
  /** '' when the address is bare. */
  readonly resource: string;
}

export function splitAddress(jid: string): Address {
  const slash = jid.indexOf('/');
  const bare = slash === -1 ? jid : jid.slice(0, slash);
  const at = bare.indexOf('@');
  return {
    bare,
    local: at === -1 ? '' : bare.slice(0, at),
    domain: at === -1 ? bare : bare.slice(at + 1),
    resource: slash === -1 ? '' : jid.slice(slash + 1),
  };
}

export function bareOf(jid: string): string {
  const slash = jid.indexOf('/');
  return slash === -1 ? jid : jid.slice(0, slash);
}

export function domainOf(jid: string): string {
  const bare = bareOf(jid);
  const at = bare.indexOf('@');
  return at === -1 ? bare : bare.slice(at + 1);
}
