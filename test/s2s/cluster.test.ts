// Several s2s processes on one Redis: partition leases give each remote domain exactly one owner,
// and stanzas a node read but never sent (it crashed) are claimed and sent by the next owner.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEnvelope, ENVELOPE_VERSION, partitionOf, Streams, type Envelope } from '@switchboard/protocol';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { createRedisBus, type Bus } from '../../packages/bus/src/index.js';
import {
  TLS_CERT,
  TLS_KEY,
  S2sProcess,
  buildS2sService,
  selfSignedCertificate,
  startBlackHole,
  startS2sNode,
  type BlackHole,
  type S2sNode,
} from './harness.js';

const SB = 'sb.example.com';
const REMOTE = 'remote.example.net';
const PARTITIONS = 4;
const P = partitionOf(REMOTE, PARTITIONS);
const ALL = [0, 1, 2, 3];

function message(n: number): Envelope {
  return {
    v: ENVELOPE_VERSION,
    id: `env-${n}`,
    kind: 'message',
    edgeId: '',
    sessionId: '',
    from: `alice@${SB}/phone`,
    to: `bob@${REMOTE}`,
    type: 'chat',
    stanzaId: `m${n}`,
    xml: `<message xmlns='jabber:client' id='m${n}' type='chat'><body>n${n}</body></message>`,
    ts: Date.now(),
  };
}

