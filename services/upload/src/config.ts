import { z } from '@switchboard/kit';
import { DEFAULT_PARTITIONS } from '@switchboard/protocol';

const port = z.number().int().min(0).max(65535);
const MIB = 1024 * 1024;

/** Where uploaded files live: a local directory or an S3-compatible bucket. */
export const storageSettingsSchema = z
  .discriminatedUnion('kind', [
    z.object({
      kind: z.literal('local'),
      /** Default `<dataDir>/uploads`. */
      directory: z.string().min(1).optional(),
    }),
    z.object({
      kind: z.literal('s3'),
      bucket: z.string().min(1),
      /** e.g. `https://s3.eu-west-1.amazonaws.com` or a MinIO/Garage/R2 URL; the SDK's default endpoint when absent. */
      endpoint: z.url().optional(),
      region: z.string().min(1).default('us-east-1'),
      accessKeyId: z.string().min(1),
      secretAccessKey: z.string().min(1),
      /** Path-style URLs (`endpoint/bucket/key`), which most self-hosted S3 servers need. */
      forcePathStyle: z.boolean().default(true),
      /** Key prefix inside the bucket. */
      prefix: z.string().default(''),
    }),
  ])
  .default({ kind: 'local' });

/** The settings a standalone `upload` section shares with the upload process's config file. */
export const uploadSettingsSchema = z.object({
  /** Largest file accepted, in bytes (advertised as `max-file-size`, XEP-0363 §2). */
  maxFileSize: z
    .number()
    .int()
    .positive()
    .default(100 * MIB),
  /** Shown in the service's disco identity. */
  name: z.string().default('HTTP File Upload'),
  /** How long a slot's PUT URL stays valid. */
  slotTtlSeconds: z.number().int().positive().default(300),
  /** Files older than this are deleted by the sweep; 0 keeps them forever. */
  retentionDays: z.number().min(0).default(30),
  /** How often the retention sweep runs. */
  sweepIntervalSeconds: z.number().int().positive().default(3600),
  /** Bytes one user may request slots for within a rolling window (XEP-0363 §5 resource-constraint). */
  quota: z
    .object({
      bytes: z
        .number()
        .int()
        .positive()
        .default(1024 * MIB),
      windowHours: z.number().positive().default(24),
    })
    .prefault({}),
  storage: storageSettingsSchema,
  /**
   * Base URL clients reach the HTTP server on (behind a proxy: the proxy's URL). Default
   * `https://<domain>:<listening port>` (`http://` without TLS).
   */
  publicUrl: z.url().optional(),
});

export type UploadSettings = z.output<typeof uploadSettingsSchema>;
export type StorageSettings = z.output<typeof storageSettingsSchema>;

/**
 * The upload process's configuration file and environment, validated once at
 * boot by main.ts (ARCHITECTURE.md, "Configuration").
 */
export const uploadConfigSchema = uploadSettingsSchema.extend({
  /** The component domain, e.g. `upload.example.com`; the router must list it in `components`. */
  domain: z.string().min(1).default('upload.localhost'),
  /** Domains whose users may upload (`forbidden` for anyone else). */
  domains: z.array(z.string().min(1)).min(1).default(['localhost']),
  /** HMAC key for PUT tokens; every replica needs the same one. */
  secret: z.string().min(16),
  transport: z
    .object({
      consumer: z.string().min(1).optional(),
      partitions: z.number().int().positive().default(DEFAULT_PARTITIONS),
    })
    .prefault({}),
  /** Redis for the bus and the quota ledger; in-memory (one process only) when absent. */
  redisUrl: z.string().optional(),
  dataDir: z.string().default('./data'),
  /** The file server: HTTPS when both cert files are set (production), plain HTTP otherwise. */
  http: z
    .object({
      port: port.default(5281),
      host: z.string().default('0.0.0.0'),
      keyFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
    })
    .prefault({}),
  /** /metrics, /healthz, /readyz. */
  ops: z
    .object({
      port: port.default(9285),
      host: z.string().default('0.0.0.0'),
    })
    .prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type UploadFileConfig = z.output<typeof uploadConfigSchema>;

/** What `build()` needs: the service's settings, no connections. */
export interface UploadConfig {
  /** The component domain (`upload.example.com`). */
  readonly domain: string;
  /** Domains whose users may upload. */
  readonly domains: readonly string[];
  readonly name: string;
  readonly secret: string;
  readonly maxFileSize: number;
  readonly slotTtlSeconds: number;
  readonly retentionDays: number;
  readonly sweepIntervalSeconds: number;
  readonly quotaBytes: number;
  readonly quotaWindowHours: number;
  /** Fixed public base URL; derived from the listening port when absent. */
  readonly publicUrl?: string;
}

export function toUploadConfig(
  settings: UploadSettings,
  served: { domain: string; domains: readonly string[]; secret: string },
): UploadConfig {
  return {
    domain: served.domain,
    domains: served.domains,
    secret: served.secret,
    name: settings.name,
    maxFileSize: settings.maxFileSize,
    slotTtlSeconds: settings.slotTtlSeconds,
    retentionDays: settings.retentionDays,
    sweepIntervalSeconds: settings.sweepIntervalSeconds,
    quotaBytes: settings.quota.bytes,
    quotaWindowHours: settings.quota.windowHours,
    ...(settings.publicUrl === undefined ? {} : { publicUrl: settings.publicUrl }),
  };
}
