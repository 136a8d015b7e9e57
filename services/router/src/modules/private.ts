import { PrivateStorageFullError, TooLargeError } from '@switchboard/store';
import { NS, parseElement, xml } from '@switchboard/xml';
import type { RouterCore, RouterModule } from '../core.js';
import { StanzaError } from '../stanza-error.js';

const PRIVATE_NS = 'jabber:iq:private';

/** XEP-0049 §2: namespaces a client may not store data in. */
const RESERVED: ReadonlySet<string> = new Set([
  '',
  NS.CLIENT,
  NS.SERVER,
  NS.COMPONENT,
  NS.STREAMS,
  PRIVATE_NS,
]);

/** XEP-0049 private XML storage: one's own account only (§3). */
export const privateModule: RouterModule = {
  name: 'private',
  setup(core: RouterCore) {
    core.feature(PRIVATE_NS);
    core.iq('account', PRIVATE_NS, async (st, query) => {
      const user = st.to.bare;
      if (st.from.bare !== user) return new StanzaError('forbidden');
      const children = query.getChildElements();
      if (children.length === 0) return new StanzaError('bad-request', undefined, 'nothing to get or store');
      for (const child of children) {
        if (RESERVED.has(child.getNS()))
          return new StanzaError('not-acceptable', undefined, `namespace ${child.getNS()} is reserved`);
      }
      if (st.type === 'get') {
        // §3.2: one element per get; unknown data comes back as the empty element asked for.
        if (children.length !== 1)
          return new StanzaError('bad-request', undefined, 'get one element at a time');
        const asked = children[0]!;
        const stored = await core.store.privateXml.get(user, `${asked.getName()} ${asked.getNS()}`);
        return xml(
          'query',
          { xmlns: PRIVATE_NS },
          stored === null ? xml(asked.getName(), { xmlns: asked.getNS() }) : parseElement(stored),
        );
      }
      try {
        for (const child of children) {
          const copy = child.clone();
          copy.attrs['xmlns'] = child.getNS();
          await core.store.privateXml.set(user, `${child.getName()} ${child.getNS()}`, copy.toString());
        }
      } catch (error) {
        if (error instanceof TooLargeError || error instanceof PrivateStorageFullError) {
          return new StanzaError('not-acceptable', undefined, error.message);
        }
        throw error;
      }
      return null;
    });
  },
};
