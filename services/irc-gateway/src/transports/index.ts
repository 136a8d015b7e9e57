export {
  componentTransport,
  type ComponentTransportOptions,
  type Incoming,
  type Transport,
} from '@switchboard/component';
export { busTransport, type BusTransportOptions } from './bus.js';
export { replicaStream, shardedBusTransport, type ShardedBusTransportOptions } from './sharded-bus.js';
