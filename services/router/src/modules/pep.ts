import { createHash, randomUUID } from 'node:crypto';
import { PepNodeNotFoundError, type PepNodeConfig } from '@switchboard/store';
import { parseElement, xml, type Element } from '@switchboard/xml';
import type { IqAnswer, Pass, RouterCore, RouterModule } from '../core.js';
import { StanzaError } from '../stanza-error.js';
import type { Stanza } from '../stanza.js';
import { CAPS_NS, capsOf, capsVer, type CapsAdvert } from './caps.js';
import { buildForm, formFields, formOf } from './data-form.js';
import { DISCO_INFO, addAccountIdentity } from './disco.js';

export const PUBSUB_NS = 'http://jabber.org/protocol/pubsub';
export const PUBSUB_OWNER_NS = 'http://jabber.org/protocol/pubsub#owner';
export const PUBSUB_EVENT_NS = 'http://jabber.org/protocol/pubsub#event';
export const PUBSUB_ERRORS_NS = 'http://jabber.org/protocol/pubsub#errors';
const NODE_CONFIG = 'http://jabber.org/protocol/pubsub#node_config';
const DELAY_NS = 'urn:xmpp:delay';
/** What `pubsub#max_items` = `max` means here (XEP-0060 §16.4.3; XEP-0402 asks for it). */
export const PEP_MAX_ITEMS = 1000;
/** Id prefix of the disco#info queries the server sends to learn caps (XEP-0115 §6.2). */
const CAPS_QUERY_ID = 'sb-caps-';
const CAPS_QUERY_PATIENCE_MS = 30_000;
/** Entities remembered per unresolved ver; past it they get no last items on this presence. */
const MAX_CAPS_WAITERS = 1000;

/** XEP-0060 features of this PEP service, as announced on the account (XEP-0163 §6.1). */
const PEP_FEATURES = [
  'access-open',
  'access-presence',
  'access-whitelist',
  'auto-create',
  'auto-subscribe',
  'config-node',
  'create-nodes',
  'delete-nodes',
  'filtered-notifications',
  'item-ids',
  'last-published',
  'persistent-items',
  'publish',
  'publish-options',
  'retract-items',
  'retrieve-items',
].map((f) => `${PUBSUB_NS}#${f}`);

/** XEP-0163 §4.3 defaults: presence access, one item. */
const DEFAULT_CONFIG: PepNodeConfig = { accessModel: 'presence', persistItems: true, maxItems: 1 };

function pubsubError(
  condition: 'not-authorized' | 'not-allowed' | 'conflict' | 'bad-request',
  app: string,
): StanzaError {
  return new StanzaError(condition, undefined, undefined, xml(app, { xmlns: PUBSUB_ERRORS_NS }));
}

/**
 * Reads node options from a `pubsub#node_config` or `pubsub#publish-options`
 * form onto `base`. Fields this service does not act on are accepted and
 * ignored; a value it cannot honour is an error.
 */
function applyOptions(base: PepNodeConfig, x: Element | undefined): PepNodeConfig | StanzaError {
  let config = base;
  for (const [name, values] of formFields(x)) {
    const value = values[0] ?? '';
    switch (name) {
      case 'pubsub#access_model':
        if (value !== 'presence' && value !== 'open' && value !== 'whitelist' && value !== 'roster') {
          return new StanzaError('not-acceptable', undefined, `access model ${value} is not supported`);
        }
        config = { ...config, accessModel: value };
        break;
      case 'pubsub#persist_items':
        config = { ...config, persistItems: value === 'true' || value === '1' };
        break;
      case 'pubsub#max_items': {
        const n = value === 'max' ? PEP_MAX_ITEMS : Number.parseInt(value, 10);
        if (!Number.isInteger(n) || n < 1)
          return new StanzaError('not-acceptable', undefined, 'bad pubsub#max_items');
        config = { ...config, maxItems: Math.min(n, PEP_MAX_ITEMS) };
        break;
      }
      case 'pubsub#send_last_published_item':
        if (value !== 'never' && value !== 'on_sub' && value !== 'on_sub_and_presence') {
          return new StanzaError(
            'not-acceptable',
            undefined,
            `send_last_published_item ${value} is not supported`,
          );
        }
        config = { ...config, sendLastPublishedItem: value };
        break;
      default:
        break;
    }
  }
  return config;
}

