import { BlocklistFullError } from '@switchboard/store';
import { tryParseJid } from '@switchboard/jid';
import { xml, type Element } from '@switchboard/xml';
import { splitAddress } from '../address.js';
import {
  ANSWERED,
  andThen,
  type MaybePromise,
  type Pass,
  type RouterCore,
  type RouterModule,
  type Verdict,
} from '../core.js';
import { sendPresenceTo, sendUnavailableTo } from '../presence-broadcast.js';
import { shouldSendPresenceTo } from '../roster/index.js';
import { StanzaError } from '../stanza-error.js';
import type { Stanza } from '../stanza.js';

const BLOCKING_NS = 'urn:xmpp:blocking';
const BLOCKING_ERRORS_NS = 'urn:xmpp:blocking:errors';

/**
 * XEP-0191 blocking command. Blocklists are cached per user: every change
 * goes through this module in the user's partition, and the hot path asks
 * on every stanza.
 */
export const blockingModule: RouterModule = {
  name: 'blocking',
  setup(core: RouterCore) {
    const cache = new Map<string, Set<string>>();

    async function listOf(user: string): Promise<Set<string>> {
      let set = cache.get(user);
      if (set === undefined) {
        set = new Set(await core.store.blocklists.list(user));
        cache.set(user, set);
      }
      return set;
    }
    core.onForget((keep) => {
      for (const user of cache.keys()) if (!keep(user)) cache.delete(user);
    });

    // XEP-0191 §3.4 matches as XEP-0016 §2.1: full JID, bare JID, domain/resource, domain.
    const matches = (set: Set<string>, jid: string): boolean => {
      if (set.size === 0) return false;
      if (set.has(jid)) return true;
      const a = splitAddress(jid);
      return (
        set.has(a.bare) || (a.resource !== '' && set.has(`${a.domain}/${a.resource}`)) || set.has(a.domain)
      );
    };
    core.isBlocked = async (user, jid) => matches(await listOf(user), jid);
    /** isBlocked without waiting when the user's list is cached (the hot path). */
    const blocked = (user: string, jid: string): MaybePromise<boolean> => {
      const set = cache.get(user);
      return set === undefined ? core.isBlocked(user, jid) : matches(set, jid);
    };

    core.feature(BLOCKING_NS);

    // §3.5: the user's own stanzas to a blocked entity are stopped here.
    const outVerdict = (st: Stanza, isBlocked: boolean): Verdict => {
      if (!isBlocked) return 'pass';
      if (st.kind === 'presence' || st.type === 'error' || st.type === 'result') return 'drop';
      return new StanzaError(
        'not-acceptable',
        undefined,
        undefined,
        xml('blocked', { xmlns: BLOCKING_ERRORS_NS }),
      );
    };
    core.guard('out', (st) => {
      if (st.toSelf) return 'pass';
      return andThen(blocked(st.from.bare, st.env.to), (b) => outVerdict(st, b));
    });

    // §3.4: what a blocked entity sends the user never arrives; IQ get/set and messages get service-unavailable.
    const inVerdict = (st: Stanza, isBlocked: boolean): Verdict => {
      if (!isBlocked) return 'pass';
      return st.kind === 'presence' ? 'drop' : new StanzaError('service-unavailable');
    };
    core.guard('in', (st) => {
      return andThen(blocked(st.to.bare, st.env.from), (b) => inVerdict(st, b));
    });

    core.iq('account', BLOCKING_NS, async (st, payload, pass) => {
      const user = st.to.bare;
      if (st.from.bare !== user) return new StanzaError('service-unavailable');
      if (st.type === 'get') {
        if (!payload.is('blocklist', BLOCKING_NS)) return new StanzaError('bad-request');
        const session = await core.sessions.get(user, st.from.resource);
        // §3.2: a resource that asked for the blocklist gets its pushes.
        if (session !== null && !session.interestedInBlocklist) {
          await core.sessions.put(user, { ...session, interestedInBlocklist: true });
        }
        const list = [...(await listOf(user))].sort();
        return xml(
          'blocklist',
          { xmlns: BLOCKING_NS },
          list.map((jid) => xml('item', { jid })),
        );
      }
      const block = payload.is('block', BLOCKING_NS);
      if (!block && !payload.is('unblock', BLOCKING_NS)) return new StanzaError('bad-request');
      const jids: string[] = [];
      for (const item of payload.getChildren('item', BLOCKING_NS)) {
        const parsed = tryParseJid(item.attrs['jid'] ?? '');
        if (parsed === null) return new StanzaError('jid-malformed');
        jids.push(parsed.toString());
      }
      const set = await listOf(user);
      if (block) {
        // §3.3: a block without items is a bad request.
        if (jids.length === 0) return new StanzaError('bad-request', undefined, 'nothing to block');
        try {
          await core.store.blocklists.add(user, jids);
        } catch (error) {
          if (error instanceof BlocklistFullError)
            return new StanzaError('resource-constraint', undefined, error.message);
          throw error;
        }
        const added = jids.filter((jid) => !set.has(jid));
        for (const jid of jids) set.add(jid);
        // §3.3: blocked contacts that saw the user's presence now see the user go unavailable.
        for (const jid of added) {
          if (shouldSendPresenceTo(await core.store.rosters.getItem(user, jid)))
            await sendUnavailableTo(core, user, jid, st, pass);
        }
      } else {
        const removed = jids.length === 0 ? [...set] : jids.filter((jid) => set.has(jid));
        // §3.4: an unblock without items empties the list.
        if (jids.length === 0) await core.store.blocklists.clear(user);
        else await core.store.blocklists.remove(user, jids);
        for (const jid of removed) set.delete(jid);
        for (const jid of removed) {
          if (shouldSendPresenceTo(await core.store.rosters.getItem(user, jid)))
            await sendPresenceTo(core, user, jid, st, pass);
        }
      }
      core.reply(st, null, pass);
      await pushBlocklist(core, user, payload, st, pass);
      // The result goes before the pushes (XEP-0191 §3.3 example order).
      return ANSWERED;
    });
  },
};

async function pushBlocklist(
  core: RouterCore,
  user: string,
  change: Element,
  cause: Stanza,
  pass: Pass,
): Promise<void> {
  for (const session of await core.sessions.list(user)) {
    if (!session.interestedInBlocklist) continue;
    // Through the queue, so it follows the result sent just before.
    core.send(
      xml('iq', { to: session.fullJid, type: 'set', id: `push-${cause.env.id}` }, change.clone()),
      cause,
      pass,
    );
  }
}
