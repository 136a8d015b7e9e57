import type { Pass, RouterCore, RouterModule } from '../core.js';
import type { SessionRecord } from '../sessions/registry.js';
import { StanzaError } from '../stanza-error.js';
import type { Stanza } from '../stanza.js';
import { storeOffline } from './offline.js';

/**
 * Message delivery to local accounts, RFC 6121 §8.5.2 (bare JID) and
 * §8.5.3 (full JID). Works from the envelope's routing facts alone: the XML
 * is parsed only when the message goes to offline storage.
 */
export const messagesModule: RouterModule = {
  name: 'messages',
  setup(core: RouterCore) {
    core.on('message-in', async (st, pass) => {
      const user = st.to.bare;
      const type = st.type === '' ? 'normal' : st.type;
      const sessions = await core.sessions.list(user);
      if (st.to.resource !== '') {
        for (const session of sessions) {
          // §8.5.3.1: the resource is connected: deliver to it.
          if (session.resource === st.to.resource) {
            core.deliver(session, st.env.xml, st.env.id, st.env.ts, pass);
            return true;
          }
        }
        // §8.5.3.2.1: no such resource.
        if (type === 'groupchat') core.bounce(st, new StanzaError('service-unavailable'), pass);
        else if (type === 'normal' || type === 'chat') await toBareJid(core, st, type, sessions, pass);
        // headline and error are silently ignored.
        return true;
      }
      await toBareJid(core, st, type, sessions, pass);
      return true;
    });
  },
};

async function toBareJid(
  core: RouterCore,
  st: Stanza,
  type: string,
  sessions: readonly SessionRecord[],
  pass: Pass,
): Promise<void> {
  // §8.5.2.1.3 / §8.5.2.2.3: groupchat to a bare JID is an error; §8.5.2.1.5: errors are dropped.
  if (type === 'error') return;
  if (type === 'groupchat') {
    core.bounce(st, new StanzaError('service-unavailable'), pass);
    return;
  }
  // Only available resources with non-negative priority count (§8.5.2.1).
  let best = -1;
  for (const s of sessions) if (s.available && s.priority > best) best = s.priority;
  if (best < 0) {
    // §8.5.2.2.1: chat and normal may be stored; §8.5.2.2.2: headline is dropped.
    if (type === 'chat' || type === 'normal') await storeOffline(core, st, pass);
    return;
  }
  const id = st.env.id;
  for (const s of sessions) {
    if (!s.available || s.priority < 0) continue;
    // §8.5.2.1.1: chat and normal go to the highest-priority resources; §8.5.2.1.2: headline to all.
    if (type === 'headline' || s.priority === best) core.deliver(s, st.env.xml, id, st.env.ts, pass);
  }
}