describe('s2s cluster: partition leases', () => {
  let redis: RedisServer;
  let bus: Bus;
  let remote: S2sNode;
  let hole: BlackHole;
  const nodes: S2sProcess[] = [];
  /** The node left after the second test. */
  let survivor: S2sProcess;

  /** An s2s node of sb.example.com; `remoteAt` is where it thinks remote.example.net listens. */
  const startNode = async (name: string, remoteAt: number): Promise<S2sProcess> => {
    const node = await S2sProcess.start(name, {
      nodeId: name,
      redisUrl: redis.url,
      domains: [SB],
      routePartitions: 1,
      partitions: PARTITIONS,
      host: '127.0.0.1',
      ports: { starttls: 0, directTls: null },
      ops: { port: 0, host: '127.0.0.1' },
      tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
      staticHosts: { [REMOTE]: `127.0.0.1:${remoteAt}` },
      dns: false,
      connectTimeoutMs: 60_000,
      connectAttempts: 1,
      cluster: { leaseTtlMs: 2000, heartbeatMs: 400, nodeTtlMs: 2000 },
    });
    nodes.push(node);
    return node;
  };

  const pending = async (): Promise<number> => (await bus.pending(Streams.s2s(P), 's2s')).count;
  const eventuallyNothingPending = async (): Promise<void> => {
    const deadline = Date.now() + 15_000;
    // The ack follows the write on its own round trip to Redis.
    while ((await pending()) > 0) {
      if (Date.now() > deadline) throw new Error(`still ${await pending()} pending`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    [redis] = await Promise.all([startRedisServer(), buildS2sService()]);
    bus = createRedisBus({ url: redis.url });
    remote = await startS2sNode(REMOTE);
    hole = await startBlackHole();
  }, 120_000);

  afterAll(async () => {
    for (const node of nodes) await node.kill();
    await remote?.close();
    await hole?.close();
    await bus?.close();
    await redis?.dispose();
  });

  const report = (): string => nodes.map((n) => n.report()).join('\n');

  it('moves a crashed node’s queued stanzas to the next owner, which delivers them in order', async () => {
    // A alone owns everything, and remote.example.net hangs for it: it reads the stanzas (published
    // before it starts, so one read takes all three) and queues them.
    await bus.publishBatch(
      [1, 2, 3].map((n) => ({ stream: Streams.s2s(P), payload: encodeEnvelope(message(n)) })),
    );
    const a = await startNode('s2s-a', hole.port);
    await a.waitForOwned((owned) => owned.length === PARTITIONS, 'all partitions on a');
    await hole.connections.waitFor(() => true, 'a connecting to the hanging server', 15_000);
    expect(await pending()).toBe(3);
    await a.kill();

    // B sees the real remote; it takes the partitions once A's leases lapse and claims A's entries.
    const b = await startNode('s2s-b', remote.ports.starttls);
    try {
      for (const n of [1, 2, 3])
        await remote.received.waitFor((e) => e.stanzaId === `m${n}`, `message ${n}`, 20_000);
      const order = remote.received.items.map((e) => e.stanzaId).filter((id) => /^m[123]$/.test(id));
      expect(order).toEqual(['m1', 'm2', 'm3']);
      expect(remote.received.items.find((e) => e.stanzaId === 'm1')).toMatchObject({
        from: `alice@${SB}/phone`,
        to: `bob@${REMOTE}`,
      });
      await b.waitForOwned((owned) => owned.length === PARTITIONS, 'all partitions on b');
      await eventuallyNothingPending();
    } catch (error) {
      throw new Error(`${String(error)}\n${report()}`);
    }
  }, 60_000);

  it('splits the partitions over two live nodes, and the survivor takes a killed node’s share', async () => {
    const b = nodes.find((n) => n.name === 's2s-b')!;
    const c = await startNode('s2s-c', remote.ports.starttls);
    try {
      const [onB, onC] = await Promise.all([
        b.waitForOwned((owned) => owned.length === 2, 'two partitions on b'),
        c.waitForOwned((owned) => owned.length === 2, 'two partitions on c'),
      ]);
      const split = [...onB, ...onC].sort();
      expect(split).toEqual(ALL);

      const owner = onB.includes(P) ? b : c;
      survivor = owner === b ? c : b;
      await owner.kill();
      await survivor.waitForOwned((owned) => owned.length === PARTITIONS, 'all partitions on the survivor');
      await bus.publish(Streams.s2s(P), encodeEnvelope(message(4)));
      await remote.received.waitFor((e) => e.stanzaId === 'm4', 'message 4 through the survivor', 20_000);
      await eventuallyNothingPending();
    } catch (error) {
      throw new Error(`${String(error)}\n${report()}`);
    }
  }, 60_000);

  it('hands partitions back on an ordered shutdown', async () => {
    const d = await startNode('s2s-d', remote.ports.starttls);
    try {
      await Promise.all([
        d.waitForOwned((owned) => owned.length === 2, 'two partitions on d'),
        survivor.waitForOwned((owned) => owned.length === 2, 'two partitions on the survivor'),
      ]);
      await survivor.stop();
      await d.waitForOwned((owned) => owned.length === PARTITIONS, 'all partitions on d');
      await bus.publish(Streams.s2s(P), encodeEnvelope(message(5)));
      await remote.received.waitFor((e) => e.stanzaId === 'm5', 'message 5 through d', 20_000);
      await eventuallyNothingPending();
    } catch (error) {
      throw new Error(`${String(error)}\n${report()}`);
    }
  }, 60_000);
});

describe('s2s cluster: dialback across nodes', () => {
  const SBX = 'sbx.example.com';
  let redis: RedisServer;
  let bus: Bus;
  let dir: string;
  let cert: { keyFile: string; certFile: string };
  let remote: S2sNode;
  const nodes: S2sProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 's2s-cluster-dialback-'));
    // Self-signed: the remote cannot validate it, so it checks our dialback key with our
    // authoritative server, which DNS (here: its static map) may place on another node.
    cert = await selfSignedCertificate(dir, SBX);
    [redis] = await Promise.all([startRedisServer(), buildS2sService()]);
    bus = createRedisBus({ url: redis.url });
  }, 120_000);

  afterAll(async () => {
    for (const node of nodes) await node.kill();
    await remote?.close();
    await bus?.close();
    await redis?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('verifies a dialback key generated by one node at another (the secret is shared through Redis)', async () => {
    const start = (name: string, remoteAt: number): Promise<S2sProcess> =>
      S2sProcess.start(name, {
        nodeId: name,
        redisUrl: redis.url,
        domains: [SBX],
        routePartitions: 1,
        partitions: 2,
        host: '127.0.0.1',
        ports: { starttls: 0, directTls: null },
        ops: { port: 0, host: '127.0.0.1' },
        tls: cert,
        staticHosts: { [REMOTE]: `127.0.0.1:${remoteAt}` },
        dns: false,
        cluster: { leaseTtlMs: 2000, heartbeatMs: 400, nodeTtlMs: 2000 },
      }).then((node) => {
        nodes.push(node);
        return node;
      });
    // The remote listens before the nodes know its port; it learns theirs afterwards.
    const remoteTargets: Record<string, string> = {};
    remote = await startS2sNode(REMOTE, { staticHosts: remoteTargets });
    const [x, y] = await Promise.all([
      start('dbx-x', remote.ports.starttls),
      start('dbx-y', remote.ports.starttls),
    ]);
    const p = partitionOf(REMOTE, 2);
    const [heldX] = await Promise.all([
      x.waitForOwned((owned) => owned.length === 1, 'one partition on x'),
      y.waitForOwned((owned) => owned.length === 1, 'one partition on y'),
    ]);
    const sender = heldX.includes(p) ? x : y;
    const other = sender === x ? y : x;
    const otherPort = (await other.waitFor((l) => l.msg === 's2s ready', 'ready'))['starttls'] as number;
    // The remote's way to our domain leads to the node that did not open the stream.
    remoteTargets[SBX] = `127.0.0.1:${otherPort}`;
    try {
      await bus.publish(
        Streams.s2s(p),
        encodeEnvelope({ ...message(9), from: `alice@${SBX}/phone`, to: `bob@${REMOTE}` }),
      );
      const env = await remote.received.waitFor(
        (e) => e.stanzaId === 'm9',
        'the message at the remote',
        20_000,
      );
      expect(env.from).toBe(`alice@${SBX}/phone`);
    } catch (error) {
      throw new Error(
        `${String(error)}\n${nodes.map((n) => n.report()).join('\n')}\n${remote.logs.join('')}`,
      );
    }
  }, 60_000);
});
