// What the `switchboard` CLI's sessions/stats/sms commands call: the admin operations directly
// (cluster state in Redis) or the admin HTTP API of a running standalone (its state is in memory).
import { createRedisBus } from '@switchboard/bus';
import { DEFAULT_PARTITIONS } from '@switchboard/protocol';
import {
  createAdminOperations,
  createRedisView,
  type AdminOperations,
  type KickCondition,
  type SessionView,
  type Stats,
} from '@switchboard/router';
import {
  createBullQueue,
  createRedisRegistrations,
  createSmsAdmin,
  type BullQueueOptions,
  type FailedJobView,
  type QueueCounts,
  type SmsAdminOperations,
} from '@switchboard/sms-gateway';
import { createRedisStore } from '@switchboard/store';
import { Redis } from 'ioredis';

export interface AdminClient {
  sessions(user?: string): Promise<readonly SessionView[]>;
  kick(jid: string, condition?: KickCondition, text?: string): Promise<readonly string[]>;
  stats(): Promise<Stats>;
  smsQueue(): Promise<{ domain: string; queue: QueueCounts }>;
  smsFailed(limit?: number): Promise<readonly FailedJobView[]>;
  smsRetry(id: string): Promise<void>;
  smsDelete(id: string): Promise<void>;
  close(): Promise<void>;
}

/** An admin API error (docs/admin-api.md, "Conventions"), with its stable name. */
export class AdminRequestError extends Error {
  override readonly name = 'AdminRequestError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The operations in this process, on shared state (the cluster's Redis). */
export function directAdminClient(
  operations: AdminOperations,
  sms: SmsAdminOperations | null,
  close: () => Promise<void>,
): AdminClient {
  const needSms = (): SmsAdminOperations => {
    if (sms === null) throw new AdminRequestError('sms-not-configured', 'no SMS gateway queue configured');
    return sms;
  };
  return {
    sessions: (user) => operations.sessions(user === undefined ? {} : { user }),
    kick: (jid, condition, text) => operations.kick(jid, condition, text),
    stats: () => operations.stats(sms === null ? undefined : async () => (await sms.summary()).queue),
    smsQueue: () => needSms().summary(),
    smsFailed: (limit) => needSms().failedJobs(limit),
    smsRetry: (id) => needSms().retry(id),
    smsDelete: (id) => needSms().remove(id),
    close,
  };
}

/** The admin HTTP API at `baseUrl` (ending in /admin/api/v1). */
export function httpAdminClient(baseUrl: string, token: string): AdminClient {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new AdminRequestError(
        'unreachable',
        `cannot reach ${baseUrl}: ${String(error)}; is Switchboard running?`,
      );
    }
    const text = await response.text();
    const json = text === '' ? undefined : (JSON.parse(text) as unknown);
    if (!response.ok) {
      const e = (json ?? {}) as { error?: string; message?: string };
      throw new AdminRequestError(e.error ?? String(response.status), e.message ?? response.statusText);
    }
    return json as T;
  };
  const q = (user?: string): string => (user === undefined ? '' : `?user=${encodeURIComponent(user)}`);
  return {
    sessions: async (user) =>
      (await call<{ sessions: SessionView[] }>('GET', `/sessions${q(user)}`)).sessions,
    kick: async (jid, condition, text) =>
      (
        await call<{ kicked: string[] }>('POST', '/sessions/kick', {
          jid,
          ...(condition === undefined ? {} : { condition }),
          ...(text === undefined ? {} : { text }),
        })
      ).kicked,
    stats: () => call<Stats>('GET', '/stats'),
    smsQueue: () => call<{ domain: string; queue: QueueCounts }>('GET', '/sms'),
    smsFailed: async (limit) =>
      (await call<{ jobs: FailedJobView[] }>('GET', `/sms/jobs?state=failed&limit=${limit ?? 100}`)).jobs,
    smsRetry: async (id) => {
      await call('POST', `/sms/jobs/${encodeURIComponent(id)}/retry`);
    },
    smsDelete: async (id) => {
      await call('DELETE', `/sms/jobs/${encodeURIComponent(id)}`);
    },
    close: () => Promise.resolve(),
  };
}

export interface RedisAdminOptions {
  readonly url: string;
  /** Route partitions of the cluster. Default DEFAULT_PARTITIONS. */
  readonly partitions?: number;
  /** The SMS gateway's BullMQ queue (`sms-<provider kind>`); null: no SMS commands. */
  readonly smsQueue?: string | null;
  readonly smsDomain?: string;
}

/** The CLI on a cluster: the same operations the routers' admin API runs, on the shared Redis. */
export function redisAdminClient(options: RedisAdminOptions): AdminClient {
  const redis = new Redis(options.url, { lazyConnect: false });
  const bus = createRedisBus({ url: options.url });
  const store = createRedisStore({ url: options.url });
  const operations = createAdminOperations({
    view: createRedisView({ redis, partitions: options.partitions ?? DEFAULT_PARTITIONS, components: [] }),
    store,
    bus,
    domains: [],
  });
  const queueName = options.smsQueue === undefined ? 'sms-twilio' : options.smsQueue;
  const queue =
    queueName === null ? null : createBullQueue({ name: queueName, connection: bullConnection(options.url) });
  const sms =
    queue === null
      ? null
      : createSmsAdmin({
          domain: options.smsDomain ?? `queue ${queueName}`,
          queue,
          registrations: createRedisRegistrations({ redis }),
        });
  return directAdminClient(operations, sms, async () => {
    await queue?.close();
    await bus.close();
    await store.close();
    await redis.quit();
  });
}

/** BullMQ takes ioredis options, not a URL; the sms-gateway's main.ts parses it the same way. */
function bullConnection(url: string): BullQueueOptions['connection'] {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password === '' ? {} : { password: decodeURIComponent(u.password) }),
    ...(u.username === '' ? {} : { username: decodeURIComponent(u.username) }),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    maxRetriesPerRequest: null,
  };
}
