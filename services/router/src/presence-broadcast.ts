import { xml, type Element } from '@switchboard/xml';
import type { Pass, RouterCore } from './core.js';
import { shouldSendPresenceTo } from './roster/index.js';
import type { SessionRecord } from './sessions/registry.js';
import type { Stanza } from './stanza.js';
import { parseElement } from '@switchboard/xml';

/**
 * Sends `presence` (from one of the user's resources, without 'to') to every
 * contact subscribed to the user (RFC 6121 §4.2.2, §4.4.2, §4.5.2) and to
 * `extra` addresses (directed presence, §4.6.3), skipping blocked ones
 * (XEP-0191 §3.4). Returns the contacts it went to.
 */
export async function broadcastToContacts(
  core: RouterCore,
  user: string,
  presence: Element,
  extra: readonly string[],
  cause: Stanza,
  pass: Pass,
): Promise<void> {
  const roster = await core.store.rosters.get(user);
  const sent = new Set<string>();
  for (const item of roster.items) {
    if (!shouldSendPresenceTo(item) || (await core.isBlocked(user, item.jid))) continue;
    sent.add(item.jid);
    presence.attrs['to'] = item.jid;
    core.send(presence, cause, pass);
  }
  for (const target of extra) {
    if (sent.has(target) || (await core.isBlocked(user, target))) continue;
    presence.attrs['to'] = target;
    core.send(presence, cause, pass);
  }
  delete presence.attrs['to'];
}

/** Delivers a presence of the user's to the user's own available resources (RFC 6121 §4.2.2, §4.4.2). */
export async function deliverToOwnResources(
  core: RouterCore,
  user: string,
  presenceXml: string,
  also: SessionRecord | null,
  cause: Stanza,
  pass: Pass,
): Promise<void> {
  for (const session of await core.sessions.list(user)) {
    if (session.available || session.resource === also?.resource) {
      core.deliver(session, presenceXml, cause.childId(), cause.env.ts, pass);
    }
  }
}

/**
 * The unavailable presence of a session that goes away (RFC 6121 §4.5.2),
 * to subscribed contacts, to those it sent directed presence to, and to the
 * user's other available resources.
 */
export async function broadcastUnavailable(
  core: RouterCore,
  user: string,
  session: SessionRecord,
  presence: Element | null,
  cause: Stanza,
  pass: Pass,
): Promise<void> {
  const el = presence ?? xml('presence', { type: 'unavailable' });
  el.attrs['from'] = session.fullJid;
  delete el.attrs['to'];
  await broadcastToContacts(core, user, el, session.directedTo, cause, pass);
  await deliverToOwnResources(core, user, el.toString(), null, cause, pass);
}

/** The last presence of each available resource of the user, to one contact (RFC 6121 §3.1.5, §4.3.2). */
export async function sendPresenceTo(
  core: RouterCore,
  user: string,
  contact: string,
  cause: Stanza,
  pass: Pass,
): Promise<void> {
  for (const session of await core.sessions.list(user)) {
    if (!session.available || session.presenceXml === '') continue;
    const el = parseElement(session.presenceXml);
    el.attrs['to'] = contact;
    core.send(el, cause, pass);
  }
}

/** Unavailable presence from each available resource of the user to one contact (RFC 6121 §3.2.2, §3.3.3). */
export async function sendUnavailableTo(
  core: RouterCore,
  user: string,
  contact: string,
  cause: Stanza,
  pass: Pass,
): Promise<void> {
  for (const session of await core.sessions.list(user)) {
    if (!session.available) continue;
    core.send(xml('presence', { from: session.fullJid, to: contact, type: 'unavailable' }), cause, pass);
  }
}
