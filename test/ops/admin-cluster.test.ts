// The admin API served by a router process of the compose topology (Redis, router, edge, SMS
// gateway as real processes with their docker-compose.yml environment), and the `switchboard` CLI
// working directly on that Redis.
import { client, type Client } from '@xmpp/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type Store } from '@switchboard/store';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import {
  createBullQueue,
  ProviderError,
  type OutboundJob,
  type OutboundQueue,
} from '../../services/sms-gateway/src/app.js';
import { redisAdminClient } from '../../services/standalone/src/admin-client.js';
import { runCli } from '../../services/standalone/src/commands.js';
import { buildWorkspace } from '../e2e/deployments.js';
import { composeServices, runDir, type ComposeService } from '../cluster/topology.js';
import { startComposeService, type ServiceProcess } from './compose-processes.js';
import { waitFor } from './wait.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const DOMAIN = 'localhost';

describe('admin API on a router of the cluster, and the CLI on its Redis', () => {
  let redis: RedisServer;
  let dir: { path: string; remove(): Promise<void> };
  let compose: Record<string, ComposeService>;
  let store: Store;
  let base: string;
  let token: string;
  let edgePort: number;
  const services: ServiceProcess[] = [];
  const clients: Client[] = [];
  let failingQueue: OutboundQueue | undefined;

  const api = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return {
      status: response.status,
      json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    };
  };

  const cli = async (...argv: string[]): Promise<string[]> => {
    const out: string[] = [];
    const queueIndex = argv.indexOf('--sms-queue');
    await runCli(
      argv,
      store,
      (line) => out.push(line),
      () => Promise.reject(new Error('no prompt expected')),
      () =>
        Promise.resolve(
          redisAdminClient({
            url: redis.url,
            partitions: Number(compose['router-1']!.environment['SWITCHBOARD_PARTITIONS']),
            ...(queueIndex < 0 ? {} : { smsQueue: argv[queueIndex + 1]! }),
          }),
        ),
    );
    return out;
  };

  /** Logs in directly at the edge; resolves with the client and the first stream error condition it gets. */
  const connect = async (
    user: string,
    password: string,
  ): Promise<{ xmpp: Client; closed: Promise<string> }> => {
    const xmpp = client({
      service: `xmpp://127.0.0.1:${edgePort}`,
      domain: DOMAIN,
      username: user,
      password,
      resource: 'desk',
    });
    xmpp.reconnect.stop();
    (xmpp as unknown as { timeout: number }).timeout = 10_000;
    const closed = new Promise<string>((resolve) => {
      xmpp.on('error', (error: { condition?: string }) => {
        if (error.condition !== undefined) resolve(error.condition);
      });
    });
    clients.push(xmpp);
    await xmpp.start();
    return { xmpp, closed };
  };

  beforeAll(async () => {
    [redis, dir, compose] = await Promise.all([
      startRedisServer(),
      runDir(),
      composeServices(),
      buildWorkspace(),
    ]).then(([r, d, c]) => [r, d, c] as const);
    token = compose['router-1']!.environment['SWITCHBOARD_ADMIN__TOKEN']!;
    store = createRedisStore({ url: redis.url });
    const sms = await startComposeService(
      'sms-gateway',
      'sms-gateway',
      compose['sms-gateway']!,
      redis.url,
      dir.path,
    );
    services.push(sms);
    const router = await startComposeService(
      'router-1',
      'router',
      compose['router-1']!,
      redis.url,
      dir.path,
      {
        SWITCHBOARD_ADMIN__SMS_URL: sms.opsUrl,
      },
    );
    services.push(router);
    const edge = await startComposeService('edge', 'edge', compose['edge']!, redis.url, dir.path);
    services.push(edge);
    edgePort = Number(edge.env['SWITCHBOARD_PORTS__STARTTLS']);
    base = `${router.opsUrl}/admin/api/v1`;
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
    await failingQueue?.close();
    await Promise.all(services.map((s) => s.process.kill()));
    await store?.close();
    await redis?.dispose();
    await dir?.remove();
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') for (const s of services) console.error(s.process.report());
  });

  it('needs the token the compose file gives the routers', async () => {
    expect(token.length).toBeGreaterThanOrEqual(16);
    expect((await fetch(`${base}/overview`)).status).toBe(401);
    expect(
      (await fetch(`${base}/sms`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status,
    ).toBe(401);
  });

  it('creates a user who logs in at the edge; the overview shows the edge, its connection and the router', async () => {
    expect((await api('POST', '/users', { jid: 'frank@localhost', password: 'frank-secret' })).status).toBe(
      201,
    );
    const frank = await connect('frank', 'frank-secret');
    expect(frank.xmpp.jid?.toString()).toBe('frank@localhost/desk');
    // The edge writes its status every second and the session record lands when the router handled the bind.
    const overview = await waitForOverview((o) => o.edges.some((e) => e.connections >= 1 && e.sessions >= 1));
    expect(overview).toMatchObject({ mode: 'cluster', partitions: { total: 64, unowned: [] } });
    expect(overview.edges[0]).toMatchObject({ alive: true, draining: false });
    expect(overview.routers).toEqual([expect.objectContaining({ id: 'router-1', alive: true })]);
    expect(overview.routers[0]!.partitions).toHaveLength(64);
    expect(overview.redis?.usedMemoryBytes).toBeGreaterThan(0);

    const sessions = await api('GET', '/sessions');
    expect(sessions.json['sessions']).toEqual([expect.objectContaining({ jid: 'frank@localhost/desk' })]);
    expect(await cli('sessions', 'list')).toEqual([expect.stringMatching(/^frank@localhost\/desk\t/)]);
    const stats = await cli('stats');
    expect(stats).toContain('sessions\t1');
    expect(stats).toContain('routers\t1');
  });

  it('kicks a session from the API and from the CLI: the client sees the stream error', async () => {
    await api('POST', '/users', { jid: 'grace@localhost', password: 'grace-secret' });
    const first = await connect('grace', 'grace-secret');
    await waitForOverview((o) => o.edges.some((e) => e.sessions >= 2));
    expect(await api('POST', '/sessions/kick', { jid: 'grace@localhost/desk', condition: 'reset' })).toEqual({
      status: 202,
      json: { kicked: ['grace@localhost/desk'] },
    });
    expect(await first.closed).toBe('reset');

    const second = await connect('grace', 'grace-secret');
    // The CLI reads the session from Redis; wait for the router to have recorded the new one.
    await waitForOverview((o) => o.edges.some((e) => e.sessions >= 2));
    expect(await cli('sessions', 'kick', 'grace@localhost')).toEqual(['kicked grace@localhost/desk']);
    expect(await second.closed).toBe('policy-violation');
  });

  it('forwards /sms/* to the SMS gateway with the same token', async () => {
    const summary = await api('GET', '/sms');
    expect(summary).toMatchObject({ status: 200, json: { domain: 'sms.localhost', queue: { failed: 0 } } });
    expect((await api('GET', '/sms/jobs?state=failed')).json).toEqual({ jobs: [] });
    expect((await api('POST', '/sms/jobs/nothing/retry')).json).toMatchObject({ error: 'not-found' });
    expect((await api('GET', '/sms/registrations?number=bad')).status).toBe(400);
    expect((await api('GET', '/stats')).json['sms']).toMatchObject({ failed: 0 });
    expect(await api('GET', '/irc/connections')).toMatchObject({ status: 501 });
  });

  it('lists and retries a failed BullMQ job from the CLI', async () => {
    const url = new URL(redis.url);
    let attempts = 0;
    const retried = deferred();
    const failed = deferred();
    failingQueue = createBullQueue({
      name: 'sms-ops-test',
      attempts: 1,
      connection: { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null },
    });
    await failingQueue.start(
      () => {
        attempts++;
        if (attempts === 1) return Promise.reject(new ProviderError('number unreachable', false, '21614'));
        retried.resolve();
        return Promise.resolve();
      },
      { failed: () => failed.resolve() },
    );
    const job: OutboundJob = {
      id: 'env-ops-1',
      sms: { id: 'env-ops-1', from: '+15550001111', to: '+15550002222', text: 'hello', wantReport: false },
      sender: 'frank@localhost/desk',
      contact: '+15550002222@sms.localhost',
      stanzaId: 'm1',
      wantReceipt: false,
    };
    await failingQueue.enqueue(job);
    await failed.promise;
    const listed = await cli('sms', 'queue', '--failed', '--sms-queue', 'sms-ops-test');
    expect(listed).toEqual([
      expect.stringMatching(/^env-ops-1\t\+15550001111 -> \+15550002222\t1 attempts\tnumber unreachable/),
    ]);
    expect(await cli('sms', 'queue', '--sms-queue', 'sms-ops-test')).toContain('failed\t1');
    expect(await cli('sms', 'retry', 'env-ops-1', '--sms-queue', 'sms-ops-test')).toEqual([
      'retrying env-ops-1',
    ]);
    await retried.promise;
    await expect(cli('sms', 'retry', 'env-ops-1', '--sms-queue', 'sms-ops-test')).rejects.toThrow(
      /no failed job/,
    );
  });

  interface OverviewBody {
    mode: string;
    edges: { connections: number; sessions: number; alive: boolean; draining: boolean }[];
    routers: { id: string; partitions: number[] }[];
    redis: { usedMemoryBytes: number } | null;
  }

  function waitForOverview(done: (o: OverviewBody) => boolean): Promise<OverviewBody> {
    return waitFor(async () => (await api('GET', '/overview')).json as unknown as OverviewBody, done);
  }
});
