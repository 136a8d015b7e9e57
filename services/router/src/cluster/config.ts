import { z } from '@switchboard/kit';
import type { RouterConfig } from '../config.js';
import { routerConfigSchema, toClientFeatureConfig } from '../config.js';

/**
 * The cluster router process's configuration (main.ts): the router core's
 * settings, minus what leases decide (owned partitions) and the embedded
 * store, plus Redis and the cluster timings. Validated once at boot.
 */
export const clusterConfigSchema = routerConfigSchema
  .omit({ ownedPartitions: true, dataDir: true, storePath: true, redisUrl: true })
  .extend({
    /** Bus, store, sessions, leases: everything shared lives here. */
    redisUrl: z.string().min(1),
    cluster: z
      .object({
        /** A dead router's partitions move after at most this long. */
        leaseTtlMs: z.number().int().positive().default(5000),
        /** Heartbeat, lease renewal and rebalance period; well under leaseTtlMs. */
        heartbeatMs: z.number().int().positive().default(1000),
        /** A router is live while its last heartbeat is at most this old. */
        routerTtlMs: z.number().int().positive().default(5000),
        janitorIntervalMs: z.number().int().positive().default(2000),
        /** An edge silent for this long is dead: its sessions end, its queue is re-routed. */
        edgeTimeoutMs: z.number().int().positive().default(10_000),
      })
      .prefault({})
      .refine((c) => c.heartbeatMs * 2 < c.leaseTtlMs, {
        message: 'heartbeatMs must be under half of leaseTtlMs, or leases lapse between renewals',
      }),
  });

export type ClusterFileConfig = z.output<typeof clusterConfigSchema>;

/** What `build()` takes: it owns nothing until the leases say so. */
export function toClusterRouterConfig(
  file: ClusterFileConfig,
  routerId: string,
  version?: string,
): RouterConfig {
  return {
    routerId: file.routerId ?? routerId,
    domains: file.domains,
    components: file.components,
    partitions: file.partitions,
    ownedPartitions: [],
    batchSize: file.batchSize,
    ...(file.offlineCap === undefined ? {} : { offlineCap: file.offlineCap }),
    ...(file.s2sPartitions === undefined ? {} : { s2sPartitions: file.s2sPartitions }),
    ...(version === undefined ? {} : { version }),
    ...toClientFeatureConfig(file),
  };
}
