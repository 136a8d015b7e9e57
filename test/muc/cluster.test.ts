// The muc process as the cluster runs it (services/muc/dist/main.js on Redis): one instance holds
// the service lease and serves svc:{domain}; a standby waits and takes over when the holder dies.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisBus, type Bus } from '../../packages/bus/src/index.js';
import {
  ENVELOPE_VERSION,
  Streams,
  decodeEnvelope,
  encodeEnvelope,
  partitionOf,
  type Envelope,
} from '@switchboard/protocol';
import { Inbox, startRedisServer, type RedisServer } from '@switchboard/testkit';
import { ROOT } from '../e2e/deployments.js';

const pexec = promisify(execFile);
const DOMAIN = 'conference.cluster.test';
const PARTITIONS = 4;
const USER = 'juliet@cluster.test/balcony';

interface MucProcess {
  readonly child: ChildProcess;
  readonly logs: Inbox<string>;
  readonly exited: Promise<void>;
}

function startMuc(redisUrl: string, dataDir: string): MucProcess {
  const child = spawn(process.execPath, [join(ROOT, 'services/muc/dist/main.js')], {
    cwd: dataDir,
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      SWITCHBOARD_REDIS_URL: redisUrl,
      SWITCHBOARD_DOMAIN: DOMAIN,
      SWITCHBOARD_TRANSPORT: JSON.stringify({ kind: 'bus', partitions: PARTITIONS }),
      SWITCHBOARD_LEASE__TTL_MS: '1500',
      SWITCHBOARD_HTTP__PORT: '0',
      SWITCHBOARD_HTTP__HOST: '127.0.0.1',
      SWITCHBOARD_DATA_DIR: dataDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = new Inbox<string>();
  let buffered = '';
  const onData = (chunk: Buffer): void => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) logs.push(line);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, logs, exited };
}

const said = (msg: string) => (line: string) => line.includes(`"msg":"${msg}"`);

describe('the muc process on Redis: one active instance, a standby that takes over', () => {
  let redis: RedisServer;
  let bus: Bus;
  let dataDir: string;
  const processes: MucProcess[] = [];
  const replies = new Inbox<Envelope>();

  beforeAll(async () => {
    await pexec(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'services/muc'], {
      cwd: ROOT,
    });
    redis = await startRedisServer();
    bus = createRedisBus({ url: redis.url });
    dataDir = await mkdtemp(join(tmpdir(), 'switchboard-muc-cluster-'));
    // What the MUC sends to juliet lands on her route partition, as the routers would read it.
    bus.consume({
      streams: [Streams.route(partitionOf('juliet@cluster.test', PARTITIONS))],
      group: 'test-router',
      consumer: 'test',
      handler: (entries) => {
        for (const entry of entries) replies.push(decodeEnvelope(entry.payload));
        return Promise.resolve();
      },
    });
  }, 120_000);

  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    await bus?.close();
    await redis?.dispose();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Asks the service for its disco#info over svc:{domain}; resolves with the answer's envelope. */
  async function discoRoundTrip(): Promise<Envelope> {
    const id = randomUUID();
    const xml = `<iq xmlns='jabber:client' from='${USER}' to='${DOMAIN}' type='get' id='${id}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`;
    await bus.publish(
      Streams.service(DOMAIN),
      encodeEnvelope({
        v: ENVELOPE_VERSION,
        id: randomUUID(),
        kind: 'iq',
        edgeId: 'edge-test',
        sessionId: 'session-test',
        from: USER,
        to: DOMAIN,
        type: 'get',
        stanzaId: id,
        xml,
        ts: Date.now(),
      }),
    );
    return replies.waitFor((e) => e.stanzaId === id, `the answer to ${id}`, 20_000);
  }

  it('serves from the lease holder and fails over to the standby when the holder is killed', async () => {
    const first = startMuc(redis.url, dataDir);
    processes.push(first);
    await first.logs.waitFor(said('muc ready'), 'the first instance ready', 20_000);
    const second = startMuc(redis.url, dataDir);
    processes.push(second);
    await second.logs.waitFor(said('waiting for the service lease'), 'the standby waiting', 20_000);

    const answer = await discoRoundTrip();
    expect(answer).toMatchObject({ from: DOMAIN, to: USER, type: 'result', stage: 'in' });
    expect(second.logs.items.some(said('muc ready'))).toBe(false);

    first.child.kill('SIGKILL');
    await first.exited;
    await second.logs.waitFor(said('muc ready'), 'the standby taking over', 20_000);
    expect((await discoRoundTrip()).type).toBe('result');
  });
});
