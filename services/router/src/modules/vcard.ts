import { TooLargeError } from '@switchboard/store';
import { parseElement, xml } from '@switchboard/xml';
import type { RouterCore, RouterModule } from '../core.js';
import { StanzaError } from '../stanza-error.js';

const VCARD_NS = 'vcard-temp';

/** XEP-0054 vcard-temp: anyone may read a user's vCard; only the user may set it (§3.2). */
export const vcardModule: RouterModule = {
  name: 'vcard',
  setup(core: RouterCore) {
    core.feature(VCARD_NS);
    core.iq('account', VCARD_NS, async (st, vcard) => {
      const user = st.to.bare;
      if (st.type === 'get') {
        const stored = await core.store.vcards.get(user);
        // §3.1: no vCard yet is an empty one.
        return stored === null ? xml('vCard', { xmlns: VCARD_NS }) : parseElement(stored);
      }
      if (st.from.bare !== user) return new StanzaError('forbidden');
      const copy = vcard.clone();
      copy.attrs['xmlns'] = VCARD_NS;
      try {
        await core.store.vcards.set(user, copy.toString());
      } catch (error) {
        if (error instanceof TooLargeError)
          return new StanzaError('not-acceptable', undefined, 'vCard too large');
        throw error;
      }
      return null;
    });
  },
};
