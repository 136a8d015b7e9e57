export type { Incoming, Transport, TransportHooks } from './transport.js';
export {
  busTransport,
  decodeServiceEntry,
  routeItem,
  type BusTransportOptions,
  type ServiceStanza,
} from './bus.js';
export { componentTransport, type ComponentTransportOptions } from './component.js';
export {
  StanzaError,
  errorReply,
  type ErrorReplyOptions,
  type StanzaErrorCondition,
  type StanzaErrorType,
} from './stanza-error.js';
export {
  chooseTransport,
  type ChooseTransportOptions,
  type ChosenBusOptions,
  type ChosenTransport,
  type TransportChoice,
  type TransportSettings,
} from './choose-transport.js';
