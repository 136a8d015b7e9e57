// The shared component transports (packages/component); the SMS gateway uses their defaults:
// envelopes without stage, stanzas of a batch handled one after the other, the `online` hook.
export {
  busTransport,
  componentTransport,
  type BusTransportOptions,
  type ComponentTransportOptions,
  type Incoming,
  type Transport,
  type TransportHooks,
} from '@switchboard/component';
