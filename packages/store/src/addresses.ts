/**
 * The little JID string handling the store needs. Callers pass normalized
 * JIDs (RFC 7622), so splitting at the first '/' and then at '@' is exact:
 * a localpart cannot contain '@' or '/', a resource may contain both.
 */

/** Orders strings by their UTF-8 bytes, as SQLite's BINARY collation and Redis' lex ranges do. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The domainpart of a bare or full JID. */
export function domainOf(jid: string): string {
  const slash = jid.indexOf('/');
  const bare = slash === -1 ? jid : jid.slice(0, slash);
  const at = bare.indexOf('@');
  return at === -1 ? bare : bare.slice(at + 1);
}

/**
 * The list entries that match `jid`, most specific first, per the XEP-0016
 * §2.1 order XEP-0191 §3.4 refers to: user@domain/resource, user@domain,
 * domain/resource, domain.
 */
export function blockCandidates(jid: string): string[] {
  const slash = jid.indexOf('/');
  const bare = slash === -1 ? jid : jid.slice(0, slash);
  const resource = slash === -1 ? null : jid.slice(slash + 1);
  const at = bare.indexOf('@');
  const domain = at === -1 ? bare : bare.slice(at + 1);
  const out = [jid];
  if (resource !== null) out.push(bare);
  if (at !== -1 && resource !== null) out.push(`${domain}/${resource}`);
  if (at !== -1 || resource !== null) out.push(domain);
  return out;
}

export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
