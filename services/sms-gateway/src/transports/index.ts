export type { Incoming, Transport, TransportHooks } from './transport.js';
export { busTransport, type BusTransportOptions } from './bus.js';
export { componentTransport, type ComponentTransportOptions } from './component.js';