function configForm(config: PepNodeConfig): Element {
  return buildForm('form', NODE_CONFIG, [
    ['pubsub#access_model', config.accessModel],
    ['pubsub#persist_items', config.persistItems ? 'true' : 'false'],
    ['pubsub#max_items', String(config.maxItems)],
    ['pubsub#send_last_published_item', config.sendLastPublishedItem ?? 'on_sub_and_presence'],
  ]);
}

/**
 * XEP-0163 Personal Eventing Protocol on each account's bare JID: publish
 * (auto-creating nodes, with publish-options), retract, items, node
 * configuration; notifications go to the owner's resources and to contacts
 * allowed by the node's access model whose XEP-0115 caps say `<node>+notify`,
 * and the last item goes out when such an entity becomes available.
 *
 * Caps are learnt from presence the account receives (in its partition) and
 * from its own sessions' presence: an unknown `ver` is resolved with a
 * disco#info query to the entity and verified per XEP-0115 §5.
 */
export const pepModule: RouterModule = {
  name: 'pep',
  setup(core: RouterCore) {
    addAccountIdentity(core, { category: 'pubsub', type: 'pep' });
    core.feature(PUBSUB_NS, 'account');
    for (const f of PEP_FEATURES) core.feature(f, 'account');

    /** ver → features, verified (XEP-0115 §5.4: cached across entities). */
    const known = new Map<string, ReadonlySet<string>>();
    /** ver → the caps advert being resolved and who waits for it. */
    const pending = new Map<
      string,
      { caps: CapsAdvert; since: number; waiting: { user: string; jid: string }[] }
    >();
    /** Per account: full JIDs it gets presence from (its own included) → their caps ver. */
    const seen = new Map<string, Map<string, string>>();
    core.onForget((keep) => {
      for (const user of seen.keys()) if (!keep(user)) seen.delete(user);
      for (const [ver, p] of pending) {
        p.waiting = p.waiting.filter((w) => keep(w.user));
        if (p.waiting.length === 0) pending.delete(ver);
      }
    });
    let queries = 0;

    const mayAccess = async (user: string, requester: string, config: PepNodeConfig): Promise<boolean> => {
      if (requester === user) return true;
      if (config.accessModel === 'open') return true;
      if (config.accessModel === 'whitelist') return false;
      const item = await core.store.rosters.getItem(user, requester);
      return item !== null && (item.subscription === 'from' || item.subscription === 'both');
    };

    const eventMessage = (
      user: string,
      to: string,
      node: string,
      payload: Element,
      delayTs?: number,
    ): Element =>
      xml(
        'message',
        { from: user, to, type: 'headline', id: `pep-${randomUUID()}` },
        xml('event', { xmlns: PUBSUB_EVENT_NS }, xml('items', { node }, payload)),
        delayTs === undefined
          ? undefined
          : xml('delay', { xmlns: DELAY_NS, stamp: new Date(delayTs).toISOString(), from: user }),
      );

    /** Entities that want `node`'s notifications: full JIDs with `+notify` (XEP-0163 §4.3.2), allowed by access. */
    const interested = async (user: string, node: string, config: PepNodeConfig): Promise<string[]> => {
      const want = `${node}+notify`;
      const out: string[] = [];
      for (const session of await core.sessions.list(user)) {
        if (!session.available || session.presenceXml === '') continue;
        const caps = capsOf(parseElement(session.presenceXml));
        if (caps !== undefined && known.get(caps.ver)?.has(want) === true) out.push(session.fullJid);
      }
      if (config.accessModel === 'whitelist') return out;
      for (const [jid, ver] of seen.get(user) ?? []) {
        const bare = jid.split('/')[0]!;
        if (bare === user || known.get(ver)?.has(want) !== true) continue;
        if (await mayAccess(user, bare, config)) out.push(jid);
      }
      return out;
    };

    /** XEP-0163 §4.3.4 / §6.2: the last item of each node `jid` wants and may see. */
    const sendLastItems = async (
      user: string,
      jid: string,
      features: ReadonlySet<string>,
      cause: Stanza,
      pass: Pass,
    ) => {
      const bare = jid.split('/')[0]!;
      for (const { node, config } of await core.store.pep.listNodes(user)) {
        // 'on_sub' means only when subscribing, which in PEP is implicit: not on presence either.
        if ((config.sendLastPublishedItem ?? 'on_sub_and_presence') !== 'on_sub_and_presence') continue;
        if (!features.has(`${node}+notify`) || !(await mayAccess(user, bare, config))) continue;
        const [last] = await core.store.pep.items(user, node, 1);
        if (last !== undefined)
          core.send(eventMessage(user, jid, node, parseElement(last.xml), last.ts), cause, pass);
      }
    };

    /** Notes the caps of `jid` as seen by `user`; sends last items when they are new, asks when unknown. */
    const learn = async (
      user: string,
      jid: string,
      caps: CapsAdvert,
      cause: Stanza,
      pass: Pass,
    ): Promise<void> => {
      let map = seen.get(user);
      if (map === undefined) seen.set(user, (map = new Map<string, string>()));
      if (map.get(jid) === caps.ver) return;
      map.set(jid, caps.ver);
      const features = known.get(caps.ver);
      if (features !== undefined) {
        await sendLastItems(user, jid, features, cause, pass);
        return;
      }
      const waiting = pending.get(caps.ver);
      if (waiting !== undefined) {
        if (waiting.waiting.length < MAX_CAPS_WAITERS) waiting.waiting.push({ user, jid });
        // One query per ver at a time; another entity is asked when the first stays silent.
        if (core.now() - waiting.since < CAPS_QUERY_PATIENCE_MS) return;
        waiting.since = core.now();
      } else pending.set(caps.ver, { caps, since: core.now(), waiting: [{ user, jid }] });
      core.send(
        xml(
          'iq',
          { type: 'get', from: user, to: jid, id: `${CAPS_QUERY_ID}${++queries}` },
          xml('query', { xmlns: DISCO_INFO, node: `${caps.node}#${caps.ver}` }),
        ),
        cause,
        pass,
      );
    };

    const forget = (user: string, jid: string): void => {
      seen.get(user)?.delete(jid);
    };

    /** The answer to one of our caps queries: verify, cache, and serve those who waited (XEP-0115 §5.4). */
    const onCapsAnswer = async (st: Stanza, pass: Pass): Promise<void> => {
      const query = st.el.getChild('query', DISCO_INFO);
      const node = query?.attrs['node'] ?? '';
      const ver = node.slice(node.indexOf('#') + 1);
      const waiting = pending.get(ver);
      if (waiting === undefined) return;
      pending.delete(ver);
      if (st.type !== 'result' || query === undefined || capsVer(query, waiting.caps.hash) !== ver) {
        core.logger.debug({ from: st.env.from, ver }, 'caps not verified');
        return;
      }
      const features = new Set(query.getChildren('feature').map((f) => f.attrs['var'] ?? ''));
      known.set(ver, features);
      for (const w of waiting.waiting) {
        if (seen.get(w.user)?.get(w.jid) === ver) await sendLastItems(w.user, w.jid, features, st, pass);
      }
    };

    const isCapsAnswer = (st: Stanza): boolean =>
      st.kind === 'iq' &&
      (st.type === 'result' || st.type === 'error') &&
      st.env.stanzaId.startsWith(CAPS_QUERY_ID);

    // Answers from other entities reach the account's partition as inbound stanzas.
    core.guard('in', (st, pass) => {
      if (!isCapsAnswer(st)) return 'pass';
      return onCapsAnswer(st, pass).then(() => 'drop' as const);
    });
    // Answers from the account's own resources are outbound stanzas of the account.
    core.guard('out', (st, pass) => {
      if (!isCapsAnswer(st) || st.to.bare !== st.from.bare || st.to.resource !== '') return 'pass';
      return onCapsAnswer(st, pass).then(() => 'drop' as const);
    });

    // Registered before the presence module, which handles presence for good: these only watch.
    core.on('presence-in', async (st, pass) => {
      if (st.from.resource === '' || st.to.resource !== '') return false;
      if (st.type === 'unavailable' || st.type === 'error') forget(st.to.bare, st.env.from);
      else if (st.type === '') {
        const caps = capsOf(st.el);
        if (caps !== undefined) await learn(st.to.bare, st.env.from, caps, st, pass);
      }
      return false;
    });
    core.on('presence-out', async (st, pass) => {
      if (!st.toSelf) return false;
      if (st.type === 'unavailable') forget(st.from.bare, st.env.from);
      else if (st.type === '' && st.el.getChild('c', CAPS_NS) !== undefined) {
        const caps = capsOf(st.el);
        if (caps === undefined) return false;
        // Initial presence of a session (the presence module marks it available after us): it gets
        // the last items even when an earlier session of the same full JID had the same caps.
        const session = await core.sessions.get(st.from.bare, st.from.resource);
        if (session !== null && !session.available) forget(st.from.bare, st.env.from);
        await learn(st.from.bare, st.env.from, caps, st, pass);
      }
      return false;
    });

    const notify = async (
      user: string,
      node: string,
      config: PepNodeConfig,
      payload: Element,
      cause: Stanza,
      pass: Pass,
    ) => {
      for (const jid of await interested(user, node, config))
        core.send(eventMessage(user, jid, node, payload), cause, pass);
      // Own resources whose caps this router has not learnt (it took the partition over after their
      // presence): ask now; they get the last items, this one included, once the answer is in.
      for (const session of await core.sessions.list(user)) {
        if (!session.available || session.presenceXml === '') continue;
        const caps = capsOf(parseElement(session.presenceXml));
        if (caps !== undefined && !known.has(caps.ver)) await learn(user, session.fullJid, caps, cause, pass);
      }
    };

    core.iq('account', PUBSUB_NS, async (st, pubsub, pass): Promise<IqAnswer> => {
      const user = st.to.bare;
      const owner = st.from.bare === user;
      const action = pubsub.getChildElements()[0];
      if (action === undefined) return new StanzaError('bad-request');
      const node = action.attrs['node'];
      if (st.type === 'get') {
        if (action.getName() !== 'items') return new StanzaError('feature-not-implemented');
        if (node === undefined) return pubsubError('bad-request', 'nodeid-required');
        const config = await core.store.pep.getNode(user, node);
        if (config === null) return new StanzaError('item-not-found');
        if (!(await mayAccess(user, st.from.bare, config))) {
          return config.accessModel === 'whitelist'
            ? pubsubError('not-allowed', 'closed-node')
            : pubsubError('not-authorized', 'presence-subscription-required');
        }
        const wanted = action.getChildren('item').map((i) => i.attrs['id'] ?? '');
        let items;
        if (wanted.length > 0) {
          items = [];
          for (const id of wanted) {
            const found = await core.store.pep.item(user, node, id);
            if (found !== null) items.push(found);
          }
        } else {
          const max =
            action.attrs['max_items'] === undefined
              ? undefined
              : Number.parseInt(action.attrs['max_items'], 10);
          items = (
            await core.store.pep.items(
              user,
              node,
              max !== undefined && Number.isInteger(max) ? max : undefined,
            )
          ).reverse();
        }
        return xml(
          'pubsub',
          { xmlns: PUBSUB_NS },
          xml(
            'items',
            { node },
            items.map((i) => parseElement(i.xml)),
          ),
        );
      }
      // Only the owner changes its nodes (XEP-0163 §4.2, XEP-0060 §7.1.3.1).
      if (!owner) return new StanzaError('forbidden');
      if (node === undefined) return pubsubError('bad-request', 'nodeid-required');
      switch (action.getName()) {
        case 'publish': {
          const items = action.getChildren('item');
          if (items.length > 1) return pubsubError('bad-request', 'too-many-items');
          const item = items[0]?.clone() ?? xml('item');
          if (items[0] !== undefined && item.getChildElements().length !== 1) {
            return pubsubError('bad-request', 'invalid-payload');
          }
          // XEP-0060 §7.1.1: the service names an item published without id; from the envelope id, so a
          // redelivered publish replaces its first copy instead of adding a second.
          item.attrs['id'] ??= createHash('sha1').update(st.env.id).digest('hex');
          delete item.attrs['xmlns'];
          delete item.attrs['publisher'];
          const options = formOf(pubsub.getChild('publish-options'));
          let config = await core.store.pep.getNode(user, node);
          if (config === null) {
            // XEP-0163 §3: publishing auto-creates the node, with the publish-options as its configuration.
            const created = applyOptions(DEFAULT_CONFIG, options);
            if (created instanceof StanzaError) return created;
            config = created;
            await core.store.pep.putNode(user, node, config);
          } else if (options !== undefined) {
            // XEP-0060 §7.1.5: options that differ from the node's configuration are a failed precondition.
            const asked = applyOptions(config, options);
            if (asked instanceof StanzaError || JSON.stringify(asked) !== JSON.stringify(config)) {
              return pubsubError('conflict', 'precondition-not-met');
            }
          }
          try {
            await core.store.pep.publish(user, node, {
              id: item.attrs['id'],
              xml: item.toString(),
              ts: st.env.ts,
            });
          } catch (error) {
            if (error instanceof PepNodeNotFoundError) return new StanzaError('item-not-found');
            throw error;
          }
          await notify(user, node, config, item, st, pass);
          return xml(
            'pubsub',
            { xmlns: PUBSUB_NS },
            xml('publish', { node }, xml('item', { id: item.attrs['id'] })),
          );
        }
        case 'retract': {
          const id = action.getChild('item')?.attrs['id'];
          if (id === undefined) return pubsubError('bad-request', 'item-required');
          const config = await core.store.pep.getNode(user, node);
          if (config === null || !(await core.store.pep.retract(user, node, id)))
            return new StanzaError('item-not-found');
          const notifyAttr = action.attrs['notify'];
          if (notifyAttr === 'true' || notifyAttr === '1')
            await notify(user, node, config, xml('retract', { id }), st, pass);
          return null;
        }
        case 'create': {
          if ((await core.store.pep.getNode(user, node)) !== null) return new StanzaError('conflict');
          const config = applyOptions(DEFAULT_CONFIG, formOf(pubsub.getChild('configure')));
          if (config instanceof StanzaError) return config;
          await core.store.pep.putNode(user, node, config);
          return null;
        }
        default:
          return new StanzaError('feature-not-implemented');
      }
    });

    // XEP-0060 §8: the owner configures and deletes its nodes.
    core.iq('account', PUBSUB_OWNER_NS, async (st, pubsub, pass) => {
      const user = st.to.bare;
      if (st.from.bare !== user) return new StanzaError('forbidden');
      const action = pubsub.getChildElements()[0];
      const node = action?.attrs['node'];
      if (action === undefined || node === undefined) return new StanzaError('bad-request');
      const config = await core.store.pep.getNode(user, node);
      if (config === null) return new StanzaError('item-not-found');
      if (action.getName() === 'configure') {
        if (st.type === 'get') {
          return xml('pubsub', { xmlns: PUBSUB_OWNER_NS }, xml('configure', { node }, configForm(config)));
        }
        const next = applyOptions(config, formOf(action));
        if (next instanceof StanzaError) return next;
        await core.store.pep.putNode(user, node, next);
        return null;
      }
      if (action.getName() === 'delete' && st.type === 'set') {
        // XEP-0060 §8.4.2: those who got the node's items learn it is gone.
        const recipients = await interested(user, node, config);
        await core.store.pep.deleteNode(user, node);
        for (const jid of recipients) {
          core.send(
            xml(
              'message',
              { from: user, to: jid, type: 'headline' },
              xml('event', { xmlns: PUBSUB_EVENT_NS }, xml('delete', { node })),
            ),
            st,
            pass,
          );
        }
        return null;
      }
      return new StanzaError('feature-not-implemented');
    });
  },
};
