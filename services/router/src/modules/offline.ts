import { OfflineFullError } from '@switchboard/store';
import { xml } from '@switchboard/xml';
import type { Pass, RouterCore, RouterModule } from '../core.js';
import { StanzaError } from '../stanza-error.js';
import type { Stanza } from '../stanza.js';

const DELAY_NS = 'urn:xmpp:delay';
const CHAT_STATES_NS = 'http://jabber.org/protocol/chatstates';

/**
 * Offline storage (XEP-0160) of a chat or normal message for an account with
 * no available resource, stamped with XEP-0203 delay. Idempotent by envelope
 * id. A full queue bounces the message with service-unavailable: RFC 6121
 * §8.5.2.2.1 names it for a message the server does not store, and XEP-0160
 * §2 (step 3) sends the same error when storage is refused. Resolves to
 * whether the message is stored.
 */
export async function storeOffline(core: RouterCore, st: Stanza, pass: Pass): Promise<boolean> {
  const el = st.el.clone();
  const payload = el.getChildElements();
  // Chat state notifications alone are not worth keeping (XEP-0085 §5.5, XEP-0160 §3).
  if (payload.length > 0 && payload.every((child) => child.getNS() === CHAT_STATES_NS)) return false;
  const user = st.to.bare;
  const cap = core.config.offlineCap;
  if (cap !== undefined && (await core.store.offline.count(user)) >= cap) {
    core.bounce(st, new StanzaError('service-unavailable', undefined, 'offline storage is full'), pass);
    return false;
  }
  el.append(xml('delay', { xmlns: DELAY_NS, from: st.to.domain, stamp: new Date(st.env.ts).toISOString() }));
  try {
    await core.store.offline.push(user, { id: st.env.id, xml: el.toString(), ts: st.env.ts });
    return true;
  } catch (error) {
    if (!(error instanceof OfflineFullError)) throw error;
    core.bounce(st, new StanzaError('service-unavailable', undefined, 'offline storage is full'), pass);
    return false;
  }
}

/** Delivers stored messages with the next available presence of non-negative priority (XEP-0160 §2). */
export const offlineModule: RouterModule = {
  name: 'offline',
  setup(core: RouterCore) {
    core.feature('msgoffline');
    core.on('initial-presence', async (st, pass) => {
      const user = st.from.bare;
      const session = await core.sessions.get(user, st.from.resource);
      if (session === null || session.priority < 0) return;
      const messages = await core.store.offline.list(user);
      if (messages.length === 0) return;
      for (const message of messages) core.deliver(session, message.xml, message.id, message.ts, pass);
      // Removed only once the deliveries are on the bus.
      const ids = messages.map((m) => m.id);
      pass.after.push(async () => {
        await core.store.offline.remove(user, ids);
      });
    });
  },
};
