import type { Bus, BusEntry, Consumer, Fence } from '@switchboard/bus';
import type { Logger } from '@switchboard/kit';
import { Groups, Streams } from '@switchboard/protocol';
import type { Store } from '@switchboard/store';
import type { RouterConfig } from './config.js';
import { RouterCore, type RouterModule } from './core.js';
import { blockingModule } from './modules/blocking.js';
import { carbonsModule } from './modules/carbons.js';
import { discoModule } from './modules/disco.js';
import { externalServicesModule } from './modules/external-services.js';
import { lastModule } from './modules/last.js';
import { mamModule } from './modules/mam.js';
import { messagesModule } from './modules/messages.js';
import { offlineModule } from './modules/offline.js';
import { pepModule } from './modules/pep.js';
import { pingModule } from './modules/ping.js';
import { presenceModule } from './modules/presence.js';
import { privateModule } from './modules/private.js';
import { pushModule } from './modules/push.js';
import { rosterModule } from './modules/roster.js';
import { sessionsModule } from './modules/sessions.js';
import { subscriptionsModule } from './modules/subscriptions.js';
import { timeModule } from './modules/time.js';
import { vcardModule } from './modules/vcard.js';
import { versionModule } from './modules/version.js';
import type { SessionRegistry } from './sessions/registry.js';

export type { RouterConfig } from './config.js';
export { clientFeatureSettings, toClientFeatureConfig } from './config.js';
export type { RouterModule } from './core.js';
export type { LastActivity, SessionRecord, SessionRegistry } from './sessions/registry.js';
export { createMemorySessionRegistry } from './sessions/memory.js';
export { createRedisSessionRegistry } from './sessions/redis.js';
export { StanzaError, type StanzaErrorCondition, type StanzaErrorType } from './stanza-error.js';
export * from './admin/index.js';

/**
 * The modules a router runs, in the order their handlers are tried.
 * Subscriptions come before presence: both listen to presence.
 */
export const DEFAULT_MODULES: readonly RouterModule[] = [
  sessionsModule,
  blockingModule,
  subscriptionsModule,
  // Watches presence for XEP-0115 caps, so it comes before the presence module, which ends the handling.
  pepModule,
  presenceModule,
  messagesModule,
  offlineModule,
  rosterModule,
  discoModule,
  pingModule,
  versionModule,
  timeModule,
  lastModule,
  vcardModule,
  privateModule,
  carbonsModule,
  mamModule,
  pushModule,
  externalServicesModule,
];

export interface RouterDeps {
  readonly bus: Bus;
  readonly store: Store;
  readonly sessions: SessionRegistry;
  readonly logger: Logger;
  /** Clock, ms since the epoch; default Date.now. */
  readonly now?: () => number;
  /** Replaces DEFAULT_MODULES. */
  readonly modules?: readonly RouterModule[];
  /** The fence of this router's lease on a partition (cluster); see CoreDeps.fence. */
  readonly fence?: (partition: number) => Fence | undefined;
  /** Called after each batch is processed and its output published (metrics, tests). */
  readonly onBatch?: (entries: readonly BusEntry[]) => void;
}

export interface Router {
  /** Starts consuming the owned partitions' `route:{p}` streams. */
  start(): Promise<void>;
  /** Stops consuming; the running batch finishes and is acked. Idempotent. */
  stop(): Promise<void>;
  /**
   * Processes one batch read from route streams: every envelope in order,
   * then all deliveries and forwards in one `publishBatch`. The consumer
   * acks after it resolves; throwing means the batch is read again.
   */
  handleBatch(entries: readonly BusEntry[]): Promise<void>;
  /** Partitions this router owns, e.g. after lease changes. Takes effect for the next read. */
  setOwnedPartitions(partitions: readonly number[]): void;
  readonly ownedPartitions: readonly number[];
  /** The disco#info features the server announces, from the registered modules. */
  readonly features: readonly string[];
}

export function build(config: RouterConfig, deps: RouterDeps): Router {
  const core = new RouterCore(config, deps);
  for (const module of deps.modules ?? DEFAULT_MODULES) module.setup(core);
  let consumer: Consumer | undefined;
  let owned = [...config.ownedPartitions];

  const handleBatch = async (entries: readonly BusEntry[]): Promise<void> => {
    await core.handleBatch(entries);
    deps.onBatch?.(entries);
  };

  return {
    async start() {
      if (consumer !== undefined) return;
      await Promise.all(owned.map((p) => deps.bus.ensureGroup(Streams.route(p), Groups.router)));
      consumer = deps.bus.consume({
        streams: owned.map((p) => Streams.route(p)),
        group: Groups.router,
        consumer: config.routerId,
        batchSize: config.batchSize ?? 100,
        handler: handleBatch,
        onError: (error) => deps.logger.error({ err: error }, 'route consumer error'),
      });
    },
    async stop() {
      const running = consumer;
      consumer = undefined;
      await running?.stop();
    },
    handleBatch,
    setOwnedPartitions(partitions) {
      owned = [...partitions];
      core.setOwned(owned);
      consumer?.setStreams(owned.map((p) => Streams.route(p)));
    },
    get ownedPartitions() {
      return owned;
    },
    get features() {
      return core.features('host');
    },
  };
}
