import { z } from '@switchboard/kit';
import { DEFAULT_PARTITIONS } from '@switchboard/protocol';
import type { ServerPolicy } from './core/gateway.js';
import type { SessionTuning } from './core/session.js';

/** What `build()` needs: the translation's settings, no connections. */
export interface IrcGatewayConfig {
  /** The component domain, e.g. `irc.example.com`; rooms are `#channel%server@` it. */
  readonly domain: string;
  readonly name?: string;
  readonly policy: ServerPolicy;
  readonly tuning: SessionTuning;
}

const port = z.number().int().min(0).max(65535);

/** The translation settings, shared by the process config and the standalone's `irc` section. */
export const ircGatewaySettingsSchema = z.object({
  domain: z.string().min(1).default('irc.localhost'),
  name: z.string().optional(),
  /** Port and TLS for IRC servers without an entry in `servers`. */
  defaultPort: port.default(6697),
  defaultTls: z.boolean().default(true),
  /**
   * Per IRC server host: `{ port, tls, clientCertificate }`. With a client certificate (PEM files) the
   * gateway presents it over TLS and logs in with SASL EXTERNAL (IRCv3 sasl-3.1, CertFP), unless
   * the user set SASL PLAIN credentials for the server.
   */
  servers: z
    .record(
      z.string(),
      z.object({
        port: port.optional(),
        tls: z.boolean().optional(),
        clientCertificate: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
      }),
    )
    .default({}),
  /** IRC servers whose TLS certificate is not verified. Everything else is verified against the CA store. */
  insecureServers: z.array(z.string()).default([]),
  /** Only these IRC servers may be reached; any when absent. */
  allowedServers: z.array(z.string()).optional(),
  maxUsersPerServer: z.number().int().positive().default(100),
  realname: z.string().default('Switchboard IRC gateway user'),
  /** How long an IRC connection stays open after its user left the last channel. */
  lingerMs: z.number().int().nonnegative().default(30_000),
  /** Flood control per IRC connection: a token bucket. */
  flood: z
    .object({ burst: z.number().int().positive().default(5), perSecond: z.number().positive().default(2) })
    .prefault({}),
  /** Reconnect after a lost connection: exponential backoff with jitter. */
  reconnect: z
    .object({
      initialMs: z.number().int().positive().default(1000),
      maxMs: z.number().int().positive().default(120_000),
    })
    .prefault({}),
});

export type IrcGatewaySettings = z.output<typeof ircGatewaySettingsSchema>;

/**
 * The irc-gateway process's configuration file and environment, validated
 * once at boot by main.ts (ARCHITECTURE.md, "Configuration").
 */
export const ircGatewayConfigSchema = ircGatewaySettingsSchema.extend({
  /** `bus`: consume `svc:{domain}` in the cluster; `component`: XEP-0114 against any XMPP server. */
  transport: z
    .discriminatedUnion('kind', [
      z.object({
        kind: z.literal('bus'),
        consumer: z.string().min(1).optional(),
        partitions: z.number().int().positive().default(DEFAULT_PARTITIONS),
      }),
      z.object({
        kind: z.literal('component'),
        service: z.string().min(1),
        secret: z.string().min(1),
      }),
    ])
    .default({ kind: 'bus', partitions: DEFAULT_PARTITIONS }),
  /**
   * Connection ownership sharded across replicas (needs redisUrl and the bus transport): each
   * user's IRC connections live on the replica that wins the rendezvous hash of their bare JID.
   */
  sharding: z
    .object({
      enabled: z.boolean().default(false),
      /** Stable per replica; default `<hostname>-irc`. */
      replicaId: z.string().min(1).optional(),
      heartbeatMs: z.number().int().positive().default(2000),
    })
    .prefault({}),
  /** Redis for the bus and the memberships; in-process bus and SQLite when absent. */
  redisUrl: z.string().optional(),
  dataDir: z.string().default('./data'),
  /** The HTTP server for /metrics and health. */
  http: z.object({ port: port.default(9284), host: z.string().default('0.0.0.0') }).prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type IrcGatewayFileConfig = z.output<typeof ircGatewayConfigSchema>;

export function toIrcGatewayConfig(file: IrcGatewaySettings): IrcGatewayConfig {
  return {
    domain: file.domain,
    ...(file.name === undefined ? {} : { name: file.name }),
    policy: {
      defaultPort: file.defaultPort,
      defaultTls: file.defaultTls,
      servers: Object.fromEntries(
        Object.entries(file.servers).map(([host, entry]) => [
          host.toLowerCase(),
          {
            ...(entry.port === undefined ? {} : { port: entry.port }),
            ...(entry.tls === undefined ? {} : { tls: entry.tls }),
            ...(entry.clientCertificate === undefined ? {} : { clientCertificate: entry.clientCertificate }),
          },
        ]),
      ),
      insecureServers: file.insecureServers.map((s) => s.toLowerCase()),
      ...(file.allowedServers === undefined
        ? {}
        : { allowedServers: file.allowedServers.map((s) => s.toLowerCase()) }),
      maxUsersPerServer: file.maxUsersPerServer,
      realname: file.realname,
    },
    tuning: { flood: file.flood, reconnect: file.reconnect, lingerMs: file.lingerMs },
  };
}
