import type { RouterCore, RouterModule } from '../core.js';
import { broadcastToContacts, broadcastUnavailable, deliverToOwnResources } from '../presence-broadcast.js';
import { parseElement, xml } from '@switchboard/xml';
import { probeResponse, shouldSendPresenceTo } from '../roster/index.js';

/** RFC 6121 §4.7.2.3: an integer from -128 to +127, 0 when absent. */
function priorityOf(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number.parseInt(text.trim(), 10);
  return Number.isInteger(n) ? Math.max(-128, Math.min(127, n)) : 0;
}

/**
 * Presence (RFC 6121 §4): broadcast of availability, probes, directed
 * presence and inbound presence. Subscription stanzas are the
 * subscriptions module's.
 */
export const presenceModule: RouterModule = {
  name: 'presence',
  setup(core: RouterCore) {
    core.on('presence-out', async (st, pass) => {
      const user = st.from.bare;
      const type = st.type;
      if (!st.toSelf) {
        if (type === '' || type === 'unavailable') {
          // RFC 6121 §4.6: directed presence; remembered so that unavailable follows it (§4.6.3).
          const session = await core.sessions.get(user, st.from.resource);
          if (session !== null) {
            const target = st.env.to;
            const item = await core.store.rosters.getItem(user, st.to.bare);
            const covered = shouldSendPresenceTo(item) && st.to.resource === '';
            const has = session.directedTo.includes(target);
            if (type === '' && !covered && !has) {
              await core.sessions.put(user, { ...session, directedTo: [...session.directedTo, target] });
            } else if (type === 'unavailable' && has) {
              await core.sessions.put(user, {
                ...session,
                directedTo: session.directedTo.filter((t) => t !== target),
              });
            }
          }
        }
        // Probes come from the server, not from clients (RFC 6121 §4.3): a client's is not routed.
        if (type !== 'probe') core.routeIn(st, pass);
        return true;
      }
      const session = await core.sessions.get(user, st.from.resource);
      if (session === null) return true;
      if (type === '') {
        const el = st.el;
        const initial = !session.available;
        const updated = {
          ...session,
          available: true,
          priority: priorityOf(el.getChildText('priority')),
          presenceXml: st.env.xml,
          initialPresenceSent: true,
        };
        await core.sessions.put(user, updated);
        // RFC 6121 §4.2.2 / §4.4.2: to subscribed contacts and to all the user's available resources.
        await broadcastToContacts(core, user, el.clone(), [], st, pass);
        await deliverToOwnResources(core, user, st.env.xml, null, st, pass);
        if (initial) {
          // RFC 6121 §4.2.2: the new resource learns of the user's other available resources.
          for (const other of await core.sessions.list(user)) {
            if (other.resource !== session.resource && other.available && other.presenceXml !== '') {
              core.deliver(updated, other.presenceXml, st.childId(), st.env.ts, pass);
            }
          }
          // RFC 6121 §4.3.1: probe the contacts the user is subscribed to, from the bare JID.
          const roster = await core.store.rosters.get(user);
          for (const item of roster.items) {
            if (item.subscription === 'to' || item.subscription === 'both') {
              core.send(xml('presence', { from: user, to: item.jid, type: 'probe' }), st, pass);
            }
          }
          await core.run('initial-presence', st, pass);
        }
        return true;
      }
      if (type === 'unavailable') {
        await core.sessions.put(user, {
          ...session,
          available: false,
          presenceXml: '',
          priority: 0,
          directedTo: [],
        });
        await broadcastUnavailable(core, user, session, st.el.clone(), st, pass);
        // The sender itself sees its unavailable too (RFC 6121 §4.5.2).
        core.deliver(session, st.env.xml, st.childId(), st.env.ts, pass);
        const others = (await core.sessions.list(user)).some((s) => s.available);
        if (!others) {
          await core.sessions.setLastActivity(user, {
            ts: st.env.ts,
            status: st.el.getChildText('status') ?? '',
          });
        }
        return true;
      }
      // Anything else without 'to' (probe, error) has no meaning here.
      return true;
    });

    core.on('presence-in', async (st, pass) => {
      const user = st.to.bare;
      const type = st.type;
      if (type === 'probe') {
        // RFC 6121 §4.3.2.
        const item = await core.store.rosters.getItem(user, st.from.bare);
        if (probeResponse(item) === 'unsubscribed') {
          core.send(xml('presence', { from: user, to: st.from.bare, type: 'unsubscribed' }), st, pass);
          return true;
        }
        for (const session of await core.sessions.list(user)) {
          if (!session.available || session.presenceXml === '') continue;
          const el = parseElement(session.presenceXml);
          el.attrs['to'] = st.env.from;
          core.send(el, st, pass);
        }
        return true;
      }
      if (type !== '' && type !== 'unavailable' && type !== 'error') return true;
      const sessions = await core.sessions.list(user);
      if (st.to.resource !== '') {
        // RFC 6121 §8.5.3.2.3: presence for an unknown resource is ignored.
        const session = sessions.find((s) => s.resource === st.to.resource);
        if (session !== undefined) core.deliver(session, st.env.xml, st.env.id, st.env.ts, pass);
        return true;
      }
      // RFC 6121 §8.5.2.1.2 / §8.5.2.2.2: to every available resource, else nowhere.
      for (const session of sessions) {
        if (session.available) core.deliver(session, st.env.xml, st.env.id, st.env.ts, pass);
      }
      return true;
    });
  },
};
