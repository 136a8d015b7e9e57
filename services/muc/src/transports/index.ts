export type { Incoming, Transport } from './transport.js';
export { busTransport, type BusTransportOptions } from './bus.js';
export { componentTransport, type ComponentTransportOptions } from './component.js';
