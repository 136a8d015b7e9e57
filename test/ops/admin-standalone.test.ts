// The admin HTTP API (docs/admin-api.md) on the standalone's ops server, driven as the web
// console and the CLI drive it, with real XMPP clients and a real SMPP SMSC behind the SMS gateway.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastify, { type FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildOpsServer, createMetrics, type OpsServer } from '@switchboard/kit';
import { adminApi, ADMIN_API_PREFIX, type AdminOperations } from '../../services/router/src/admin/index.js';
import { build, type Standalone } from '@switchboard/standalone';
import { TestSmsc } from '../../services/sms-gateway/src/providers/test/smsc.js';
import { httpAdminClient } from '../../services/standalone/src/admin-client.js';
import { runCli } from '../../services/standalone/src/commands.js';
import {
  chat,
  login,
  quietLogger,
  registerVerified,
  smscCodes,
  SMS_DOMAIN,
  TLS_CERT,
  TLS_KEY,
  type User,
} from '../sms/harness.js';
import { waitFor } from './wait.js';

const TOKEN = 'ops-test-admin-token-0123456789';
const ESME_RINVDSTADR = 0x0b;

describe('admin API on the standalone', () => {
  const logs: string[] = [];
  const users: User[] = [];
  let dataDir: string;
  let smsc: TestSmsc;
  let app: Standalone;
  let ops: OpsServer;
  let tcpPort: number;
  let base: string;

  const api = async (
    method: string,
    path: string,
    body?: unknown,
    token: string | null = TOKEN,
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
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
    await runCli(
      argv,
      app.store,
      (line) => out.push(line),
      () => Promise.reject(new Error('no prompt expected')),
      () => Promise.resolve(httpAdminClient(base, TOKEN)),
    );
    return out;
  };

  const connect = async (name: string, password: string): Promise<User> => {
    const user = await login(tcpPort, name, password);
    users.push(user);
    return user;
  };

  /** Resolves with the stream error condition the server closes the client's stream with. */
  const streamError = (user: User): Promise<string> =>
    new Promise((resolve) => {
      user.xmpp.on('error', (error: { condition?: string }) => {
        if (error.condition !== undefined) resolve(error.condition);
      });
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-ops-admin-'));
    smsc = await TestSmsc.start();
    const logger = quietLogger('ops-admin', logs);
    app = build(
      {
        dataDir,
        admin: { token: TOKEN },
        edge: {
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: 0, http: 0 },
          tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
          sasl: { fakeSaltSecret: 'ops-admin-fake-salt-secret' },
        },
        sms: {
          provider: {
            kind: 'smpp',
            host: '127.0.0.1',
            port: smsc.port,
            systemId: smsc.credentials.systemId,
            password: smsc.credentials.password,
          },
          http: { port: 0 },
          queue: { attempts: 1 },
        },
      },
      { logger },
    );
    tcpPort = (await app.start()).tcpPort;
    ops = buildOpsServer({
      metrics: createMetrics({ service: 'ops-admin-test' }),
      logger,
      ready: () => app.ready(),
    });
    await app.admin.register(ops as unknown as FastifyInstance);
    await ops.listen({ port: 0, host: '127.0.0.1' });
    const address = ops.server.address();
    if (address === null || typeof address === 'string') throw new Error('ops server has no port');
    base = `http://127.0.0.1:${address.port}${ADMIN_API_PREFIX}`;
  });

  afterAll(async () => {
    await Promise.all(users.map((u) => u.stop().catch(() => undefined)));
    await ops?.close();
    await app?.close();
    await smsc?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(logs.slice(-50).join(''));
  });

  it('refuses requests without the token or with a wrong one (401, WWW-Authenticate)', async () => {
    for (const token of [null, 'wrong-token-of-some-length', `${TOKEN}x`]) {
      const response = await fetch(`${base}/overview`, {
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await response.json()).toMatchObject({ error: 'unauthorized' });
    }
    const basic = await fetch(`${base}/users`, {
      headers: { authorization: `Basic ${btoa(`admin:${TOKEN}`)}` },
    });
    expect(basic.status).toBe(401);
    // The SMS section checks the token too.
    expect((await api('GET', '/sms', undefined, null)).status).toBe(401);
    expect((await api('POST', '/users', { jid: 'mallory@localhost', password: 'x' }, 'nope')).status).toBe(
      401,
    );
    expect(await app.store.accounts.get('mallory@localhost')).toBeNull();
  });

  it('creates an account that can then log in with @xmpp/client, and rejects bad input with 400/409', async () => {
    const created = await api('POST', '/users', { jid: 'Alice@LocalHost', password: 'alice-secret' });
    expect(created).toEqual({ status: 201, json: { jid: 'alice@localhost' } });
    const alice = await connect('alice', 'alice-secret');
    expect(alice.jid).toMatch(/^alice@localhost\//);

    expect((await api('POST', '/users', { jid: 'alice@localhost', password: 'again' })).json).toMatchObject({
      error: 'conflict',
    });
    for (const body of [
      { jid: 'bob@localhost' },
      { jid: 'bob@localhost/phone', password: 'p' },
      { jid: 'bob@elsewhere.example', password: 'p' },
      { jid: 'b@d@localhost', password: 'p' },
      { jid: 'bob@localhost', password: '' },
      { jid: 42, password: 'p' },
    ]) {
      const response = await api('POST', '/users', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.json['error']).toBe('bad-request');
    }
    expect((await api('GET', '/users?limit=0')).status).toBe(400);
    expect(
      (await api('POST', '/sessions/kick', { jid: 'alice@localhost', condition: 'see-other-host' })).status,
    ).toBe(400);

    const search = await api('GET', '/users?query=ALI');
    expect(search.json).toEqual({ users: ['alice@localhost'], next: null });
    expect((await api('GET', '/users/nobody%40localhost')).status).toBe(404);
    expect((await api('PUT', '/users/nobody%40localhost/password', { password: 'x' })).status).toBe(404);
  });

  it('lists sessions, and a kick closes the client stream with the chosen stream error', async () => {
    await api('POST', '/users', { jid: 'carol@localhost', password: 'carol-secret' });
    const carol = await connect('carol', 'carol-secret');
    const user = await api('GET', '/users/carol%40localhost');
    expect(user.status).toBe(200);
    expect(user.json['sessions']).toEqual([
      expect.objectContaining({
        jid: carol.jid,
        user: 'carol@localhost',
        available: true,
        edgeId: app.edge.edgeId,
      }),
    ]);
    const listed = await api('GET', '/sessions');
    expect((listed.json['sessions'] as { jid: string }[]).map((s) => s.jid)).toContain(carol.jid);
    expect(await cli('sessions', 'list', 'carol@localhost')).toEqual([
      expect.stringMatching(`^${carol.jid}\\t`),
    ]);

    const closed = streamError(carol);
    const kicked = await api('POST', '/sessions/kick', { jid: carol.jid, text: 'maintenance' });
    expect(kicked).toEqual({ status: 202, json: { kicked: [carol.jid] } });
    expect(await closed).toBe('policy-violation');
    await waitFor(
      async () => (await api('GET', '/sessions?user=carol%40localhost')).json['sessions'],
      (s) => Array.isArray(s) && s.length === 0,
    );
    expect((await api('POST', '/sessions/kick', { jid: carol.jid })).status).toBe(404);
  });

  it('kicks through the CLI, and deleting an account closes its sessions', async () => {
    await api('POST', '/users', { jid: 'dave@localhost', password: 'dave-secret' });
    const dave = await connect('dave', 'dave-secret');
    const closed = streamError(dave);
    expect(await cli('sessions', 'kick', dave.jid, '--condition', 'conflict')).toEqual([
      `kicked ${dave.jid}`,
    ]);
    expect(await closed).toBe('conflict');

    const again = await connect('dave', 'dave-secret');
    const removed = streamError(again);
    expect((await api('PUT', '/users/dave%40localhost/password', { password: 'new-secret' })).status).toBe(
      204,
    );
    expect((await api('DELETE', '/users/dave%40localhost')).status).toBe(204);
    expect(await removed).toBe('not-authorized');
    expect(await app.store.accounts.get('dave@localhost')).toBeNull();
    expect((await api('DELETE', '/users/dave%40localhost')).status).toBe(404);
  });

  it('reports the overview, stats, components; IRC answers 501', async () => {
    const overview = await api('GET', '/overview');
    expect(overview.json).toMatchObject({
      mode: 'standalone',
      edges: [{ id: app.edge.edgeId, alive: true, draining: false }],
      routers: [{ id: 'standalone', partitions: [0] }],
      partitions: { total: 1, unowned: [] },
      redis: null,
    });
    const edges = overview.json['edges'] as { connections: number }[];
    expect(edges[0]!.connections).toBeGreaterThanOrEqual(1);
    const stats = await api('GET', '/stats');
    expect(stats.json).toMatchObject({ edges: 1, routers: 1 });
    expect(typeof (stats.json['sms'] as { failed?: unknown }).failed).toBe('number');
    expect(stats.json['users']).toBeGreaterThanOrEqual(2);
    expect((await cli('stats')).find((l) => l.startsWith('users\t'))).toBeDefined();
    expect((await api('GET', '/components')).json).toEqual({
      components: [expect.objectContaining({ domain: SMS_DOMAIN, connected: true })],
    });
    expect(await api('GET', '/irc/connections')).toMatchObject({
      status: 501,
      json: { error: 'not-implemented' },
    });
    expect((await api('GET', '/no/such/thing')).status).toBe(404);
  });

  it('shows a failed SMS job and sends it again on retry (API and CLI)', async () => {
    await api('POST', '/users', { jid: 'erin@localhost', password: 'erin-secret' });
    const erin = await connect('erin', 'erin-secret');
    await registerVerified(erin, '+15550007777', smscCodes(smsc));
    expect((await api('GET', '/sms/registrations?jid=erin%40localhost')).json).toEqual({
      registrations: [{ jid: 'erin@localhost', number: '+15550007777' }],
    });

    /** Sends an SMS the SMSC refuses for good; resolves to its failed job, once the sender got the error. */
    const refused = async (to: string, id: string): Promise<{ id: string; to: string }> => {
      smsc.submitStatuses.push(ESME_RINVDSTADR);
      await erin.send(chat(`${to}@${SMS_DOMAIN}`, `${id} will fail`, id));
      // The gateway tells the sender when the job failed for good.
      await erin.inbox.next(
        (s) => s.attrs['type'] === 'error' && s.attrs['id'] === id,
        `the ${id} error`,
        15_000,
      );
      const jobs = (await api('GET', '/sms/jobs?state=failed')).json['jobs'] as { id: string; to: string }[];
      const job = jobs.find((j) => j.to === to);
      expect(job).toBeDefined();
      return job!;
    };
    const before = smsc.submits.length;
    const job = await refused('+15551112222', 'sms-1');
    expect((await cli('sms', 'queue', '--failed')).some((l) => l.startsWith(`${job.id}\t`))).toBe(true);
    expect((await cli('sms', 'queue')).find((l) => l.startsWith('failed\t'))).toBe('failed\t1');

    expect(await api('POST', `/sms/jobs/${encodeURIComponent(job.id)}/retry`)).toEqual({
      status: 202,
      json: { retried: job.id },
    });
    await smsc.until(() => smsc.submits.length > before + 1);
    expect((await api('POST', '/sms/jobs/no-such-job/retry')).status).toBe(404);
    await expect(cli('sms', 'retry', 'no-such-job')).rejects.toThrow(/no failed job/);
    expect((await api('GET', '/sms/registrations?number=%2B15550009999')).json).toEqual({
      registrations: [],
    });
    expect((await api('GET', '/sms/opt-outs?number=%2B15551112222&own=%2B15550007777')).json).toEqual({
      optOuts: [],
    });
    expect((await api('GET', '/sms/registrations?number=not-a-number')).status).toBe(400);

    // An operator gives up on a failed job: deleted, gone from the list.
    const doomed = await refused('+15551113333', 'sms-2');
    expect((await api('DELETE', `/sms/jobs/${encodeURIComponent(doomed.id)}`)).status).toBe(204);
    const left = (await api('GET', '/sms/jobs?state=failed')).json['jobs'] as { id: string }[];
    expect(left.map((j) => j.id)).not.toContain(doomed.id);
    expect((await api('DELETE', `/sms/jobs/${encodeURIComponent(doomed.id)}`)).status).toBe(404);
    // Listing without a filter: every registration, every opt-out.
    expect((await api('GET', '/sms/registrations')).json).toEqual({
      registrations: [{ jid: 'erin@localhost', number: '+15550007777' }],
    });
    expect(await api('GET', '/sms/opt-outs')).toEqual({ status: 200, json: { optOuts: [] } });
  });
});

describe('admin API plugin without a token', () => {
  let server: FastifyInstance;
  afterAll(async () => server?.close());

  it('does not exist: every path answers 404', async () => {
    server = fastify();
    const operations = {} as AdminOperations;
    await server.register(adminApi, { prefix: ADMIN_API_PREFIX, token: undefined, operations });
    for (const path of ['/overview', '/users', '/sessions']) {
      const response = await server.inject({
        method: 'GET',
        url: `${ADMIN_API_PREFIX}${path}`,
        headers: { authorization: 'Bearer anything-at-all-here' },
      });
      expect(response.statusCode).toBe(404);
    }
  });
});
