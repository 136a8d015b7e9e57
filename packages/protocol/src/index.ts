export {
  ENVELOPE_VERSION,
  EnvelopeError,
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
  type EnvelopeKind,
} from './envelope.js';
export { DEFAULT_PARTITIONS, partitionOf } from './partition.js';
export { Groups, Keys, Streams } from './keys.js';
export {
  decodeDelivery,
  encodeDelivery,
  type CloseDelivery,
  type Delivery,
  type MovedDelivery,
  type StanzaDelivery,
} from './delivery.js';
export { rememberEncodings } from './recent-encodings.js';
