import type { RosterItem, Subscription } from '@switchboard/store';

// The store's record is the state machine's input and output: no conversion between them.
export type { RosterItem, Subscription } from '@switchboard/store';

/** The nine defined subscription states, spelled as in RFC 6121 Appendix A.1. */
export type DefinedState =
  | 'None'
  | 'None + Pending Out'
  | 'None + Pending In'
  | 'None + Pending Out+In'
  | 'To'
  | 'To + Pending In'
  | 'From'
  | 'From + Pending Out'
  | 'Both';

interface StateFacts {
  readonly subscription: Subscription;
  readonly pendingOut: boolean;
  readonly pendingIn: boolean;
}

// RFC 6121 Appendix A.1. "Pending Out" is shown to clients as ask='subscribe';
// "Pending In" is server-side only (§3.1.3).
const FACTS: { readonly [S in DefinedState]: StateFacts } = {
  None: { subscription: 'none', pendingOut: false, pendingIn: false },
  'None + Pending Out': { subscription: 'none', pendingOut: true, pendingIn: false },
  'None + Pending In': { subscription: 'none', pendingOut: false, pendingIn: true },
  'None + Pending Out+In': { subscription: 'none', pendingOut: true, pendingIn: true },
  To: { subscription: 'to', pendingOut: false, pendingIn: false },
  'To + Pending In': { subscription: 'to', pendingOut: false, pendingIn: true },
  From: { subscription: 'from', pendingOut: false, pendingIn: false },
  'From + Pending Out': { subscription: 'from', pendingOut: true, pendingIn: false },
  Both: { subscription: 'both', pendingOut: false, pendingIn: false },
};

export const DEFINED_STATES: readonly DefinedState[] = Object.keys(FACTS) as DefinedState[];

/**
 * The defined state of a record; no record is "None" (RFC 6121 A.1 counts an
 * entity absent from the roster as "None"). Flags that no defined state
 * allows with the record's subscription (ask with 'to', pending in with
 * 'from') are ignored, as they can only come from outside this module.
 */
export function definedState(item: RosterItem | null): DefinedState {
  if (item === null) return 'None';
  const out = item.ask === 'subscribe';
  const inb = item.pendingIn === true;
  switch (item.subscription) {
    case 'none':
      if (out) return inb ? 'None + Pending Out+In' : 'None + Pending Out';
      return inb ? 'None + Pending In' : 'None';
    case 'to':
      return inb ? 'To + Pending In' : 'To';
    case 'from':
      return out ? 'From + Pending Out' : 'From';
    case 'both':
      return 'Both';
  }
}

export function hasFrom(subscription: Subscription): boolean {
  return subscription === 'from' || subscription === 'both';
}

export function hasTo(subscription: Subscription): boolean {
  return subscription === 'to' || subscription === 'both';
}

/**
 * Whether a record is one of the defined states with flags that fit it:
 * ask only without a subscription to the contact, pending in and
 * pre-approval only without a subscription from the contact, pre-approval
 * only without a pending request (it would be an approval, RFC 6121 §3.4.2),
 * the stored request only while one is pending, and flags present only when
 * true (`exactOptionalPropertyTypes`: never set to undefined).
 */
export function isValidItem(item: RosterItem): boolean {
  const from = hasFrom(item.subscription);
  const to = hasTo(item.subscription);
  if ('ask' in item && (item.ask !== 'subscribe' || to)) return false;
  if ('pendingIn' in item && (item.pendingIn !== true || from)) return false;
  if ('pendingInXml' in item && (typeof item.pendingInXml !== 'string' || item.pendingIn !== true))
    return false;
  if ('approved' in item && (item.approved !== true || from || item.pendingIn === true)) return false;
  if ('name' in item && typeof item.name !== 'string') return false;
  return Array.isArray(item.groups);
}

export interface StateExtras {
  /** Kept only while the new state is pending in. */
  readonly pendingInXml?: string | undefined;
  /** Kept only while the new state allows a pre-approval. */
  readonly approved: boolean;
}

/**
 * A record for `state`, keeping the user's own data (jid, name, groups) of
 * `base`. Keys come in the store's canonical order.
 */
export function itemInState(
  base: Pick<RosterItem, 'jid' | 'name' | 'groups'>,
  state: DefinedState,
  extras: StateExtras,
): RosterItem {
  const facts = FACTS[state];
  const approved = extras.approved && !hasFrom(facts.subscription) && !facts.pendingIn;
  return {
    jid: base.jid,
    ...(base.name !== undefined && { name: base.name }),
    subscription: facts.subscription,
    ...(facts.pendingOut && { ask: 'subscribe' as const }),
    ...(facts.pendingIn && { pendingIn: true }),
    ...(facts.pendingIn && extras.pendingInXml !== undefined && { pendingInXml: extras.pendingInXml }),
    ...(approved && { approved: true }),
    groups: base.groups,
  };
}

export function stateFacts(state: DefinedState): StateFacts {
  return FACTS[state];
}
