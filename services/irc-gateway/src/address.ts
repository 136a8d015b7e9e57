/**
 * Addresses on the gateway, biboumi style (ARCHITECTURE.md, "Gateways"):
 * `#channel%irc.example.net@irc.<domain>` is a channel (a MUC room, occupants
 * are `…/nick`), `nick%irc.example.net@irc.<domain>` an IRC user, and
 * `irc.example.net@irc.<domain>` the IRC server itself (ad-hoc commands, channel lists).
 *
 * Characters a JID localpart may not hold are escaped as XEP-0106 prescribes;
 * the server is what follows the last `%`, since channel names may contain `%`
 * but host names cannot.
 */

export type IrcAddress =
  | { readonly kind: 'gateway' }
  | { readonly kind: 'server'; readonly server: string }
  | { readonly kind: 'channel'; readonly server: string; readonly channel: string }
  | { readonly kind: 'user'; readonly server: string; readonly nick: string };

export type AddressError = 'jid-malformed';

// XEP-0106 §4.2: the characters escaped in a localpart.
const ESCAPES: ReadonlyMap<string, string> = new Map([
  [' ', '\\20'],
  ['"', '\\22'],
  ['&', '\\26'],
  ["'", '\\27'],
  ['/', '\\2f'],
  [':', '\\3a'],
  ['<', '\\3c'],
  ['>', '\\3e'],
  ['@', '\\40'],
  ['\\', '\\5c'],
]);
const UNESCAPES: ReadonlyMap<string, string> = new Map([...ESCAPES].map(([c, e]) => [e.slice(1), c]));

/** XEP-0106 §4.2 escaping of one localpart; `\` is escaped only where it starts an escape sequence. */
export function escapeLocal(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      const next = raw.slice(i + 1, i + 3).toLowerCase();
      out += UNESCAPES.has(next) ? '\\5c' : '\\';
      continue;
    }
    out += ESCAPES.get(c) ?? c;
  }
  return out;
}

/** XEP-0106 §4.3 unescaping. */
export function unescapeLocal(local: string): string {
  return local.replace(
    /\\([0-9a-fA-F]{2})/g,
    (whole, hex: string) => UNESCAPES.get(hex.toLowerCase()) ?? whole,
  );
}

// RFC 2812 §1.3 channel prefixes; the rest of the name has no NUL, BEL, CR, LF, space, comma or colon.
// eslint-disable-next-line no-control-regex -- RFC 2812 names the control characters a channel name excludes
const CHANNEL = /^[#&+!][^\0\x07\r\n ,:]{1,199}$/;
// RFC 2812 §2.3.1 nicknames, with the lengths and characters networks accept today.
const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]{0,49}$/;
// Host names (RFC 1123) and IPv4 literals; IPv6 is written in brackets elsewhere and not accepted here.
const HOST =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const isChannelName = (name: string): boolean => CHANNEL.test(name);
export const isNick = (nick: string): boolean => NICK.test(nick);
export const isServerName = (host: string): boolean => HOST.test(host);

/** What a localpart of the gateway's domain names; `jid-malformed` for names IRC cannot carry. */
export function parseLocal(local: string): IrcAddress | AddressError {
  if (local === '') return { kind: 'gateway' };
  const raw = unescapeLocal(local);
  const at = raw.lastIndexOf('%');
  if (at === -1) return isServerName(raw) ? { kind: 'server', server: raw.toLowerCase() } : 'jid-malformed';
  const name = raw.slice(0, at);
  const server = raw.slice(at + 1).toLowerCase();
  if (!isServerName(server)) return 'jid-malformed';
  if (/^[#&+!]/.test(name))
    return isChannelName(name) ? { kind: 'channel', server, channel: name } : 'jid-malformed';
  return isNick(name) ? { kind: 'user', server, nick: name } : 'jid-malformed';
}

/** The bare JID of a channel's room. */
export function channelJid(channel: string, server: string, domain: string): string {
  return `${escapeLocal(`${channel}%${server}`).toLowerCase()}@${domain}`;
}

/** The bare JID of an IRC user, for direct chats. */
export function userJid(nick: string, server: string, domain: string): string {
  return `${escapeLocal(`${nick}%${server}`).toLowerCase()}@${domain}`;
}

export function serverJid(server: string, domain: string): string {
  return `${escapeLocal(server).toLowerCase()}@${domain}`;
}
