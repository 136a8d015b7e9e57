import {
  busTransport as componentBusTransport,
  type BusTransportOptions as ComponentBusTransportOptions,
  type Transport,
} from '@switchboard/component';

export type BusTransportOptions = Omit<
  ComponentBusTransportOptions,
  'dispatch' | 'stage' | 'batchSends' | 'claimPending'
>;

/**
 * The shared bus transport as the IRC gateway uses it: stanzas handled one
 * after the other, the gateway's stanzas sent for inbound processing (stage
 * `in`), the way the edge's XEP-0114 listener does for components.
 */
export function busTransport(options: BusTransportOptions): Transport {
  return componentBusTransport({ ...options, stage: 'in' });
}
