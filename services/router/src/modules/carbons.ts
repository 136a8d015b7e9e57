import { xml, type Element } from '@switchboard/xml';
import { andThen, type IqHandler, type Pass, type RouterCore, type RouterModule } from '../core.js';
import type { SessionRecord } from '../sessions/registry.js';
import { StanzaError } from '../stanza-error.js';
import type { Stanza } from '../stanza.js';
import { onMessageDelivery } from './messages.js';

export const CARBONS_NS = 'urn:xmpp:carbons:2';
export const FORWARD_NS = 'urn:xmpp:forward:0';
export const HINTS_NS = 'urn:xmpp:hints';
const CLIENT_NS = 'jabber:client';

/** Payloads of instant messaging that make a message worth copying without a body (XEP-0280 §6.1). */
const IM_PAYLOADS: readonly string[] = [
  'http://jabber.org/protocol/chatstates',
  'urn:xmpp:receipts',
  'urn:xmpp:chat-markers:0',
];

/** A copy of `original` for forwarding (XEP-0297): the stanza with its namespace spelled out. */
export function forwardedCopy(original: Element): Element {
  const copy = original.clone();
  copy.attrs['xmlns'] = CLIENT_NS;
  return copy;
}

/**
 * XEP-0280 §6.1: chat messages, normal messages with a body or an IM
 * payload; never groupchat, never one marked `<private/>` or `<no-copy/>`
 * (XEP-0334), never a carbon itself.
 */
export function carbonsEligible(el: Element, type: string): boolean {
  if (el.getChild('private', CARBONS_NS) !== undefined || el.getChild('no-copy', HINTS_NS) !== undefined) {
    return false;
  }
  if (el.getChild('sent', CARBONS_NS) !== undefined || el.getChild('received', CARBONS_NS) !== undefined) {
    return false;
  }
  if (type === 'chat') return true;
  if (type !== 'normal' && type !== '') return false;
  if (el.getChild('body') !== undefined) return true;
  return el.getChildElements().some((child) => IM_PAYLOADS.includes(child.getNS()));
}

/**
 * XEP-0280 Message Carbons: a session that enables carbons gets a
 * `<received/>` copy of what reaches its account but went to another
 * resource, and a `<sent/>` copy of what its other resources send (§6),
 * each wrapped in XEP-0297 `<forwarded/>`.
 *
 * Who enabled carbons is kept here, per router, for the partitions it owns
 * (keyed by full JID and session id, so a new session on the same resource
 * starts disabled, XEP-0280 §4): a router that takes a partition over starts
 * with carbons disabled for its sessions.
 */
export const carbonsModule: RouterModule = {
  name: 'carbons',
  setup(core: RouterCore) {
    core.feature(CARBONS_NS);
    /** Full JID → id of the session that enabled carbons. */
    const enabled = new Map<string, string>();
    const isEnabled = (s: SessionRecord): boolean => enabled.get(s.fullJid) === s.sessionId;
    core.onForget((keep) => {
      for (const jid of enabled.keys()) if (!keep(jid.split('/')[0]!)) enabled.delete(jid);
    });

    const toggle: IqHandler = async (st, payload) => {
      if (st.type !== 'set' || (payload.getName() !== 'enable' && payload.getName() !== 'disable')) {
        return new StanzaError('bad-request');
      }
      // §4: a client enables carbons for its own session only.
      if (!core.isLocalUser(st.from.bare, st.from.domain)) return new StanzaError('forbidden');
      const session = await core.sessions.get(st.from.bare, st.from.resource);
      if (session === null) return new StanzaError('unexpected-request');
      if (payload.getName() === 'enable') enabled.set(session.fullJid, session.sessionId);
      else enabled.delete(session.fullJid);
      return null;
    };
    core.iq('account', CARBONS_NS, async (st, payload, pass) => {
      if (st.from.bare !== st.to.bare) return new StanzaError('service-unavailable');
      return toggle(st, payload, pass);
    });
    core.iq('host', CARBONS_NS, toggle);

    /** Delivers a copy of `st` to each session of `user` that enabled carbons, except `skip`. */
    const copyTo = (
      user: string,
      sessions: readonly SessionRecord[],
      skip: (s: SessionRecord) => boolean,
      direction: 'sent' | 'received',
      st: Stanza,
      pass: Pass,
    ): void => {
      let inner: Element | undefined;
      for (const session of sessions) {
        if (!isEnabled(session) || skip(session)) continue;
        inner ??= forwardedCopy(st.el);
        const copy = xml(
          'message',
          { from: user, to: session.fullJid, type: st.type === '' ? undefined : st.type },
          xml(direction, { xmlns: CARBONS_NS }, xml('forwarded', { xmlns: FORWARD_NS }, inner)),
        );
        core.deliver(session, copy.toString(), st.childId(), st.env.ts, pass);
      }
    };

    // §6: what reaches the account goes to the resources that enabled carbons and did not get it.
    onMessageDelivery(core, {
      after: (st, outcome, pass) => {
        if (st.type === 'error' || st.type === 'groupchat' || st.type === 'headline') return;
        if (!outcome.sessions.some(isEnabled) || !carbonsEligible(st.el, st.type)) return;
        const got = new Set(outcome.delivered.map((s) => s.fullJid));
        copyTo(
          st.to.bare,
          outcome.sessions,
          (s) => got.has(s.fullJid) || s.fullJid === st.env.from,
          'received',
          st,
          pass,
        );
      },
    });

    // §6: what a resource sends goes to the user's other resources that enabled carbons.
    const copySent = (st: Stanza, sessions: readonly SessionRecord[], pass: Pass): 'pass' => {
      if (!sessions.some(isEnabled) || !carbonsEligible(st.el, st.type)) return 'pass';
      copyTo(st.from.bare, sessions, (s) => s.fullJid === st.env.from, 'sent', st, pass);
      return 'pass';
    };
    core.guard('out', (st, pass) => {
      if (st.kind !== 'message' || st.to.bare === st.from.bare) return 'pass';
      if (st.type === 'error' || st.type === 'groupchat' || st.type === 'headline') return 'pass';
      // Nobody enabled carbons: nothing to look up.
      if (enabled.size === 0) return 'pass';
      const sessions = core.sessions.peek(st.from.bare) ?? core.sessions.list(st.from.bare);
      return andThen(sessions, (list) => copySent(st, list, pass));
    });

    // Entries of sessions that ended are dropped when the account's sessions are next listed here.
    core.on('initial-presence', async (st) => {
      const live = new Set((await core.sessions.list(st.from.bare)).map((s) => s.fullJid));
      const prefix = `${st.from.bare}/`;
      for (const jid of enabled.keys()) if (jid.startsWith(prefix) && !live.has(jid)) enabled.delete(jid);
    });
  },
};
