import { z } from '@switchboard/kit';
import { DEFAULT_PARTITIONS } from '@switchboard/protocol';
import type { RoomConfig } from './storage/storage.js';

/** What `build()` needs: the service's settings, no connections. */
export interface MucConfig {
  /** The service domain, e.g. `conference.example.com`; rooms are `name@` it. */
  readonly domain: string;
  /** Shown in the service's disco identity. */
  readonly name: string;
  /** Configuration of a new room until its owner changes it. */
  readonly roomDefaults: Partial<RoomConfig>;
  /** History stanzas sent on join unless the client asks otherwise (XEP-0045 §7.2.14). */
  readonly historyDefault: number;
  /** Most history stanzas sent on join whatever the client asks. */
  readonly historyMax: number;
}

/** The settings a standalone `muc` section shares with the muc process's config file. */
export const mucSettingsSchema = z.object({
  domain: z.string().min(1),
  name: z.string().default('Chatrooms'),
  /** muc#roomconfig defaults for new rooms. */
  roomDefaults: z
    .object({
      persistent: z.boolean(),
      public: z.boolean(),
      membersOnly: z.boolean(),
      moderated: z.boolean(),
      whois: z.enum(['moderators', 'anyone']),
      logging: z.boolean(),
      allowInvites: z.boolean(),
      changeSubject: z.boolean(),
      allowPm: z.enum(['anyone', 'participants', 'moderators', 'none']),
    })
    .partial()
    .default({}),
  history: z
    .object({
      default: z.number().int().min(0).default(20),
      max: z.number().int().min(0).default(100),
    })
    .prefault({}),
});

export type MucSettings = z.output<typeof mucSettingsSchema>;

const port = z.number().int().min(0).max(65535);

/**
 * The muc process's configuration file and environment, validated once at
 * boot by main.ts (ARCHITECTURE.md, "Configuration").
 */
export const mucConfigSchema = mucSettingsSchema.extend({
  domain: z.string().min(1).default('conference.localhost'),
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
  /** Redis for the bus, room storage and the active-instance lease; SQLite under dataDir when absent. */
  redisUrl: z.string().optional(),
  dataDir: z.string().default('./data'),
  /**
   * One instance serves the domain at a time (rooms are in-memory state with one writer);
   * others wait on this Redis lease and take over when it lapses.
   */
  lease: z
    .object({
      ttlMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  /** /metrics, /healthz, /readyz. */
  http: z
    .object({
      port: port.default(9284),
      host: z.string().default('0.0.0.0'),
    })
    .prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type MucFileConfig = z.output<typeof mucConfigSchema>;

export function toMucConfig(settings: MucSettings): MucConfig {
  const defaults: Partial<Record<keyof RoomConfig, unknown>> = {};
  for (const [key, value] of Object.entries(settings.roomDefaults))
    if (value !== undefined) defaults[key as keyof RoomConfig] = value;
  return {
    domain: settings.domain,
    name: settings.name,
    roomDefaults: defaults as Partial<RoomConfig>,
    historyDefault: settings.history.default,
    historyMax: settings.history.max,
  };
}
