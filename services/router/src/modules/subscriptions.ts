import type { RouterCore, RouterModule } from '../core.js';
import { sendPresenceTo, sendUnavailableTo } from '../presence-broadcast.js';
import {
  inboundSubscription,
  isSubscriptionType,
  outboundSubscription,
  type InboundOutcome,
  type OutboundOutcome,
} from '../roster/index.js';
import { pushRoster } from '../roster-push.js';
import { xml } from '@switchboard/xml';

/**
 * Presence subscriptions (RFC 6121 §3) on the state machine of Appendix A
 * (`src/roster`): the user's side in the user's partition, the contact's
 * side in the contact's, each a single roster update.
 */
export const subscriptionsModule: RouterModule = {
  name: 'subscriptions',
  setup(core: RouterCore) {
    core.on('presence-out', async (st, pass) => {
      const type = st.type;
      if (!isSubscriptionType(type) || st.toSelf) return false;
      const user = st.from.bare;
      const contact = st.to.bare;
      const seen: { outcome?: OutboundOutcome } = {};
      const update = await core.store.rosters.update(user, contact, (current) => {
        seen.outcome = outboundSubscription(current, type, contact);
        return seen.outcome.item;
      });
      const outcome = seen.outcome;
      if (outcome === undefined) return true;
      if (outcome.rosterPush && update.changed) {
        await pushRoster(core, user, contact, update.item, update.version, st, pass);
      }
      if (outcome.forward) {
        // RFC 6121 §3.1.2: stamped with the user's bare JID, addressed to the contact's bare JID.
        const el = st.el.clone();
        el.attrs['from'] = user;
        el.attrs['to'] = contact;
        core.send(el, st, pass);
      }
      if (outcome.sendPresence) await sendPresenceTo(core, user, contact, st, pass);
      if (outcome.sendUnavailable) await sendUnavailableTo(core, user, contact, st, pass);
      return true;
    });

    core.on('presence-in', async (st, pass) => {
      const type = st.type;
      if (!isSubscriptionType(type)) return false;
      const user = st.to.bare;
      const contact = st.from.bare;
      const seen: { outcome?: InboundOutcome } = {};
      const update = await core.store.rosters.update(user, contact, (current) => {
        seen.outcome = inboundSubscription(current, type, contact, { stanzaXml: st.env.xml });
        return seen.outcome.item;
      });
      const outcome = seen.outcome;
      if (outcome === undefined) return true;
      if (outcome.rosterPush && update.changed) {
        await pushRoster(core, user, contact, update.item, update.version, st, pass);
      }
      if (outcome.deliverToUser) {
        for (const session of await core.sessions.list(user)) {
          if (session.available) core.deliver(session, st.env.xml, st.env.id, st.env.ts, pass);
        }
      }
      if (outcome.autoReply !== undefined) {
        core.send(xml('presence', { from: user, to: contact, type: outcome.autoReply }), st, pass);
      }
      if (outcome.sendPresence) await sendPresenceTo(core, user, contact, st, pass);
      if (outcome.sendUnavailable) await sendUnavailableTo(core, user, contact, st, pass);
      return true;
    });

    // RFC 6121 §3.1.3: requests that arrived while the user was offline come with the next available presence.
    core.on('initial-presence', async (st, pass) => {
      const user = st.from.bare;
      const session = await core.sessions.get(user, st.from.resource);
      if (session === null) return;
      const roster = await core.store.rosters.get(user);
      for (const item of roster.items) {
        if (item.pendingIn !== true) continue;
        const request =
          item.pendingInXml ?? xml('presence', { from: item.jid, to: user, type: 'subscribe' }).toString();
        core.deliver(session, request, st.childId(), st.env.ts, pass);
      }
    });
  },
};
