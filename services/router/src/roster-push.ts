import { xml, type Element } from '@switchboard/xml';
import type { Pass, RouterCore } from './core.js';
import { visibleItem, type RosterItem, type VisibleRosterItem } from './roster/index.js';
import type { Stanza } from './stanza.js';

export const ROSTER_NS = 'jabber:iq:roster';

/** An `<item/>` as clients see it (RFC 6121 §2.1.2). */
export function rosterItemElement(item: VisibleRosterItem): Element {
  return xml(
    'item',
    {
      jid: item.jid,
      name: item.name,
      subscription: item.subscription,
      ask: item.ask,
      approved: item.approved === true ? 'true' : undefined,
    },
    item.groups.map((group) => xml('group', {}, group)),
  );
}

/** The push item for a record: the visible item, or subscription='remove' (RFC 6121 §2.1.6, §2.5.2). */
export function pushItemElement(contact: string, record: RosterItem | null): Element {
  const visible = visibleItem(record);
  return visible === null
    ? xml('item', { jid: contact, subscription: 'remove' })
    : rosterItemElement(visible);
}

/**
 * Roster push to every resource of `user` that requested the roster
 * (RFC 6121 §2.1.6). Runs in the user's partition, so it delivers directly.
 */
export async function pushRoster(
  core: RouterCore,
  user: string,
  contact: string,
  record: RosterItem | null,
  version: string,
  cause: Stanza,
  pass: Pass,
): Promise<void> {
  const sessions = await core.sessions.list(user);
  for (const session of sessions) {
    if (!session.interestedInRoster) continue;
    const id = cause.childId();
    const push = xml(
      'iq',
      { to: session.fullJid, type: 'set', id },
      xml('query', { xmlns: ROSTER_NS, ver: version }, pushItemElement(contact, record)),
    );
    core.deliver(session, push.toString(), id, cause.env.ts, pass);
  }
}
