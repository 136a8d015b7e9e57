import { xml } from '@switchboard/xml';
import { SOFTWARE_NAME } from '../config.js';
import type { RouterCore, RouterModule } from '../core.js';
import { shouldSendPresenceTo } from '../roster/index.js';
import { StanzaError } from '../stanza-error.js';

export const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

/** A XEP-0030 identity. */
export interface Identity {
  readonly category: string;
  readonly type: string;
}

const accountIdentities = new WeakMap<RouterCore, Identity[]>();

/** An identity accounts have besides account/registered, e.g. pubsub/pep (XEP-0163 §6.1). */
export function addAccountIdentity(core: RouterCore, identity: Identity): void {
  let list = accountIdentities.get(core);
  if (list === undefined) accountIdentities.set(core, (list = []));
  list.push(identity);
}

/**
 * Service discovery (XEP-0030) for the server and for accounts. The
 * server's features are what the registered modules declared, so adding a
 * module adds its feature.
 */
export const discoModule: RouterModule = {
  name: 'disco',
  setup(core: RouterCore) {
    core.feature(DISCO_INFO);
    core.feature(DISCO_ITEMS);
    core.feature(DISCO_INFO, 'account');
    core.feature(DISCO_ITEMS, 'account');

    core.iq('host', DISCO_INFO, (st, query) => {
      if (st.type !== 'get') return Promise.resolve(new StanzaError('bad-request'));
      // XEP-0030 §3.1: the server has no nodes of its own.
      if (query.attrs['node'] !== undefined) return Promise.resolve(new StanzaError('item-not-found'));
      return Promise.resolve(
        xml(
          'query',
          { xmlns: DISCO_INFO },
          xml('identity', { category: 'server', type: 'im', name: SOFTWARE_NAME }),
          core.features('host').map((v) => xml('feature', { var: v })),
        ),
      );
    });

    core.iq('host', DISCO_ITEMS, (st, query) => {
      if (st.type !== 'get') return Promise.resolve(new StanzaError('bad-request'));
      if (query.attrs['node'] !== undefined) return Promise.resolve(new StanzaError('item-not-found'));
      return Promise.resolve(
        xml(
          'query',
          { xmlns: DISCO_ITEMS },
          [...core.components].sort().map((jid) => xml('item', { jid })),
        ),
      );
    });

    /** XEP-0030 §3.1 and RFC 6121 §8.5.2.1: an account answers only to its user and its subscribers. */
    async function mayDiscover(user: string, requester: string): Promise<boolean> {
      if (requester === user) return true;
      return shouldSendPresenceTo(await core.store.rosters.getItem(user, requester));
    }

    core.iq('account', DISCO_INFO, async (st, query) => {
      if (st.type !== 'get') return new StanzaError('bad-request');
      if (!(await mayDiscover(st.to.bare, st.from.bare))) return new StanzaError('service-unavailable');
      if (query.attrs['node'] !== undefined) return new StanzaError('item-not-found');
      return xml(
        'query',
        { xmlns: DISCO_INFO },
        xml('identity', { category: 'account', type: 'registered' }),
        (accountIdentities.get(core) ?? []).map((i) =>
          xml('identity', { category: i.category, type: i.type }),
        ),
        core.features('account').map((v) => xml('feature', { var: v })),
      );
    });

    core.iq('account', DISCO_ITEMS, async (st, query) => {
      if (st.type !== 'get') return new StanzaError('bad-request');
      if (!(await mayDiscover(st.to.bare, st.from.bare))) return new StanzaError('service-unavailable');
      if (query.attrs['node'] !== undefined) return new StanzaError('item-not-found');
      return xml('query', { xmlns: DISCO_ITEMS });
    });
  },
};
