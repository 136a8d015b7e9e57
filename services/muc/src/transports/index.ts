import {
  busTransport as componentBusTransport,
  type BusTransportOptions as ComponentBusTransportOptions,
  type Transport,
} from '@switchboard/component';

export {
  componentTransport,
  type ComponentTransportOptions,
  type Incoming,
  type Transport,
} from '@switchboard/component';

export type BusTransportOptions = Omit<ComponentBusTransportOptions, 'dispatch' | 'stage' | 'batchSends'>;

/**
 * The shared bus transport as the MUC service uses it: a batch's stanzas are
 * handed over in stream order without waiting for each (the service queues
 * per room, so one room's stanzas stay in order while different rooms proceed
 * together); replies go for inbound processing (stage `in`), and the stanzas
 * sent in the same tick (a room broadcast) in one publishBatch round trip.
 */
export function busTransport(options: BusTransportOptions): Transport {
  return componentBusTransport({ ...options, dispatch: 'concurrent', stage: 'in', batchSends: true });
}
