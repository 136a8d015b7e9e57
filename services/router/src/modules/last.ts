import { xml } from '@switchboard/xml';
import type { RouterCore, RouterModule } from '../core.js';
import { shouldSendPresenceTo } from '../roster/index.js';
import { StanzaError } from '../stanza-error.js';

const LAST_NS = 'jabber:iq:last';

/** XEP-0012 last activity: the server's uptime (§5), and when an offline contact logged out (§4). */
export const lastModule: RouterModule = {
  name: 'last',
  setup(core: RouterCore) {
    core.feature(LAST_NS);
    core.iq('host', LAST_NS, (st) => {
      if (st.type !== 'get') return Promise.resolve(new StanzaError('bad-request'));
      const seconds = Math.floor((core.now() - core.startedAt) / 1000);
      return Promise.resolve(xml('query', { xmlns: LAST_NS, seconds }));
    });
    core.iq('account', LAST_NS, async (st) => {
      if (st.type !== 'get') return new StanzaError('bad-request');
      const user = st.to.bare;
      // §4: only to those allowed to see the user's presence.
      if (
        st.from.bare !== user &&
        !shouldSendPresenceTo(await core.store.rosters.getItem(user, st.from.bare))
      ) {
        return new StanzaError('forbidden');
      }
      if ((await core.sessions.list(user)).some((s) => s.available)) {
        return xml('query', { xmlns: LAST_NS, seconds: 0 });
      }
      const last = await core.sessions.getLastActivity(user);
      if (last === null) return new StanzaError('item-not-found');
      const seconds = Math.max(0, Math.floor((core.now() - last.ts) / 1000));
      return xml('query', { xmlns: LAST_NS, seconds }, last.status === '' ? undefined : last.status);
    });
  },
};
