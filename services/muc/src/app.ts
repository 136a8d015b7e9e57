import type { Logger, Metrics } from '@switchboard/kit';
import type { Element } from '@switchboard/xml';
import type { MucConfig } from './config.js';
import { MucService } from './room/service.js';
import type { MucStorage } from './storage/storage.js';
import type { Incoming, Transport } from './transports/index.js';

export {
  mucConfigSchema,
  mucSettingsSchema,
  toMucConfig,
  type MucConfig,
  type MucFileConfig,
  type MucSettings,
} from './config.js';
export * from './room/index.js';
export * from './storage/index.js';
export * from './transports/index.js';
export { acquireLease, type Lease, type LeaseOptions } from './cluster/lease.js';

export interface MucDeps {
  readonly transport: Transport;
  readonly storage: MucStorage;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

export interface MucApp {
  readonly service: MucService;
  /** Drops temporary rooms left by a previous owner, then takes stanzas from the transport. */
  start(): Promise<void>;
  /** Tells occupants the service is going away (status 332), then stops taking stanzas. Idempotent. */
  stop(): Promise<void>;
}

/** Wires the XEP-0045 service to its transport and storage; nothing connects until start(). */
export function build(config: MucConfig, deps: MucDeps): MucApp {
  const { logger, transport } = deps;
  const handled = deps.metrics?.counter({
    name: 'muc_stanzas_total',
    help: 'Stanzas the MUC service handled, by kind',
    labelNames: ['kind'],
  });
  const service = new MucService({
    domain: config.domain,
    storage: deps.storage,
    send: (el) => transport.send(el),
    logger,
    name: config.name,
    roomDefaults: config.roomDefaults,
    historyDefault: config.historyDefault,
    historyMax: config.historyMax,
  });
  let stopping: Promise<void> | undefined;
  return {
    service,
    async start() {
      await service.start();
      await transport.start(async (el: Element, incoming: Incoming) => {
        await service.handle(el, incoming.id);
        handled?.inc({ kind: el.name });
      });
      logger.info('muc service started');
    },
    stop() {
      stopping ??= (async () => {
        await service.shutdown();
        await transport.stop();
      })();
      return stopping;
    },
  };
}
