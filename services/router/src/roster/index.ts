export {
  DEFINED_STATES,
  definedState,
  isValidItem,
  type DefinedState,
  type RosterItem,
  type Subscription,
} from './states.js';
export {
  canReceivePresenceFrom,
  inboundSubscription,
  isSubscriptionType,
  outboundSubscription,
  probeResponse,
  shouldSendPresenceTo,
  type InboundOptions,
  type InboundOutcome,
  type OutboundOutcome,
  type ProbeResponse,
  type SubscriptionOptions,
  type SubscriptionOutcome,
  type SubscriptionType,
} from './subscription.js';
export {
  isRosterItem,
  needsRosterPush,
  sameVisibleItem,
  visibleItem,
  type VisibleRosterItem,
} from './view.js';
export { applyRosterSet, rosterRemove, type RosterRemoval, type RosterSetRequest } from './roster-set.js';
