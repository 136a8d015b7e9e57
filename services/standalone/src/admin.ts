import type { Bus } from '@switchboard/bus';
import type { Edge } from '@switchboard/edge';
import {
  ADMIN_API_PREFIX,
  adminApi,
  createAdminOperations,
  createEmbeddedView,
  type AdminOperations,
  type Router,
  type SessionRegistry,
  type SmsMount,
} from '@switchboard/router';
import {
  createSmsAdmin,
  smsAdminApi,
  type OutboundQueue,
  type Registrations,
  type SmsAdminOperations,
} from '@switchboard/sms-gateway';
import type { Store } from '@switchboard/store';
import type { FastifyInstance } from 'fastify';
import type { StandaloneConfig } from './config.js';

/** The admin API's pieces (docs/admin-api.md), for the ops server or any other fastify instance. */
export interface StandaloneAdmin {
  readonly operations: AdminOperations;
  /** Null unless the config has an `sms` section. */
  readonly sms: SmsAdminOperations | null;
  /** Registers the admin API under /admin/api/v1 on `app`; registers nothing without admin.token (404). */
  register(app: FastifyInstance): Promise<void>;
}

export interface StandaloneAdminParts {
  readonly sessions: SessionRegistry;
  readonly store: Store;
  readonly bus: Bus;
  readonly edge: Edge;
  readonly router: Router;
  readonly sms: {
    readonly domain: string;
    readonly registrations: Registrations;
    readonly queue: OutboundQueue;
  } | null;
  readonly partitions: number;
}

/** One admin API over the in-process router, edge and SMS gateway. */
export function buildAdmin(config: StandaloneConfig, parts: StandaloneAdminParts): StandaloneAdmin {
  const smsDomains = config.sms === undefined ? [] : [config.sms.domain];
  const operations = createAdminOperations({
    view: createEmbeddedView({
      sessions: parts.sessions,
      store: parts.store,
      bus: parts.bus,
      edge: parts.edge,
      router: parts.router,
      partitions: parts.partitions,
      components: [...config.components.map((c) => c.domain), ...smsDomains],
      inProcessComponents: smsDomains,
    }),
    store: parts.store,
    bus: parts.bus,
    domains: config.domains,
  });
  const sms =
    parts.sms === null
      ? null
      : createSmsAdmin({
          domain: parts.sms.domain,
          queue: parts.sms.queue,
          registrations: parts.sms.registrations,
        });
  const token = config.admin.token;
  const mount: SmsMount | undefined =
    sms === null
      ? undefined
      : {
          kind: 'local',
          register: async (scope) => {
            await scope.register(smsAdminApi, { prefix: '/sms', token, operations: sms });
          },
          queueCounts: async () => (await sms.summary()).queue,
        };
  return {
    operations,
    sms,
    async register(app) {
      await app.register(adminApi, {
        prefix: ADMIN_API_PREFIX,
        token,
        operations,
        ...(mount === undefined ? {} : { sms: mount }),
      });
    },
  };
}
