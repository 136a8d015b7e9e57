import { edgeConfigSchema } from '@switchboard/edge';
import { z } from '@switchboard/kit';
import { adminConfigSchema, clientFeatureSettings } from '@switchboard/router';
import { s2sSettingsSchema } from '@switchboard/s2s';
import { mucSettingsSchema } from '@switchboard/muc';
import { smsGatewayConfigSchema } from '@switchboard/sms-gateway';
import { ircGatewaySettingsSchema } from '@switchboard/irc-gateway';
import { uploadSettingsSchema } from '@switchboard/upload';

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
    .extend({
      // On one machine the web chat at http://localhost:5280/ talks ws:// over loopback: count that
      // as encrypted so it can log in without a certificate. Anything not from loopback still needs TLS.
      websocket: edgeConfigSchema.shape.websocket
        .unwrap()
        .extend({ allowInsecureLoopback: z.boolean().default(true) })
        .prefault({}),
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
      rooms: true,
      verifyNumbers: true,
      verification: true,
      allowedDomains: true,
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
  /**
   * The IRC gateway in this process (off unless present): it reads `svc:{irc.domain}` (default
   * `irc.localhost`) on the in-process bus and keeps the channels users are in in SQLite under dataDir.
   */
  irc: ircGatewaySettingsSchema.optional(),
  /**
   * Federation with other XMPP servers (services/s2s) in this process. `enabled` unset: on when
   * every served domain is a real DNS name, off for `localhost`-style names (a laptop's
   * `pnpm start` must not listen on 5269, and no remote server could reach such a domain anyway).
   */
  s2s: s2sSettingsSchema.omit({ partitions: true }).extend({ enabled: z.boolean().optional() }).prefault({}),
  /**
   * The XEP-0045 group chat service (services/muc) in this process, on by default at
   * `conference.<first domain>`; rooms and their archive live in SQLite under dataDir.
   */
  muc: mucSettingsSchema
    .extend({
      enabled: z.boolean().default(true),
      /** Default `conference.<first of domains>`. */
      domain: z.string().min(1).optional(),
    })
    .prefault({}),
  /**
   * XEP-0363 HTTP File Upload (services/upload) in this process, on by default at
   * `upload.<first domain>`: slots over XMPP, PUT/GET on `upload.http` over HTTPS with the
   * edge's certificate, files under `<dataDir>/uploads` (or S3, `upload.storage`).
   */
  upload: uploadSettingsSchema
    .extend({
      enabled: z.boolean().default(true),
      /** Default `upload.<first of domains>`. */
      domain: z.string().min(1).optional(),
      /** HMAC key for PUT URLs; when absent one is generated once and kept in `<dataDir>/upload-secret`. */
      secret: z.string().min(16).optional(),
      http: z
        .object({
          /** Default 5281; a free port (0) when the edge's client ports are 0, as in tests. */
          port: z.number().int().min(0).max(65535).optional(),
          /** Default: the edge's host. */
          host: z.string().optional(),
          /** false: plain HTTP, for a TLS-terminating proxy in front (set `publicUrl` to its https URL). */
          tls: z.boolean().default(true),
        })
        .prefault({}),
    })
    .prefault({}),
  router: z
    .object({
      /** Offline messages kept per user (XEP-0160). */
      offlineCap: z.number().int().positive().default(1000),
      /** Archive retention and cap, push, STUN/TURN (XEP-0313, XEP-0357, XEP-0215). */
      ...clientFeatureSettings,
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
  /** The admin API on the ops server (docs/admin-api.md): `admin.token`, env SWITCHBOARD_ADMIN__TOKEN. */
  admin: adminConfigSchema,
});

export type StandaloneConfig = z.output<typeof standaloneConfigSchema>;
export type StandaloneConfigInput = z.input<typeof standaloneConfigSchema>;

/**
 * The operator console talks to this process's admin API on the ops port: with `admin.token`
 * set and no console settings of its own, it is on at /console with that token.
 */
export function consoleSettings(config: StandaloneConfig): StandaloneConfig['edge']['web']['console'] {
  const own = config.edge.web.console;
  const token = config.admin.token;
  if (own.adminApiUrl !== undefined || token === undefined || config.ops.port === 0) return own;
  const host = config.ops.host === '0.0.0.0' || config.ops.host === '::' ? '127.0.0.1' : config.ops.host;
  const authority = host.includes(':') ? `[${host}]` : host;
  return { ...own, adminApiUrl: `http://${authority}:${config.ops.port}/admin/api/v1`, adminToken: token };
}
