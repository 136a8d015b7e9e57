import type { FastifyInstance } from 'fastify';
import type { Logger, Metrics } from '@switchboard/kit';
import type { Element } from '@switchboard/xml';
import type { ProviderConfig, SmsGatewayConfig } from './config.js';
import { SmsGateway } from './core/gateway.js';
import { createGatewayMetrics } from './core/metrics.js';
import type { SendLedger } from './providers/ledger.js';
import type { SmsProvider } from './providers/provider.js';
import { createSmppProvider } from './providers/smpp.js';
import { createTwilioProvider } from './providers/twilio.js';
import type { OutboundQueue } from './queue/queue.js';
import type { Registrations } from './registrations/registrations.js';
import { RoomBridge } from './rooms/bridge.js';
import type { RoomMemberships } from './rooms/memberships.js';
import { openSqliteRoomMemberships } from './rooms/sqlite.js';
import { planSegments } from './sms/encoding.js';
import type { Incoming, Transport } from './transports/index.js';

export type { RoomsConfig, SmsGatewayConfig, VerificationConfig } from './config.js';
export {
  smsGatewayConfigSchema,
  toSmsGatewayConfig,
  type ProviderConfig,
  type SmsGatewayFileConfig,
  type SmsGatewaySettings,
} from './config.js';
export * from './admin/index.js';
export * from './core/index.js';
export * from './queue/index.js';
export * from './registrations/index.js';
export * from './rooms/index.js';
export * from './transports/index.js';
export type {
  DeliveryReport,
  InboundSms,
  OutboundSms,
  ProviderContext,
  ProviderHandlers,
  SendResult,
  SmsProvider,
} from './providers/provider.js';
export { ProviderError } from './providers/provider.js';
export { createMemoryLedger, type SendLedger, type Settlement } from './providers/ledger.js';
export { createRedisLedger } from './providers/ledger-redis.js';
export { openSqliteLedger } from './providers/ledger-sqlite.js';

export interface SmsGatewayDeps {
  readonly transport: Transport;
  readonly provider: SmsProvider;
  readonly registrations: Registrations;
  /** The rooms phones are in; without it they live in memory and are forgotten at stop. */
  readonly rooms?: RoomMemberships;
  readonly queue: OutboundQueue;
  /**
   * Accepted parts per job and their delivery reports, in the queue's store
   * (Redis with BullMQ, SQLite embedded): a job re-run after a crash resends
   * only what the provider did not accept. Without it the provider keeps it in memory.
   */
  readonly ledger?: SendLedger;
  /** The HTTP server provider webhooks mount on (the ops server in main.ts); routes go on before it listens. */
  readonly http: FastifyInstance;
  readonly logger: Logger;
  readonly metrics?: Metrics;
}

export interface SmsGatewayApp {
  readonly gateway: SmsGateway;
  readonly rooms: RoomBridge;
  /** Starts the provider (webhook routes, SMPP bind), the queue's worker, then the transport. */
  start(): Promise<void>;
  /** Stops taking stanzas, lets running sends finish, then stops the provider. Idempotent. */
  stop(): Promise<void>;
}

