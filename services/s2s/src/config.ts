import { z } from '@switchboard/kit';

const port = z.number().int().min(0).max(65535);
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'host:port');

/**
 * Federation settings shared by the s2s process and the standalone section
 * (ARCHITECTURE.md, "Configuration"). Every field has a default.
 */
export const s2sSettingsSchema = z.object({
  ports: z
    .object({
      /** RFC 6120 §14.7 registered port; STARTTLS is required on it. 0 picks a free port. */
      starttls: port.default(5269),
      /** XEP-0368 direct TLS (`_xmpps-server._tcp`); null disables it. */
      directTls: port.nullable().default(5270),
    })
    .prefault({}),
  host: z.string().default('0.0.0.0'),
  tls: z
    .object({
      /** PEM key and certificate presented to peers (also as the client certificate on outbound streams). */
      keyFile: z.string().optional(),
      certFile: z.string().optional(),
      /** Extra CA bundle trusted for peer certificates, besides Node's roots and NODE_EXTRA_CA_CERTS. */
      caFile: z.string().optional(),
    })
    .prefault({}),
  dialback: z
    .object({
      /**
       * XEP-0220 when a peer's certificate cannot be validated. Off means only
       * peers with a certificate valid for their domain federate (RFC 7590).
       */
      enabled: z.boolean().default(true),
      /** XEP-0185 dialback key secret; random per process when absent (fine for one node). */
      secret: z.string().min(16).optional(),
      /** Domains that may use dialback even when `enabled` is false… */
      allow: z.array(z.string().min(1)).default([]),
      /** …and domains that never may. */
      deny: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  /** XEP-0288 bidirectional streams: offered to peers, and requested from peers whose certificate validates. */
  bidi: z.boolean().default(true),
  /** When non-empty, only these remote domains federate. */
  allow: z.array(z.string().min(1)).default([]),
  /** Remote domains refused both ways. */
  deny: z.array(z.string().min(1)).default([]),
  /** Domain → "host:port" tried before DNS (tests, split-horizon set-ups). */
  staticHosts: z.record(z.string(), hostPort).default({}),
  /** Resolve through DNS (SRV, then A/AAAA); false: only staticHosts. */
  dns: z.boolean().default(true),
  /** DNS servers ("ip" or "ip:port") asked instead of the system's; empty: the system's. */
  dnsServers: z.array(z.string().min(1)).default([]),
  /** A connection without stanzas either way for this long is closed (RFC 6120 §4.4 allows it). */
  idleTimeoutMs: z.number().int().positive().default(300_000),
  /** An outbound stream not ready after this long fails with remote-server-timeout. */
  connectTimeoutMs: z.number().int().positive().default(30_000),
  /** Connection attempts per outbound try before queued stanzas bounce. */
  connectAttempts: z.number().int().positive().default(3),
  /** First reconnect delay, doubled per failure up to `backoffMaxMs`. */
  backoffMs: z.number().int().positive().default(500),
  backoffMaxMs: z.number().int().positive().default(60_000),
  /** Partitions of `s2s:{p}`; must match the routers'. */
  partitions: z.number().int().positive().default(16),
});

export type S2sSettings = z.output<typeof s2sSettingsSchema>;

/** What `build()` takes: the settings plus the deployment facts. */
export interface S2sConfig extends S2sSettings {
  /** Consumer name on the s2s streams. */
  readonly nodeId: string;
  /** Domains served here: the only ones a remote server may address. */
  readonly domains: readonly string[];
  /** Component domains served here, addressable from remote servers too. */
  readonly components: readonly string[];
  /** Route partitions of the router cluster. */
  readonly routePartitions: number;
  /** Where the default certificate lives when tls files are not configured. */
  readonly dataDir: string;
  /** Lease timings in cluster mode (a Redis in the deps); defaults as in the process schema. */
  readonly cluster?: S2sClusterTimings;
}

/** Partition leases of the s2s nodes (cluster/leases.ts). */
export const s2sClusterSchema = z
  .object({
    /** A dead node's remote domains move to another node after at most this long. */
    leaseTtlMs: z.number().int().positive().default(5000),
    /** Heartbeat, lease renewal and rebalance period; under half of leaseTtlMs. */
    heartbeatMs: z.number().int().positive().default(1000),
    /** A node is live while its last heartbeat is at most this old. */
    nodeTtlMs: z.number().int().positive().default(5000),
  })
  .refine((c) => c.heartbeatMs * 2 < c.leaseTtlMs, {
    message: 'heartbeatMs must be under half of leaseTtlMs, or leases lapse between renewals',
  });

export type S2sClusterTimings = z.output<typeof s2sClusterSchema>;

/** The s2s process's file and environment config. */
export const s2sProcessConfigSchema = s2sSettingsSchema.extend({
  nodeId: z.string().min(1).optional(),
  domains: z.array(z.string().min(1)).min(1).default(['localhost']),
  components: z.array(z.string().min(1)).default([]),
  routePartitions: z.number().int().positive().default(64),
  redisUrl: z.string().optional(),
  cluster: s2sClusterSchema.prefault({}),
  dataDir: z.string().default('./data'),
  ops: z.object({ port: port.default(9284), host: z.string().default('0.0.0.0') }).prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
