export type { Incoming, Transport } from './transport.js';
export { busTransport, type BusTransportOptions } from './bus.js';
export { replicaStream, shardedBusTransport, type ShardedBusTransportOptions } from './sharded-bus.js';
export { componentTransport, type ComponentTransportOptions } from './component.js';
