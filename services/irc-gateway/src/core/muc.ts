import { xml, type Element } from '@switchboard/xml';

export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
export const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';

export type Role = 'moderator' | 'participant' | 'visitor' | 'none';
export type Affiliation = 'owner' | 'admin' | 'member' | 'none';

/**
 * IRC channel modes of a member as a MUC role and affiliation, as biboumi maps
 * them: founder (q) → owner, protected (a) and operator (o) → admin and
 * moderator, half-op (h) → member and moderator, voice (v) → member.
 */
export function roleOf(modes: ReadonlySet<string>): { role: Role; affiliation: Affiliation } {
  if (modes.has('q')) return { role: 'moderator', affiliation: 'owner' };
  if (modes.has('a') || modes.has('o')) return { role: 'moderator', affiliation: 'admin' };
  if (modes.has('h')) return { role: 'moderator', affiliation: 'member' };
  if (modes.has('v')) return { role: 'participant', affiliation: 'member' };
  return { role: 'participant', affiliation: 'none' };
}

/** The channel modes that change a member's role. */
export const MEMBER_MODES: ReadonlySet<string> = new Set(['q', 'a', 'o', 'h', 'v']);

export interface OccupantPresence {
  readonly from: string;
  readonly to: string;
  readonly modes: ReadonlySet<string>;
  readonly unavailable?: boolean;
  /** XEP-0045 §15.6 status codes (110 self, 210 nick modified, 303 nick change, 307 kicked). */
  readonly codes?: readonly number[];
  /** The new nick, with status 303. */
  readonly newNick?: string;
  readonly actor?: string;
  readonly reason?: string;
  readonly status?: string;
  /** The IRC user is away (RFC 2812 §4.1 AWAY), with their message ('' when unknown): `<show>away</show>`. */
  readonly away?: string | undefined;
  /** An XMPP occupant's own `show` (RFC 6121 §4.7.2.1), reflected as they sent it. */
  readonly show?: string | undefined;
}

/** An occupant's presence in the room (XEP-0045 §7.2.3). */
export function occupantPresence(p: OccupantPresence): Element {
  const { role, affiliation } = roleOf(p.modes);
  const away = p.unavailable !== true && p.away !== undefined;
  const status = p.status ?? (away && p.away !== '' ? p.away : undefined);
  return xml(
    'presence',
    { from: p.from, to: p.to, type: p.unavailable === true ? 'unavailable' : undefined },
    p.unavailable !== true && p.show !== undefined
      ? xml('show', {}, p.show)
      : away
        ? xml('show', {}, 'away')
        : null,
    status === undefined ? null : xml('status', {}, status),
    xml(
      'x',
      { xmlns: NS_MUC_USER },
      xml(
        'item',
        { affiliation, role: p.unavailable === true ? 'none' : role, nick: p.newNick },
        p.actor === undefined ? null : xml('actor', { nick: p.actor }),
        p.reason === undefined || p.reason === '' ? null : xml('reason', {}, p.reason),
      ),
      ...(p.codes ?? []).map((code) => xml('status', { code: String(code) })),
    ),
  );
}

/** XEP-0249 §2: a direct invitation to a room. */
export function directInvite(from: string, to: string, room: string, reason?: string): Element {
  return xml('message', { from, to }, xml('x', { xmlns: NS_CONFERENCE, jid: room, reason }));
}

export const NS_CONFERENCE = 'jabber:x:conference';

/** A groupchat message from the room or an occupant. */
export function groupchat(from: string, to: string, body: string, id?: string): Element {
  return xml('message', { from, to, type: 'groupchat', id }, xml('body', {}, body));
}

/** The room's subject (XEP-0045 §7.2.15): sent on join even when empty. */
export function subjectMessage(from: string, to: string, subject: string): Element {
  return xml('message', { from, to, type: 'groupchat' }, xml('subject', {}, subject));
}
