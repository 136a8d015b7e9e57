import { hostname } from 'node:os';
import { createMemoryBus, createRedisBus, type Bus } from '@switchboard/bus';
import type { ServiceRuntime } from '@switchboard/kit';
import { busTransport, type BusTransportOptions } from './bus.js';
import { componentTransport } from './component.js';
import type { Transport } from './transport.js';

/** The `transport` section of a component service's config. */
export type TransportChoice =
  | { readonly kind: 'bus'; readonly partitions: number; readonly consumer?: string | undefined }
  | { readonly kind: 'component'; readonly service: string; readonly secret: string };

/** The parts of a component service's config that choose its transport. */
export interface TransportSettings {
  readonly transport: TransportChoice;
  /** Redis for the bus; an in-process bus when absent. */
  readonly redisUrl?: string | undefined;
}

/** What chooseTransport hands a service's bus transport; the service adds its dispatch, stage, …. */
export type ChosenBusOptions = Pick<
  BusTransportOptions,
  'bus' | 'domain' | 'partitions' | 'consumer' | 'logger'
>;

export interface ChooseTransportOptions {
  readonly domain: string;
  readonly runtime: Pick<ServiceRuntime, 'logger' | 'onConnectionError'>;
  /** The consumer is `<hostname>-<consumerSuffix>` where the config names none. */
  readonly consumerSuffix: string;
  /** Ends the warning for a bus without Redis: "only this process can reach the <reachable>". */
  readonly reachable: 'gateway' | 'service';
  /** The service's own bus transport; default the shared one with its defaults. */
  readonly busTransport?: (options: ChosenBusOptions) => Transport;
}

export interface ChosenTransport {
  /** The bus the transport runs on, for the service to close; none over XEP-0114. */
  readonly bus: Bus | undefined;
  readonly transport: Transport;
}

/**
 * The transport the config asks for (ARCHITECTURE.md, "Gateways"): the cluster's bus (Redis, or
 * in-process without redisUrl) or XEP-0114 against any XMPP server.
 */
export function chooseTransport(
  settings: TransportSettings,
  options: ChooseTransportOptions,
): ChosenTransport {
  const { transport: choice, redisUrl } = settings;
  const { domain } = options;
  const { logger, onConnectionError } = options.runtime;
  if (choice.kind === 'component') {
    return {
      bus: undefined,
      transport: componentTransport({ service: choice.service, domain, secret: choice.secret, logger }),
    };
  }
  const bus =
    redisUrl === undefined ? createMemoryBus() : createRedisBus({ url: redisUrl, onConnectionError });
  if (redisUrl === undefined)
    logger.warn(`bus transport without redisUrl: only this process can reach the ${options.reachable}`);
  const build = options.busTransport ?? busTransport;
  const transport = build({
    bus,
    domain,
    partitions: choice.partitions,
    consumer: choice.consumer ?? `${hostname()}-${options.consumerSuffix}`,
    logger,
  });
  return { bus, transport };
}
