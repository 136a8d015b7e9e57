import type { MaybePromise, Pass, RouterCore, RouterModule } from '../core.js';
import type { SessionRecord } from '../sessions/registry.js';
import { StanzaError } from '../stanza-error.js';
import type { Stanza } from '../stanza.js';
import { storeOffline } from './offline.js';

/** Where a message for a local account went. */
export interface MessageOutcome {
  /** The sessions it was delivered to. */
  readonly delivered: readonly SessionRecord[];
  /** Every session of the account when it was routed. */
  readonly sessions: readonly SessionRecord[];
  /** It went to offline storage (XEP-0160). */
  readonly stored: boolean;
}

/**
 * A feature acting on messages as they reach a local account, in the
 * account's partition: the archive (XEP-0313) stamps a stanza-id before
 * delivery, carbons (XEP-0280) and push (XEP-0357) look at where it went.
 */
export interface MessageDeliveryHook {
  /** Runs before routing; gives the stanza to route in its place (or the same one). */
  readonly before?: (st: Stanza, pass: Pass) => MaybePromise<Stanza>;
  readonly after?: (st: Stanza, outcome: MessageOutcome, pass: Pass) => MaybePromise<void>;
}

const deliveryHooks = new WeakMap<RouterCore, MessageDeliveryHook[]>();

/** Registers a hook on message delivery to local accounts; hooks run in registration order. */
export function onMessageDelivery(core: RouterCore, hook: MessageDeliveryHook): void {
  let list = deliveryHooks.get(core);
  if (list === undefined) deliveryHooks.set(core, (list = []));
  list.push(hook);
}

/**
 * Message delivery to local accounts, RFC 6121 §8.5.2 (bare JID) and
 * §8.5.3 (full JID). Works from the envelope's routing facts alone: the XML
 * is parsed only when the message goes to offline storage or a hook needs it.
 */
export const messagesModule: RouterModule = {
  name: 'messages',
  setup(core: RouterCore) {
    const none: readonly MessageDeliveryHook[] = [];
    // Synchronous while every step is (hooks answer from caches, the sessions are known); from the
    // first step that returns a promise on, the rest runs in deliverAfter.
    core.on('message-in', (original, pass) => {
      const hooks = deliveryHooks.get(core) ?? none;
      let st = original;
      for (let i = 0; i < hooks.length; i++) {
        const stamped = hooks[i]!.before?.(st, pass) ?? st;
        if (stamped instanceof Promise) return deliverAfter(core, hooks, i, stamped, pass);
        st = stamped;
      }
      const sessions = core.sessions.peek(st.to.bare);
      if (sessions === undefined) return deliverAfter(core, hooks, hooks.length, Promise.resolve(st), pass);
      const outcome = route(core, st, sessions, pass);
      if (outcome instanceof Promise) return after(hooks, 0, st, outcome, pass);
      for (let i = 0; i < hooks.length; i++) {
        const done = hooks[i]!.after?.(st, outcome, pass);
        if (done instanceof Promise) return after(hooks, i + 1, st, outcome, pass, done);
      }
      return true;
    });
  },
};

/** The message-in handler from before-hook `i` on, once that hook returned a promise. */
async function deliverAfter(
  core: RouterCore,
  hooks: readonly MessageDeliveryHook[],
  i: number,
  stamped: Promise<Stanza>,
  pass: Pass,
): Promise<true> {
  let st = await stamped;
  for (let j = i + 1; j < hooks.length; j++) st = (await hooks[j]!.before?.(st, pass)) ?? st;
  const sessions = await core.sessions.list(st.to.bare);
  return after(hooks, 0, st, route(core, st, sessions, pass), pass);
}

/** Runs the after-hooks from `from` on, once `outcome` (and a hook's `waiting`) settled. */
async function after(
  hooks: readonly MessageDeliveryHook[],
  from: number,
  st: Stanza,
  outcome: MaybePromise<MessageOutcome>,
  pass: Pass,
  waiting?: Promise<void>,
): Promise<true> {
  const settled = await outcome;
  await waiting;
  for (let j = from; j < hooks.length; j++) await hooks[j]!.after?.(st, settled, pass);
  return true;
}

function route(
  core: RouterCore,
  st: Stanza,
  sessions: readonly SessionRecord[],
  pass: Pass,
): MaybePromise<MessageOutcome> {
  const type = st.type === '' ? 'normal' : st.type;
  if (st.to.resource !== '') {
    for (const session of sessions) {
      // §8.5.3.1: the resource is connected: deliver to it.
      if (session.resource === st.to.resource) {
        core.deliver(session, st.env.xml, st.env.id, st.env.ts, pass);
        return { delivered: [session], sessions, stored: false };
      }
    }
    // §8.5.3.2.1: no such resource.
    if (type === 'groupchat') core.bounce(st, new StanzaError('service-unavailable'), pass);
    else if (type === 'normal' || type === 'chat') return toBareJid(core, st, type, sessions, pass);
    // headline and error are silently ignored.
    return { delivered: [], sessions, stored: false };
  }
  return toBareJid(core, st, type, sessions, pass);
}

function toBareJid(
  core: RouterCore,
  st: Stanza,
  type: string,
  sessions: readonly SessionRecord[],
  pass: Pass,
): MaybePromise<MessageOutcome> {
  const none: MessageOutcome = { delivered: [], sessions, stored: false };
  // §8.5.2.1.3 / §8.5.2.2.3: groupchat to a bare JID is an error; §8.5.2.1.5: errors are dropped.
  if (type === 'error') return none;
  if (type === 'groupchat') {
    core.bounce(st, new StanzaError('service-unavailable'), pass);
    return none;
  }
  // Only available resources with non-negative priority count (§8.5.2.1).
  let best = -1;
  for (const s of sessions) if (s.available && s.priority > best) best = s.priority;
  if (best < 0) {
    // §8.5.2.2.1: chat and normal may be stored; §8.5.2.2.2: headline is dropped.
    if (type === 'chat' || type === 'normal') {
      return storeOffline(core, st, pass).then((stored) => ({ delivered: [], sessions, stored }));
    }
    return none;
  }
  const id = st.env.id;
  const delivered: SessionRecord[] = [];
  for (const s of sessions) {
    if (!s.available || s.priority < 0) continue;
    // §8.5.2.1.1: chat and normal go to the highest-priority resources; §8.5.2.1.2: headline to all.
    if (type === 'headline' || s.priority === best) {
      core.deliver(s, st.env.xml, id, st.env.ts, pass);
      delivered.push(s);
    }
  }
  return { delivered, sessions, stored: false };
}