/** Wires the translation to its transport, provider, queue and store; nothing listens or connects until start(). */
export function build(config: SmsGatewayConfig, deps: SmsGatewayDeps): SmsGatewayApp {
  const { logger } = deps;
  const ownMemberships = deps.rooms === undefined ? openSqliteRoomMemberships({ path: ':memory:' }) : null;
  const segmentsOf = (text: string): number => planSegments(text).count;
  const roomsConfig = config.rooms;
  const defaultService =
    roomsConfig?.defaultService ??
    (config.domain.includes('.')
      ? `conference.${config.domain.slice(config.domain.indexOf('.') + 1)}`
      : undefined);
  const rooms = new RoomBridge({
    domain: config.domain.toLowerCase(),
    send: (el) => deps.transport.send(el),
    registrations: deps.registrations,
    memberships: deps.rooms ?? ownMemberships!,
    queue: deps.queue,
    logger: logger.child({ component: 'rooms' }),
    segmentsOf,
    batchSegments: Math.min(roomsConfig?.batchSegments ?? 3, config.maxSegments),
    batchDelayMs: roomsConfig?.batchDelayMs ?? 3000,
    announce: roomsConfig?.announce ?? false,
    ...(defaultService === undefined ? {} : { defaultService }),
  });
  const gateway = new SmsGateway({
    domain: config.domain,
    transport: deps.transport,
    provider: deps.provider,
    registrations: deps.registrations,
    queue: deps.queue,
    logger,
    ...(deps.metrics === undefined ? {} : { metrics: createGatewayMetrics(deps.metrics) }),
    maxSegments: config.maxSegments,
    segmentsOf,
    rooms,
    accountFields: config.accountFields,
    reportTtlMs: config.reportTtlMs,
    ...(config.defaultCountryCode === undefined ? {} : { defaultCountryCode: config.defaultCountryCode }),
    ...(config.name === undefined ? {} : { name: config.name }),
    verification: {
      enabled: config.verifyNumbers ?? true,
      ...config.verification,
    },
    ...(config.allowedDomains === undefined ? {} : { allowedDomains: config.allowedDomains }),
  });
  let stopping: Promise<void> | undefined;

  return {
    gateway,
    rooms,
    async start() {
      await deps.provider.start(
        { inbound: (sms) => gateway.inbound(sms), report: (report) => gateway.report(report) },
        {
          http: deps.http,
          ...(deps.ledger === undefined ? {} : { ledger: deps.ledger }),
          // Per-user provider accounts, for webhooks signed with them (also after a restart).
          accountOf: async (number) => (await deps.registrations.byNumber(number))?.account,
        },
      );
      await deps.queue.start((job) => gateway.processJob(job), {
        failed: (failure) => {
          gateway
            .jobFailed(failure)
            .catch((error: unknown) => logger.error({ err: error }, 'failure report failed'));
        },
        retrying: (job, error, attempt) =>
          logger.info({ jobId: job.id, attempt, err: error }, 'SMS send retried'),
      });
      await deps.transport.start((el: Element, incoming: Incoming) => gateway.handleStanza(el, incoming), {
        // Rooms are rejoined whenever the gateway is (back) on the network: after a start, after a reconnect.
        online: () => {
          rooms.rejoinAll().catch((error: unknown) => logger.error({ err: error }, 'rejoining rooms failed'));
          // XEP-0100 §4.4: registered users see the gateway online (again).
          void gateway.announce(true);
        },
      });
      logger.info({ domain: config.domain, provider: deps.provider.name }, 'sms gateway started');
    },
    stop() {
      stopping ??= (async () => {
        // Users see the gateway go offline; bounded in time, so a lost transport does not hold the shutdown.
        await gateway.announce(false);
        await deps.transport.stop();
        // Room lines still waiting for their batch go to the queue before it closes.
        await rooms.flush();
        // Running sends finish; queued jobs stay queued for the next start (BullMQ) or are lost (in-process).
        logger.info('draining the SMS queue');
        await deps.queue.close();
        await ownMemberships?.close();
        await deps.provider.stop();
      })();
      return stopping;
    },
  };
}

/** The provider the config names (`provider.kind`), with the gateway's segment cap. */
export function createProvider(config: ProviderConfig, maxSegments: number, logger: Logger): SmsProvider {
  switch (config.kind) {
    case 'smpp':
      return createSmppProvider({
        host: config.host,
        port: config.port,
        systemId: config.systemId,
        password: config.password,
        maxSegments,
        ...(config.systemType === undefined ? {} : { systemType: config.systemType }),
        ...(config.throughputPerSecond === undefined
          ? {}
          : { throughputPerSecond: config.throughputPerSecond }),
        ...definedOnly({
          sourceTon: config.sourceTon,
          sourceNpi: config.sourceNpi,
          destTon: config.destTon,
          destNpi: config.destNpi,
          enquireLinkMs: config.enquireLinkMs,
          responseTimeoutMs: config.responseTimeoutMs,
          window: config.window,
          reconnect: config.reconnect,
          throttleBackoff: config.throttleBackoff,
          throttleRetries: config.throttleRetries,
          reassemblyTimeoutMs: config.reassemblyTimeoutMs,
        }),
        onEvent: (event) => logger.info({ smpp: event }, 'smpp event'),
      });
    case 'twilio':
      return createTwilioProvider({
        baseUrl: config.baseUrl,
        accountSid: config.accountSid,
        authToken: config.authToken,
        publicUrl: config.publicUrl,
        webhookPath: config.webhookPath,
        statusPath: config.statusPath,
        maxSegments,
        ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
      });
  }
}

/** The entries whose value is set (exactOptionalPropertyTypes forbids passing `undefined` for absent options). */
function definedOnly<T extends Record<string, unknown>>(
  values: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) if (value !== undefined) out[key] = value;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
