import type { FastifyInstance } from 'fastify';
import type { Logger, Metrics } from '@switchboard/kit';
import type { Element } from '@switchboard/xml';
import type { ProviderConfig, SmsGatewayConfig } from './config.js';
import { SmsGateway } from './core/gateway.js';
import { createGatewayMetrics } from './core/metrics.js';
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

export type { RoomsConfig, SmsGatewayConfig } from './config.js';
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

export interface SmsGatewayDeps {
  readonly transport: Transport;
  readonly provider: SmsProvider;
  readonly registrations: Registrations;
  /** The rooms phones are in; without it they live in memory and are forgotten at stop. */
  readonly rooms?: RoomMemberships;
  readonly queue: OutboundQueue;
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
  });
  let stopping: Promise<void> | undefined;

  return {
    gateway,
    rooms,
    async start() {
      await deps.provider.start(
        { inbound: (sms) => gateway.inbound(sms), report: (report) => gateway.report(report) },
        { http: deps.http },
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
        },
      });
      logger.info({ domain: config.domain, provider: deps.provider.name }, 'sms gateway started');
    },
    stop() {
      stopping ??= (async () => {
        await deps.transport.stop();
        // Room lines still waiting for their batch go to the queue before it closes.
        await rooms.flush();
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
