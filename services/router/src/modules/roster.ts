import { InvalidRosterItemError, RosterFullError, type RosterItem } from '@switchboard/store';
import { tryParseJid } from '@switchboard/jid';
import { xml, type Element } from '@switchboard/xml';
import { ANSWERED, type IqAnswer, type Pass, type RouterCore, type RouterModule } from '../core.js';
import { sendUnavailableTo } from '../presence-broadcast.js';
import { applyRosterSet, rosterRemove, visibleItem, type RosterRemoval } from '../roster/index.js';
import { ROSTER_NS, pushItemElement, pushRoster, rosterItemElement } from '../roster-push.js';
import { StanzaError } from '../stanza-error.js';
import type { Stanza } from '../stanza.js';

/** Longest name or group accepted (RFC 6121 §2.3.3 leaves the limit to the server). */
const MAX_TEXT = 1023;

/** The roster (RFC 6121 §2): get with versioning (§2.6), set, remove, pushes. */
export const rosterModule: RouterModule = {
  name: 'roster',
  setup(core: RouterCore) {
    core.iq('account', ROSTER_NS, async (st, query, pass) => {
      const user = st.to.bare;
      // §2.1.3: only the user manages the roster; others learn nothing (as if there were no handler).
      if (st.from.bare !== user) return new StanzaError('service-unavailable');
      if (st.type === 'get') return rosterGet(core, st, query, pass);
      return rosterSet(core, st, query, pass);
    });
  },
};

async function rosterGet(core: RouterCore, st: Stanza, query: Element, pass: Pass): Promise<IqAnswer> {
  const user = st.to.bare;
  const session = await core.sessions.get(user, st.from.resource);
  // §2.1.6: a resource that asked for the roster gets the pushes from now on.
  if (session !== null && !session.interestedInRoster) {
    await core.sessions.put(user, { ...session, interestedInRoster: true });
  }
  const ver = query.attrs['ver'];
  if (ver !== undefined && ver !== '') {
    const delta = await core.store.rosters.changesSince(user, ver);
    if (delta !== null) {
      // §2.6.3: up to date gives an empty result; otherwise an empty result, then the changes as pushes.
      core.reply(st, null, pass);
      const changes: { jid: string; record: RosterItem | null }[] = [
        ...delta.items.map((item) => ({ jid: item.jid, record: item })),
        ...delta.removed.map((jid) => ({ jid, record: null })),
      ];
      changes.forEach(({ jid, record }, i) => {
        const id = st.childId();
        // Only the last push carries the version: a client cut off midway must not skip what it missed.
        const push = xml(
          'iq',
          { to: st.env.from, type: 'set', id },
          xml(
            'query',
            { xmlns: ROSTER_NS, ver: i === changes.length - 1 ? delta.version : undefined },
            pushItemElement(jid, record),
          ),
        );
        core.send(push, st, pass);
      });
      return ANSWERED;
    }
  }
  const roster = await core.store.rosters.get(user);
  const result = xml('query', { xmlns: ROSTER_NS, ver: roster.version });
  for (const record of roster.items) {
    const visible = visibleItem(record);
    if (visible !== null) result.append(rosterItemElement(visible));
  }
  return result;
}

async function rosterSet(core: RouterCore, st: Stanza, query: Element, pass: Pass): Promise<IqAnswer> {
  const user = st.to.bare;
  const items = query.getChildren('item', ROSTER_NS);
  // §2.3.3: exactly one item per roster set.
  if (items.length !== 1)
    return new StanzaError('bad-request', undefined, 'a roster set carries exactly one item');
  const item = items[0]!;
  const raw = item.attrs['jid'];
  if (raw === undefined) return new StanzaError('bad-request', undefined, 'the item has no jid');
  const parsed = tryParseJid(raw);
  if (parsed === null) return new StanzaError('jid-malformed');
  const contact = parsed.toString();

  if (item.attrs['subscription'] === 'remove') {
    const seen: { removal: RosterRemoval | null; before: RosterItem | null } = {
      removal: null,
      before: null,
    };
    const update = await core.store.rosters.update(user, contact, (current) => {
      seen.before = current;
      seen.removal = rosterRemove(current);
      return seen.removal === null ? current : null;
    });
    // §2.5.3: removing an item that is not there.
    const done = seen.removal;
    if (done === null) return new StanzaError('item-not-found');
    // §2.5.2: the contact learns that both subscriptions are gone.
    for (const type of done.send) core.send(xml('presence', { from: user, to: contact, type }), st, pass);
    if (done.sendUnavailable) await sendUnavailableTo(core, user, contact, st, pass);
    if (seen.before !== null) await pushRoster(core, user, contact, null, update.version, st, pass);
    return null;
  }

  // §2.1.2.5: a subscription value other than 'remove' is ignored, like ask and approved (§2.1.2.1, §2.1.2.2).
  const nameAttr = item.attrs['name'];
  const name = nameAttr === undefined || nameAttr === '' ? undefined : nameAttr;
  if (name !== undefined && name.length > MAX_TEXT)
    return new StanzaError('not-acceptable', undefined, 'name too long');
  const groups: string[] = [];
  for (const group of item.getChildren('group', ROSTER_NS)) {
    const text = group.getText();
    // §2.3.3: an empty group is not acceptable, a duplicate one is a bad request.
    if (text === '' || text.length > MAX_TEXT)
      return new StanzaError('not-acceptable', undefined, 'empty or too long group');
    if (groups.includes(text)) return new StanzaError('bad-request', undefined, 'duplicate group');
    groups.push(text);
  }
  try {
    const update = await core.store.rosters.update(user, contact, (current) =>
      applyRosterSet(current, contact, name === undefined ? { groups } : { name, groups }),
    );
    if (update.changed) await pushRoster(core, user, contact, update.item, update.version, st, pass);
  } catch (error) {
    if (error instanceof RosterFullError)
      return new StanzaError('not-allowed', undefined, 'the roster is full');
    if (error instanceof InvalidRosterItemError) return new StanzaError('bad-request');
    throw error;
  }
  return null;
}
