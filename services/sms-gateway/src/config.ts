import { z } from '@switchboard/kit';
import { DEFAULT_PARTITIONS } from '@switchboard/protocol';
import type { AccountFields } from './core/gateway.js';

/** What `build()` needs: the translation's settings, no connections. */
export interface SmsGatewayConfig {
  /** The component domain, e.g. `sms.example.com`; contacts are `+E164@` it. */
  readonly domain: string;
  /** Country code for national numbers typed by users (`1`, `44`). */
  readonly defaultCountryCode?: string;
  /** Most SMS segments one message may take. */
  readonly maxSegments: number;
  /** Provider credentials asked for at registration (XEP-0077 fields). */
  readonly accountFields: AccountFields;
  /** How long a sent SMS waits for its delivery report. */
  readonly reportTtlMs: number;
  readonly name?: string;
  /** SMS users in group chats; defaults apply when absent. */
  readonly rooms?: RoomsConfig;
  /** Prove a number by a texted code before registering it; default true. */
  readonly verifyNumbers?: boolean;
  /** Code lifetime, attempts and send limits; defaults apply when absent. */
  readonly verification?: VerificationConfig;
  /** JID domains whose users may register; everyone when absent. */
  readonly allowedDomains?: readonly string[];
}

/** Number verification settings (README, "Registration and verification"). */
export interface VerificationConfig {
  readonly codeTtlMs: number;
  readonly maxAttempts: number;
  readonly maxCodes: number;
  readonly codeWindowMs: number;
  /** E.164 number the code SMS is sent from; default the number being verified. */
  readonly sender?: string;
}

const verificationSchema = z
  .object({
    codeTtlMs: z.number().int().positive().default(600_000),
    maxAttempts: z.number().int().positive().default(5),
    maxCodes: z.number().int().positive().default(3),
    codeWindowMs: z.number().int().positive().default(3_600_000),
    sender: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/)
      .optional(),
  })
  .prefault({});

/** How SMS users take part in group chats (XEP-0045 through the gateway). */
export interface RoomsConfig {
  /** The MUC service `/join room` means; default `conference.` + the gateway domain's parent (`sms.example.com` → `conference.example.com`). */
  readonly defaultService?: string;
  /** How long a room line waits for others to share its SMS. */
  readonly batchDelayMs: number;
  /** Most segments one SMS of room lines takes. */
  readonly batchSegments: number;
  /** Text the phone about joins, leaves and subject changes (off: each SMS costs). */
  readonly announce: boolean;
}

const roomsSchema = z
  .object({
    defaultService: z.string().min(1).optional(),
    batchDelayMs: z.number().int().nonnegative().default(3000),
    batchSegments: z.number().int().positive().default(3),
    announce: z.boolean().default(false),
  })
  .prefault({});

const port = z.number().int().min(0).max(65535);

/** SMPP 3.4 §5.2.5 type of number (0–6) and §5.2.6 numbering plan indicator (0–18). */
const ton = z.number().int().min(0).max(6);
const npi = z.number().int().min(0).max(18);
const ms = z.number().int().positive();
/** A delay that doubles per repetition, from `initialMs` up to `maxMs`. */
const backoff = z
  .object({ initialMs: ms, maxMs: ms })
  .refine((b) => b.maxMs >= b.initialMs, { message: 'maxMs must be at least initialMs', path: ['maxMs'] });

const smppProvider = z.object({
  kind: z.literal('smpp'),
  host: z.string().min(1),
  port: port.default(2775),
  /** SMPP 3.4 §5.2.1: at most 15 characters. */
  systemId: z.string().min(1).max(15),
  /** SMPP 3.4 §5.2.2: at most 8 characters. */
  password: z.string().max(8),
  /** SMPP 3.4 §5.2.3: at most 12 characters. */
  systemType: z.string().max(12).optional(),
  /** submit_sm per second the SMSC allows (0: no limit). */
  throughputPerSecond: z.number().nonnegative().optional(),
  /** Address type of our numbers and of recipients; default 1/1 (international, ISDN/E.164). */
  sourceTon: ton.optional(),
  sourceNpi: npi.optional(),
  destTon: ton.optional(),
  destNpi: npi.optional(),
  /** enquire_link period; an unanswered one drops and re-binds the connection. Default 30 000. */
  enquireLinkMs: ms.optional(),
  /** How long any response PDU may take (then: retry the send, or re-bind). Default 10 000. */
  responseTimeoutMs: ms.optional(),
  /** submit_sm outstanding without a response at once. Default 10. */
  window: z.number().int().min(1).max(1000).optional(),
  /** Reconnect delay after the connection drops. Default 1 000 … 30 000. */
  reconnect: backoff.optional(),
  /** Sending pause after ESME_RTHROTTLED / ESME_RMSGQFUL. Default 1 000 … 30 000. */
  throttleBackoff: backoff.optional(),
  /** Resubmissions of a throttled part before the job is retried by the queue. Default 3. */
  throttleRetries: z.number().int().nonnegative().optional(),
  /** How long the parts of a concatenated inbound SMS are awaited. Default 300 000. */
  reassemblyTimeoutMs: ms.optional(),
});

