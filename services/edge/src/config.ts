import { tryParseJid } from '@switchboard/jid';
import { z } from '@switchboard/kit';
import { DEFAULT_PARTITIONS } from '@switchboard/protocol';
import { DEFAULT_LIMITS } from '@switchboard/xml';
import { webConfigSchema } from './web/config.js';

const port = z.number().int().min(0).max(65535);
const seconds = z.number().positive();

/**
 * The edge's configuration, validated once at boot (ARCHITECTURE.md, "Configuration").
 * Every limit has a default; a laptop needs nothing but `domains`.
 */
export const edgeConfigSchema = z.object({
  /** Consumer name on `deliver:{edgeId}`; stable across restarts of this edge. Random when absent. */
  edgeId: z.string().min(1).optional(),
  /** Domains served (RFC 6120 §4.7.2 'to'); a stream to any other gets host-unknown. */
  domains: z.array(z.string().min(1)).min(1).default(['localhost']),
  /** Address every listener binds. */
  host: z.string().default('0.0.0.0'),
  ports: z
    .object({
      /** RFC 6120 §5: plain TCP, upgraded with STARTTLS. 0 picks a free port. */
      starttls: port.default(5222),
      /** XEP-0368: TLS from the first byte. */
      directTls: port.default(5223),
      /** RFC 7395 WebSocket and XEP-0156 host-meta. */
      http: port.default(5280),
      /** XEP-0114 external components, plain TCP; opened only when `components` is not empty. */
      component: port.default(5347),
    })
    .prefault({}),
  /**
   * External XEP-0114 components (biboumi, slidge, …) allowed to attach, each with its shared secret.
   * Stanzas reach them only if the router lists the same domains in its own `components`. The
   * protocol has no encryption: keep the port on localhost or a trusted network.
   */
  components: z
    .array(
      z.object({
        domain: z.string().refine((d) => {
          const parsed = tryParseJid(d);
          return parsed !== null && parsed.local === '' && parsed.resource === '';
        }, 'not a domain'),
        secret: z.string().min(1),
      }),
    )
    .default([])
    .refine(
      (list) => new Set(list.map((c) => c.domain)).size === list.length,
      'component domains must be unique',
    ),
  tls: z
    .object({
      /** PEM files; both or neither. Neither: a self-signed certificate is made under dataDir. */
      keyFile: z.string().optional(),
      certFile: z.string().optional(),
    })
    .prefault({}),
  dataDir: z.string().default('./data'),
  /** Refuse SASL and registration until the stream is encrypted (RFC 6120 §5.3.1 mandatory-to-negotiate). */
  requireTls: z.boolean().default(true),
  registration: z
    .object({
      /** XEP-0077 in-band registration. */
      enabled: z.boolean().default(true),
      /** Accounts one client address may create per hour. */
      perIpPerHour: z.number().int().positive().default(5),
    })
    .prefault({}),
  websocket: z
    .object({
      path: z.string().startsWith('/').default('/xmpp-websocket'),
      /** Serve HTTPS/WSS on the HTTP port with the edge's certificate. */
      tls: z.boolean().default(false),
      /** The HTTP port sits behind a proxy that terminates TLS: treat ws:// streams as encrypted. */
      behindTlsProxy: z.boolean().default(false),
      /** Treat plain ws:// from a loopback address as encrypted; for local development only. */
      allowInsecureLoopback: z.boolean().default(false),
      /** URL advertised in host-meta (XEP-0156); derived from the request's Host header when absent. */
      publicUrl: z.string().url().optional(),
    })
    .prefault({}),
  sasl: z
    .object({
      /** Failed attempts allowed on one stream before it is closed (RFC 6120 §6.4.5: 2 to 5). */
      maxFailures: z.number().int().min(2).max(5).default(3),
      /** Key for the fake salts of unknown users; identical on every edge. Derived from dataDir's domains when absent. */
      fakeSaltSecret: z.string().min(16).optional(),
    })
    .prefault({}),
  limits: z
    .object({
      maxStanzaBytes: z
        .number()
        .int()
        .min(1024)
        .default(256 * 1024),
      // The XML parser's other caps (@switchboard/xml XmlLimits); past one is policy-violation.
      // The minimums keep ordinary XMPP parseable (a full JID is up to 3071 bytes).
      /** Element nesting, the stanza itself being depth 1. */
      maxDepth: z.number().int().min(8).default(DEFAULT_LIMITS.maxDepth),
      /** Attributes on one element, namespace declarations included. */
      maxAttributes: z.number().int().min(16).default(DEFAULT_LIMITS.maxAttributes),
      /** Element or attribute name length, in UTF-16 code units. */
      maxNameLength: z.number().int().min(64).default(DEFAULT_LIMITS.maxNameLength),
      /** One attribute value after entity expansion, in UTF-16 code units. */
      maxAttributeValueLength: z.number().int().min(4096).default(DEFAULT_LIMITS.maxAttributeValueLength),
      stanzasPerSecond: z.number().positive().default(100),
      stanzaBurst: z.number().positive().default(200),
      bytesPerSecond: z
        .number()
        .positive()
        .default(256 * 1024),
      bytesBurst: z
        .number()
        .positive()
        .default(1024 * 1024),
      maxConnectionsPerIp: z.number().int().positive().default(50),
      /** Whitespace keepalive after this long without output. */
      keepaliveSeconds: seconds.default(60),
      /** Close with connection-timeout after this long without input. */
      idleTimeoutSeconds: seconds.default(300),
      /** Close with connection-timeout when not authenticated this long after connecting. */
      authTimeoutSeconds: seconds.default(60),
      /** How long drain waits for clients to close before it cuts them off. */
      drainTimeoutSeconds: seconds.default(10),
    })
    .prefault({}),
  drain: z
    .object({
      /** Host clients are sent to on drain (RFC 6120 §4.9.3.19); system-shutdown when absent. */
      seeOtherHost: z.string().min(1).optional(),
      /**
       * Keep resumable sessions detached until the drain timeout so their clients can resume
       * on another edge (XEP-0198 state in Redis). Off where no other edge can take them over
       * (one process): they end at once and their unacked stanzas go back through the router.
       */
      holdResumable: z.boolean().default(true),
    })
    .prefault({}),
  /** Web chat and operator console on the HTTP port (web/config.ts). */
  web: webConfigSchema,
  /** XEP-0198 stream management. */
  streamManagement: z
    .object({
      enabled: z.boolean().default(true),
      /** Longest a detached session waits for its client to resume (the `max` of XEP-0198 §5). */
      maxResumeSeconds: z.number().int().positive().default(300),
      /** Ask the client for an ack after this many unacked stanzas… */
      ackEvery: z.number().int().positive().default(5),
      /** …or when stanzas have been unacked this long. */
      ackDelayMs: z.number().int().positive().default(2000),
    })
    .prefault({}),
  /**
   * XEP-0388 SASL2 with XEP-0386 Bind 2 inline (login and bind in one round trip), and XEP-0484
   * FAST when `fast.enabled`. Off by default for now: @xmpp/client 0.14, which our test suites
   * drive, waits for the server's stream header only after its own header write completes, and
   * without the stream restart SASL1 does that race makes its start() time out on a busy machine
   * (see `onlineClient` in services/edge/test/harness.ts). Turn on with SWITCHBOARD_SASL2__ENABLED.
   */
  sasl2: z.object({ enabled: z.boolean().default(false) }).prefault({}),
  /** XEP-0484 FAST: token logins over SASL2, HT-SHA-256-NONE. */
  fast: z
    .object({
      enabled: z.boolean().default(true),
      /** How long an issued token is valid; a token used past half its life is replaced. */
      tokenLifetimeDays: z.number().positive().default(14),
    })
    .prefault({}),
  /** XEP-0352 client state indication: hold back what an inactive client does not need at once. */
  csi: z.object({ enabled: z.boolean().default(true) }).prefault({}),
  /** Route partitions of the cluster; must match the routers'. */
  partitions: z.number().int().positive().default(DEFAULT_PARTITIONS),
  /** Redis for bus and store; the in-process bus and embedded store when absent. Used by main.ts only. */
  redisUrl: z.string().optional(),
  /** Embedded store file when redisUrl is absent; default `${dataDir}/switchboard.db`. Used by main.ts only. */
  storePath: z.string().optional(),
  ops: z
    .object({
      /** /healthz, /readyz, /metrics. Used by main.ts only. */
      port: port.default(9280),
      host: z.string().default('0.0.0.0'),
    })
    .prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type EdgeConfig = z.output<typeof edgeConfigSchema>;
/** What build() accepts: defaults may be left out. */
export type EdgeConfigInput = z.input<typeof edgeConfigSchema>;
