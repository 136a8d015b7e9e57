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
}

export const SOFTWARE_NAME = 'Switchboard';

const port = z.number().int().min(0).max(65535);

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
    ...(version === undefined ? {} : { version }),
  };
}
