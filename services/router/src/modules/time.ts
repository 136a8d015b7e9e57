import { xml } from '@switchboard/xml';
import type { RouterCore, RouterModule } from '../core.js';
import { StanzaError } from '../stanza-error.js';

const TIME_NS = 'urn:xmpp:time';

/** XEP-0202: the server's time in UTC (XEP-0082 date-time format, no fraction). */
export const timeModule: RouterModule = {
  name: 'time',
  setup(core: RouterCore) {
    core.feature(TIME_NS);
    core.iq('host', TIME_NS, (st) => {
      if (st.type !== 'get') return Promise.resolve(new StanzaError('bad-request'));
      const utc = new Date(core.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
      return Promise.resolve(xml('time', { xmlns: TIME_NS }, xml('tzo', {}, '+00:00'), xml('utc', {}, utc)));
    });
  },
};
