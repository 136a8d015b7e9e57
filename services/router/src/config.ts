import { z } from '@switchboard/kit';
import { DEFAULT_PARTITIONS } from '@switchboard/protocol';

/** What the router needs to know about the deployment; read once at boot by main.ts. */
export interface RouterConfig {
  /** Consumer name on the route streams, stable across restarts of this router. */
  readonly routerId: string;
  /** Virtual hosts served: their users' accounts, rosters and sessions live here. */
  readonly domains: readonly string[];
  /** Component domains (sms., irc., conference., XEP-0114 components): stanzas to them go to `svc:{domain}`. */
  readonly components: readonly string[];
  /** Number of route partitions in the cluster; fixed for its life. */
  readonly partitions: number;
  /** Partitions this router owns at start; change later with `setOwnedPartitions`. */
  readonly ownedPartitions: readonly number[];
  /**
   * Offline messages kept per user (XEP-0160). The store enforces its own cap
   * too; the lower of the two applies. Undefined: only the store's cap.
   */
  readonly offlineCap?: number;
  /** Entries read per partition per batch. Default 100. */
  readonly batchSize?: number;
  /** Software version answered to XEP-0092 queries. */
  readonly version?: string;
  /** XEP-0313 message archive; defaults apply when absent. */
  readonly mam?: MamConfig;
  /** XEP-0357 push notifications. */
  readonly push?: PushConfig;
  /** XEP-0215 STUN/TURN services offered to clients; none when absent. */
  readonly externalServices?: ExternalServicesConfig;
  /**
   * Partitions of the federation streams `s2s:{p}`: stanzas to other domains go
   * there for the s2s service. Undefined: no federation, they bounce with
   * remote-server-not-found.
   */
  readonly s2sPartitions?: number;
}

export interface MamConfig {
  /** Messages older than this are purged; kept forever when absent. */
  readonly retentionDays?: number;
  /** Messages kept per user, oldest dropped first; default 10000. */
  readonly maxPerUser?: number;
  /** Archiving default for users without preferences (XEP-0313 §6); default 'always'. */
  readonly defaultMode?: 'always' | 'never' | 'roster';
}

export interface PushConfig {
  /** Put the message body into notifications (XEP-0357 §7 privacy); default false. */
  readonly includeBody?: boolean;
}

export interface ExternalService {
  readonly type: 'stun' | 'turn' | 'turns';
  readonly host: string;
  readonly port: number;
  readonly transport?: 'udp' | 'tcp';
  readonly name?: string;
}

export interface ExternalServicesConfig {
  /** Shared secret of the TURN REST API (coturn `static-auth-secret`); TURN services get credentials from it. */
  readonly secret?: string;
  /** Lifetime of TURN credentials; default 86400. */
  readonly ttlSeconds?: number;
  readonly services: readonly ExternalService[];
}

export const SOFTWARE_NAME = 'Switchboard';

const port = z.number().int().min(0).max(65535);

/**
 * Settings of the features for modern clients: archive (XEP-0313), push
 * (XEP-0357) and STUN/TURN discovery (XEP-0215). Part of the router's
 * config and of standalone's `router` section.
 */
export const clientFeatureSettings = {
  mam: z
    .object({
      retentionDays: z.number().positive().optional(),
      maxPerUser: z.number().int().positive().optional(),
      defaultMode: z.enum(['always', 'never', 'roster']).optional(),
    })
    .optional(),
  push: z.object({ includeBody: z.boolean().optional() }).optional(),
  externalServices: z
    .object({
      secret: z.string().min(1).optional(),
      ttlSeconds: z.number().int().positive().optional(),
      services: z.array(
        z.object({
          type: z.enum(['stun', 'turn', 'turns']),
          host: z.string().min(1),
          port,
          transport: z.enum(['udp', 'tcp']).optional(),
          name: z.string().optional(),
        }),
      ),
    })
    .optional(),
};

/**
 * The router process's configuration file and environment, validated once at
 * boot by main.ts (ARCHITECTURE.md, "Configuration"); `toRouterConfig` turns
 * it into what `build()` takes.
 */
export const routerConfigSchema = z.object({
  /** Consumer name on the route streams; stable across restarts. Hostname-based when absent. */
  routerId: z.string().min(1).optional(),
  domains: z.array(z.string().min(1)).min(1).default(['localhost']),
  components: z.array(z.string().min(1)).default([]),
  /** Route partitions of the cluster; must match the edges'. */
  partitions: z.number().int().positive().default(DEFAULT_PARTITIONS),
  /**
   * Partitions this router consumes until lease management takes over;
   * all of them when absent (one router, or the embedded mode).
   */
  ownedPartitions: z.array(z.number().int().nonnegative()).optional(),
  offlineCap: z.number().int().positive().optional(),
  batchSize: z.number().int().positive().default(100),
  /** Partitions of `s2s:{p}` when an s2s service federates with other domains; must match its config. */
  s2sPartitions: z.number().int().positive().optional(),
  /** Redis for bus, store and sessions; in-process bus and embedded store when absent. */
  redisUrl: z.string().optional(),
  dataDir: z.string().default('./data'),
  storePath: z.string().optional(),
  ops: z
    .object({
      port: port.default(9281),
      host: z.string().default('0.0.0.0'),
    })
    .prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ...clientFeatureSettings,
});

export type RouterFileConfig = z.output<typeof routerConfigSchema>;

export function toRouterConfig(file: RouterFileConfig, fallbackId: string, version?: string): RouterConfig {
  return {
    routerId: file.routerId ?? fallbackId,
    domains: file.domains,
    components: file.components,
    partitions: file.partitions,
    ownedPartitions: file.ownedPartitions ?? Array.from({ length: file.partitions }, (_, p) => p),
    batchSize: file.batchSize,
    ...(file.offlineCap === undefined ? {} : { offlineCap: file.offlineCap }),
    ...(file.s2sPartitions === undefined ? {} : { s2sPartitions: file.s2sPartitions }),
    ...(version === undefined ? {} : { version }),
    ...toClientFeatureConfig(file),
  };
}

type ClientFeatureFile = z.output<z.ZodObject<typeof clientFeatureSettings>>;

/** The `clientFeatureSettings` part of a parsed config, as `build()` takes it. */
export function toClientFeatureConfig(
  file: ClientFeatureFile,
): Pick<RouterConfig, 'mam' | 'push' | 'externalServices'> {
  return {
    ...(file.mam === undefined ? {} : { mam: stripUndefined(file.mam) }),
    ...(file.push === undefined ? {} : { push: stripUndefined(file.push) }),
    ...(file.externalServices === undefined
      ? {}
      : {
          externalServices: {
            ...stripUndefined({
              secret: file.externalServices.secret,
              ttlSeconds: file.externalServices.ttlSeconds,
            }),
            services: file.externalServices.services.map(stripUndefined),
          },
        }),
  };
}

/** Drops keys whose value is undefined (zod's optional output vs `exactOptionalPropertyTypes`). */
function stripUndefined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}
