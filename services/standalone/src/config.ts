import { edgeConfigSchema } from '@switchboard/edge';
import { z } from '@switchboard/kit';
import { smsGatewayConfigSchema } from '@switchboard/sms-gateway';

/**
 * The single-process default: edge and router on the in-process bus and the
 * embedded store under dataDir. Every field has a default, so `pnpm start`
 * needs no file: domain `localhost`, ports 5222/5223/5280, in-band registration on.
 */
export const standaloneConfigSchema = z.object({
  /** Domains served. */
  domains: z.array(z.string().min(1)).min(1).default(['localhost']),
  /**
   * XEP-0114 components (biboumi, slidge, our gateways) that may attach to the
   * component port (edge.ports.component, default 5347) with their shared secret;
   * stanzas to these domains go to `svc:{domain}`.
   */
  components: z.array(z.object({ domain: z.string().min(1), secret: z.string().min(1) })).default([]),
  /** Embedded database, development certificate and other state. */
  dataDir: z.string().default('./data'),
  edge: edgeConfigSchema
    .omit({
      domains: true,
      dataDir: true,
      partitions: true,
      redisUrl: true,
      storePath: true,
      ops: true,
      logLevel: true,
      edgeId: true,
      components: true,
    })
    .prefault({}),
  /**
   * The SMS gateway in this process (off unless present): it reads `svc:{sms.domain}` on the
   * in-process bus, queues in memory and keeps registrations in SQLite under dataDir. Provider
   * webhooks (Twilio) are served on `sms.http`.
   */
  sms: smsGatewayConfigSchema
    .pick({
      domain: true,
      defaultCountryCode: true,
      maxSegments: true,
      accountFields: true,
      reportTtlMs: true,
      name: true,
      provider: true,
      queue: true,
    })
    .extend({
      http: z
        .object({
          /** 0 picks a free port. */
          port: z.number().int().min(0).max(65535).default(9283),
          host: z.string().default('127.0.0.1'),
        })
        .prefault({}),
    })
    .optional(),
  router: z
    .object({
      /** Offline messages kept per user (XEP-0160). */
      offlineCap: z.number().int().positive().default(1000),
    })
    .prefault({}),
  ops: z
    .object({
      /** /healthz, /readyz, /metrics. 0 picks a free port. */
      port: z.number().int().min(0).max(65535).default(9280),
      host: z.string().default('127.0.0.1'),
    })
    .prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type StandaloneConfig = z.output<typeof standaloneConfigSchema>;
export type StandaloneConfigInput = z.input<typeof standaloneConfigSchema>;
