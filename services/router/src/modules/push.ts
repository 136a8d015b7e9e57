import type { PushRegistration } from '@switchboard/store';
import { parseElement, xml, type Element } from '@switchboard/xml';
import type { Pass, RouterCore, RouterModule, Verdict } from '../core.js';
import type { SessionRecord } from '../sessions/registry.js';
import { StanzaError } from '../stanza-error.js';
import type { Stanza } from '../stanza.js';
import { DATA_FORMS_NS, buildForm, formFields, formOf } from './data-form.js';
import { onMessageDelivery, type MessageOutcome } from './messages.js';
import { PUBSUB_NS } from './pep.js';

export const PUSH_NS = 'urn:xmpp:push:0';
export const PUSH_SUMMARY = 'urn:xmpp:push:summary';
const PUBLISH_OPTIONS = 'http://jabber.org/protocol/pubsub#publish-options';
/** Id prefix of the notifications the server publishes; the app server's answer comes back with it. */
const PUSH_ID = 'sb-push-';

const encode = (jid: string, node: string): string => Buffer.from(`${jid}\n${node}`).toString('base64url');
function decode(id: string): { jid: string; node: string } | undefined {
  // base64url has no '.', so the first one ends the token (envelope ids may have more).
  const token = id.slice(PUSH_ID.length, id.indexOf('.', PUSH_ID.length));
  const text = Buffer.from(token, 'base64url').toString();
  const nl = text.indexOf('\n');
  return nl === -1 ? undefined : { jid: text.slice(0, nl), node: text.slice(nl + 1) };
}

/**
 * Whether a message that reached the account should wake the device of a
 * registration (XEP-0357 §6): it carries a body, and either no session took
 * it (offline storage), or the session that enabled the registration is
 * detached (XEP-0198, waiting for a resume) or inactive (XEP-0352). A
 * registration whose session is gone wakes its device only when a session
 * that took the message is held back like that.
 */
export function wantsPush(st: Stanza, outcome: MessageOutcome, reg: PushRegistration): boolean {
  if (!st.env.xml.includes('<body') || st.el.getChild('body') === undefined) return false;
  if (outcome.stored) return true;
  const heldBack = (s: SessionRecord): boolean => s.detached === true || s.inactive === true;
  const own = reg.resource === '' ? undefined : outcome.sessions.find((s) => s.resource === reg.resource);
  if (own !== undefined) return heldBack(own);
  return outcome.delivered.some(heldBack);
}

/**
 * XEP-0357 push notifications: clients register an app server (jid, node and
 * publish-options); when a message for the account finds no session, or the
 * registering device's session is detached or inactive (`wantsPush`), the
 * router publishes a `urn:xmpp:push:summary` notification to the app server
 * from the user's bare JID. An app server that answers with an error loses
 * its registration (§8).
 */
export const pushModule: RouterModule = {
  name: 'push',
  setup(core: RouterCore) {
    core.feature(PUSH_NS, 'account');
    const includeBody = core.config.push?.includeBody ?? false;

    core.iq('account', PUSH_NS, async (st, payload) => {
      const user = st.to.bare;
      if (st.from.bare !== user) return new StanzaError('forbidden');
      if (st.type !== 'set') return new StanzaError('bad-request');
      const jid = payload.attrs['jid'];
      const node = payload.attrs['node'];
      if (jid === undefined || jid === '')
        return new StanzaError('bad-request', undefined, 'jid is required');
      if (payload.getName() === 'enable') {
        // §5: the node is required; publish-options are an optional form.
        if (node === undefined || node === '')
          return new StanzaError('bad-request', undefined, 'node is required');
        const form = formOf(payload);
        if (form !== undefined && formFields(form).get('FORM_TYPE')?.[0] !== PUBLISH_OPTIONS) {
          return new StanzaError('bad-request', undefined, 'the form must be pubsub#publish-options');
        }
        await core.store.push.put(user, {
          jid,
          node,
          formXml: form?.toString() ?? '',
          resource: st.from.resource,
        });
        return null;
      }
      if (payload.getName() === 'disable') {
        await core.store.push.remove(user, jid, node === '' ? undefined : node);
        return null;
      }
      return new StanzaError('feature-not-implemented');
    });

    /** §7 summary: waiting messages are the offline queue; a held-back session's queue is on its edge, unknown here. */
    const notification = async (user: string, st: Stanza, stored: boolean): Promise<Element> => {
      const fields: [string, string][] = [
        ['message-count', stored ? String(await core.store.offline.count(user)) : '1'],
        ['last-message-sender', st.env.from],
      ];
      const body = st.el.getChildText('body');
      if (includeBody && body !== undefined) fields.push(['last-message-body', body]);
      return xml('notification', { xmlns: PUSH_NS }, buildForm('submit', PUSH_SUMMARY, fields));
    };

    onMessageDelivery(core, {
      after: (st, outcome, pass) => {
        if (st.type === 'error' || st.type === 'groupchat' || st.type === 'headline') return;
        // Nothing stored and nobody held back: no device to wake, and no store read on the hot path.
        if (!outcome.stored && !outcome.sessions.some((s) => s.detached === true || s.inactive === true))
          return;
        return wake(st, outcome, pass);
      },
    });

    const wake = async (st: Stanza, outcome: MessageOutcome, pass: Pass): Promise<void> => {
      const user = st.to.bare;
      const registrations = (await core.store.push.list(user)).filter((reg) => wantsPush(st, outcome, reg));
      if (registrations.length === 0) return;
      const summary = await notification(user, st, outcome.stored);
      for (const reg of registrations) publish(user, reg.jid, reg.node, reg.formXml, summary, st, pass);
    };

    /** §6: a pubsub publish to the app server, from the user's bare JID. */
    const publish = (
      user: string,
      jid: string,
      node: string,
      formXml: string,
      summary: Element,
      cause: Stanza,
      pass: Pass,
    ): void => {
      const options = formXml === '' ? undefined : parseElement(formXml);
      if (options !== undefined) options.attrs['xmlns'] = DATA_FORMS_NS;
      core.send(
        xml(
          'iq',
          { type: 'set', from: user, to: jid, id: `${PUSH_ID}${encode(jid, node)}.${cause.env.id}` },
          xml(
            'pubsub',
            { xmlns: PUBSUB_NS },
            xml('publish', { node }, xml('item', {}, summary)),
            options === undefined ? undefined : xml('publish-options', {}, options),
          ),
        ),
        cause,
        pass,
      );
    };

    // §8: the app server's answer; an error means the registration is no good any more.
    core.guard('in', (st) => {
      if (st.kind !== 'iq' || !st.env.stanzaId.startsWith(PUSH_ID)) return 'pass';
      if (st.type !== 'result' && st.type !== 'error') return 'pass';
      return answered(st);
    });
    const answered = async (st: Stanza): Promise<Verdict> => {
      if (st.type === 'error') {
        const reg = decode(st.env.stanzaId);
        if (reg !== undefined && reg.jid === st.env.from) {
          await core.store.push.remove(st.to.bare, reg.jid, reg.node);
          core.logger.info(
            { user: st.to.bare, appServer: reg.jid },
            'push registration disabled after an error',
          );
        }
      }
      return 'drop';
    };
  },
};
