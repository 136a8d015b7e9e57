import {
  busTransport as componentBusTransport,
  type BusTransportOptions as ComponentBusTransportOptions,
  type Transport,
} from '@switchboard/component';

export type { Transport } from '@switchboard/component';

export type BusTransportOptions = Omit<
  ComponentBusTransportOptions,
  'batchSize' | 'dispatch' | 'stage' | 'batchSends' | 'claimPending'
>;

/**
 * The shared bus transport as the upload service uses it. Replicas share
 * `svc:{domain}` (slot requests need no state beyond the quota ledger); a
 * batch's requests are answered concurrently and acked once all were.
 */
export function busTransport(options: BusTransportOptions): Transport {
  return componentBusTransport({ ...options, dispatch: 'concurrent' });
}
