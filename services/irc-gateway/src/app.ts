import type { Logger } from '@switchboard/kit';
import type { Element } from '@switchboard/xml';
import type { IrcGatewayConfig } from './config.js';
import type { ReplicaSet } from './cluster/ownership.js';
import { IrcGateway } from './core/gateway.js';
import type { Memberships } from './persistence/memberships.js';
import type { Transport } from './transports/index.js';

export type { IrcGatewayConfig } from './config.js';
export {
  ircGatewayConfigSchema,
  ircGatewaySettingsSchema,
  toIrcGatewayConfig,
  type IrcGatewayFileConfig,
  type IrcGatewaySettings,
} from './config.js';
export { IrcGateway, type ServerPolicy } from './core/gateway.js';
export {
  createRedisReplicaSet,
  ownerOf,
  type ConnectionLeases,
  type ReplicaSet,
} from './cluster/ownership.js';
export * from './persistence/index.js';
export * from './transports/index.js';

export interface IrcGatewayDeps {
  readonly transport: Transport;
  readonly memberships: Memberships;
  readonly logger: Logger;
  /**
   * Connection ownership across replicas (cluster): this replica connects only the users it
   * owns and takes over the users of replicas that leave. Every user is owned when absent.
   */
  readonly replicas?: ReplicaSet;
}

export interface IrcGatewayApp {
  readonly gateway: IrcGateway;
  /** Starts taking stanzas, then reconnects and rejoins what was joined before the last stop. */
  start(): Promise<void>;
  /** Stops taking stanzas and quits IRC, keeping the memberships for the next start. Idempotent. */
  stop(): Promise<void>;
}

/** Wires the translation to its transport and store; nothing connects until start(). */
export function build(config: IrcGatewayConfig, deps: IrcGatewayDeps): IrcGatewayApp {
  const gateway = new IrcGateway({
    domain: config.domain,
    transport: deps.transport,
    memberships: deps.memberships,
    logger: deps.logger,
    policy: config.policy,
    tuning: config.tuning,
    ...(config.name === undefined ? {} : { name: config.name }),
    ...(deps.replicas === undefined ? {} : { leases: deps.replicas }),
  });
  let stopping: Promise<void> | undefined;
  return {
    gateway,
    async start() {
      const { replicas } = deps;
      await replicas?.start();
      const owns = (user: string): boolean => replicas?.owns(user) ?? true;
      replicas?.onChange((live) => {
        deps.logger.info({ live }, 'gateway replicas changed');
        gateway
          .release(owns)
          .then(() => gateway.restore(owns, 'Your IRC connection moved to another gateway replica'))
          .catch((error: unknown) => deps.logger.error({ err: error }, 'rebalancing IRC connections failed'));
      });
      await deps.transport.start((el: Element) => gateway.handleStanza(el));
      const restored = await gateway.restore(owns);
      deps.logger.info({ domain: config.domain, restored }, 'irc gateway started');
    },
    stop() {
      stopping ??= (async () => {
        await deps.transport.stop();
        await gateway.stop();
        // Last: the other replicas take over this one's users at their next heartbeat.
        await deps.replicas?.stop();
      })();
      return stopping;
    },
  };
}