const twilioProvider = z.object({
  kind: z.literal('twilio'),
  baseUrl: z.string().url().default('https://api.twilio.com'),
  accountSid: z.string().min(1),
  authToken: z.string().min(1),
  /** The gateway's HTTP root as Twilio reaches it; webhook signatures are computed over it. */
  publicUrl: z.string().url(),
  webhookPath: z.string().startsWith('/').default('/twilio/sms'),
  statusPath: z.string().startsWith('/').default('/twilio/status'),
  timeoutMs: z.number().int().positive().optional(),
});

export type ProviderConfig = SmsGatewayFileConfig['provider'];

/**
 * The sms-gateway process's configuration file and environment, validated
 * once at boot by main.ts (ARCHITECTURE.md, "Configuration").
 */
export const smsGatewayConfigSchema = z.object({
  domain: z.string().min(1).default('sms.localhost'),
  defaultCountryCode: z
    .string()
    .regex(/^[1-9]\d{0,2}$/)
    .optional(),
  maxSegments: z.number().int().positive().default(10),
  /** XEP-0077 field → provider account key, e.g. `{ username: 'accountSid', password: 'authToken' }` for Twilio. */
  accountFields: z
    .object({ username: z.string().min(1).optional(), password: z.string().min(1).optional() })
    .default({}),
  reportTtlMs: z
    .number()
    .int()
    .positive()
    .default(72 * 3600_000),
  name: z.string().optional(),
  rooms: roomsSchema,
  /** Registration texts the number a code and waits for it (issue #6); turn off only where numbers are trusted. */
  verifyNumbers: z.boolean().default(true),
  verification: verificationSchema,
  /** Only users of these JID domains may register. */
  allowedDomains: z.array(z.string().min(1)).optional(),
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
  provider: z.discriminatedUnion('kind', [smppProvider, twilioProvider]),
  queue: z
    .object({
      attempts: z.number().int().positive().default(5),
      backoffMs: z.number().int().positive().default(2000),
      concurrency: z.number().int().positive().default(4),
      rateLimit: z
        .object({ max: z.number().int().positive(), durationMs: z.number().int().positive() })
        .optional(),
      /**
       * BullMQ only: how long a worker's lock on a running job lasts (renewed
       * while it runs), and how often stalled jobs — their worker died — are
       * moved back to waiting. A crashed gateway's jobs resume after about
       * lockDurationMs + stalledIntervalMs. Defaults 30 000 each (BullMQ's).
       */
      lockDurationMs: z.number().int().positive().optional(),
      stalledIntervalMs: z.number().int().positive().optional(),
    })
    .prefault({}),
  /** Redis for the bus, the BullMQ queue and registrations; in-process bus and queue and SQLite when absent. */
  redisUrl: z.string().optional(),
  dataDir: z.string().default('./data'),
  /** The HTTP server for /metrics, health and provider webhooks. */
  http: z
    .object({
      port: port.default(9283),
      host: z.string().default('0.0.0.0'),
    })
    .prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type SmsGatewayFileConfig = z.output<typeof smsGatewayConfigSchema>;

/** The translation settings of a config file; the standalone's `sms` section has only these and the provider. */
export type SmsGatewaySettings = Pick<
  SmsGatewayFileConfig,
  'domain' | 'defaultCountryCode' | 'maxSegments' | 'accountFields' | 'reportTtlMs' | 'name'
> & {
  readonly rooms?: z.output<typeof roomsSchema>;
  // Optional: the standalone's `sms` section picks only some keys.
  readonly verifyNumbers?: boolean;
  readonly verification?: z.output<typeof verificationSchema>;
  readonly allowedDomains?: readonly string[] | undefined;
};

export function toSmsGatewayConfig(file: SmsGatewaySettings): SmsGatewayConfig {
  const accountFields: Partial<Record<'username' | 'password', string>> = {};
  if (file.accountFields.username !== undefined) accountFields.username = file.accountFields.username;
  if (file.accountFields.password !== undefined) accountFields.password = file.accountFields.password;
  return {
    domain: file.domain,
    maxSegments: file.maxSegments,
    accountFields,
    reportTtlMs: file.reportTtlMs,
    ...(file.defaultCountryCode === undefined ? {} : { defaultCountryCode: file.defaultCountryCode }),
    ...(file.name === undefined ? {} : { name: file.name }),
    ...(file.rooms === undefined ? {} : { rooms: toRoomsConfig(file.rooms) }),
    ...(file.verifyNumbers === undefined ? {} : { verifyNumbers: file.verifyNumbers }),
    ...(file.verification === undefined ? {} : { verification: toVerificationConfig(file.verification) }),
    ...(file.allowedDomains === undefined ? {} : { allowedDomains: file.allowedDomains }),
  };
}

function toVerificationConfig(verification: z.output<typeof verificationSchema>): VerificationConfig {
  return {
    codeTtlMs: verification.codeTtlMs,
    maxAttempts: verification.maxAttempts,
    maxCodes: verification.maxCodes,
    codeWindowMs: verification.codeWindowMs,
    ...(verification.sender === undefined ? {} : { sender: verification.sender }),
  };
}

function toRoomsConfig(rooms: z.output<typeof roomsSchema>): RoomsConfig {
  return {
    batchDelayMs: rooms.batchDelayMs,
    batchSegments: rooms.batchSegments,
    announce: rooms.announce,
    ...(rooms.defaultService === undefined ? {} : { defaultService: rooms.defaultService }),
  };
}
