import type { RouterCore, RouterModule } from '../core.js';
import { StanzaError } from '../stanza-error.js';

const PING_NS = 'urn:xmpp:ping';

/** XEP-0199 §4.2: the server answers a ping with an empty result. */
export const pingModule: RouterModule = {
  name: 'ping',
  setup(core: RouterCore) {
    core.feature(PING_NS);
    core.iq('host', PING_NS, (st) =>
      Promise.resolve(st.type === 'get' ? null : new StanzaError('bad-request')),
    );
  },
};
