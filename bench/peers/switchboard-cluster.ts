import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PARTITIONS } from '../../packages/protocol/src/index.js';
import { createRedisStore } from '../../packages/store/src/index.js';
import {
  SCRAM_ITERATIONS,
  TLS_CERT,
  TLS_KEY,
  freePort,
  removeDir,
  spawnServer,
  stopTree,
  tempDir,
  waitForPort,
  which,
  writeFile,
  type PeerSpec,
  type PeerStartOptions,
  type RunningPeer,
  tlsNote,
} from './peer.js';
import { provisionAccounts } from './switchboard-accounts.js';
import type { Target } from '../load/client.js';
import { processTree } from '../load/proc-stats.js';

const DOMAIN = 'localhost';
const EDGE = fileURLToPath(new URL('../../services/edge/dist/main.js', import.meta.url));
const ROUTER = fileURLToPath(new URL('../../services/router/dist/main.js', import.meta.url));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The partitions a router holds, from its `router_partitions_owned` gauge; null while it does not answer. */
async function partitionsOwned(opsPort: number): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`);
    const m = /^router_partitions_owned(?:\{[^}]*\})? (\d+)/m.exec(await res.text());
    return m === null ? 0 : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Resolves once the routers hold every partition between them in the balanced shares the
 * assignment aims at (floor or ceil of P/n each): a router that holds its first lease is ready, but
 * until the others have joined and taken their shares, partitions move, messages to a moving
 * partition wait for its new owner, and the first window would measure the handover.
 */
async function routersSettled(opsPorts: readonly number[], children: readonly ChildProcess[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last: (number | null)[] = [];
  while (Date.now() < deadline) {
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead !== undefined) throw new Error(`a router exited with ${dead.exitCode ?? dead.signalCode}`);
    last = await Promise.all(opsPorts.map(partitionsOwned));
    const held = last.filter((n): n is number => n !== null);
    const share = Math.floor(DEFAULT_PARTITIONS / opsPorts.length);
    if (
      held.length === opsPorts.length &&
      held.every((n) => n === share || n === share + 1) &&
      held.reduce((a, n) => a + n, 0) === DEFAULT_PARTITIONS
    )
      return;
    await sleep(100);
  }
  throw new Error(`routers did not settle on ${DEFAULT_PARTITIONS} partitions: ${JSON.stringify(last)}`);
}

function redisVersion(bin: string): string {
  try {
    const m = /v=(\S+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }));
    return m?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Switchboard's cluster mode as ARCHITECTURE.md's topology runs it: one edge process and `routers`
 * router processes (their built dist/main.js) on a private redis-server with AOF (`appendfsync
 * everysec`, as the cluster compose file runs it). `pids` holds every process, Redis included, so
 * CPU per message counts the whole cluster. Accounts go into Redis before any client logs in.
 * Fairness settings as the embedded peer: per-connection rate limits and the per-IP cap raised,
 * log level warn, the bench's test certificate. With `cpu`, every process is pinned to that CPU.
 */
export interface ClusterOptions {
  /** Edge processes, each on its own ports (default 1). */
  readonly edges?: number;
  /**
   * The routers' `cluster.edgeTimeoutMs`: how long an edge may be silent before the janitor
   * declares it dead, ends its sessions and re-routes its queue (router default: 10 s).
   */
  readonly edgeTimeoutMs?: number;
  /** Peer name; default from the router count. */
  readonly name?: string;
}

/** One edge of a running cluster. */
export interface ClusterEdge {
  readonly edgeId: string;
  readonly target: Target;
  readonly pid: number;
}

/** A running cluster, with its edges one by one (e.g. to kill one). */
export interface RunningCluster extends RunningPeer {
  readonly edges: readonly ClusterEdge[];
  /** SIGKILLs edge `index` (its whole process tree) and resolves once it has exited. */
  killEdge(index: number): Promise<void>;
}

export function switchboardCluster(routers = 1, cluster: ClusterOptions = {}): PeerSpec {
  const name = cluster.name ?? (routers === 1 ? 'Switchboard-cluster' : `Switchboard-cluster-${routers}r`);
  return { name, start: (options) => startSwitchboardCluster(name, routers, cluster, options) };
}

/** Starts the cluster `switchboardCluster` describes; a missing binary or failed start is `skipped`. */
export async function startSwitchboardCluster(
  name: string,
  routers: number,
  cluster: ClusterOptions,
  options: PeerStartOptions,
): Promise<RunningCluster | { readonly skipped: string }> {
  const edgeCount = cluster.edges ?? 1;
  for (const main of [EDGE, ROUTER]) {
    if (!existsSync(main)) return { skipped: `${main} is missing: run \`pnpm build\` (pnpm bench does)` };
  }
  const redisBin = which('redis-server');
  if (redisBin === null) return { skipped: 'redis-server is not installed (Debian package `redis-server`)' };
  const dir = tempDir('switchboard-cluster');
  const pin = options.cpu === undefined ? {} : { cpu: options.cpu };
  const children: ChildProcess[] = [];
  const stopAll = async (): Promise<void> => {
    // Edge first (its drain publishes session ends), then routers, Redis last.
    for (const child of [...children].reverse()) await stopTree(child, 15_000);
  };
  const fail = async (what: string, err: unknown): Promise<{ skipped: string }> => {
    await stopAll();
    return { skipped: `${what}: ${err instanceof Error ? err.message : String(err)} (logs in ${dir})` };
  };

  const redisPort = await freePort();
  const redisLog = join(dir, 'redis.log');
  const redis = spawnServer(
    redisBin,
    [
      '--port',
      String(redisPort),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--daemonize',
      'no',
      '--logfile',
      '',
      '--loglevel',
      'warning',
    ],
    { ...pin, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, log: redisLog },
  );
  children.push(redis);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  try {
    await waitForPort(redisPort, redis, 10_000, redisLog);
    const store = createRedisStore({ url: redisUrl });
    try {
      await provisionAccounts(store, options, DOMAIN);
    } finally {
      await store.close();
    }
  } catch (err) {
    return fail('redis-server did not start or take the accounts', err);
  }

  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of every Node process of the cluster.
  const profile = process.env.BENCH_CPU_PROF;
  // BENCH_NODE_ARGS: extra Node flags for every Node process of the cluster (as for the embedded peer).
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const node = (main: string): string[] =>
    profile === undefined ? [...extra, main] : [...extra, '--cpu-prof', `--cpu-prof-dir=${profile}`, main];
  const env = (configFile: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    SWITCHBOARD_CONFIG: configFile,
  });

  const routerOps: number[] = [];
  for (let i = 0; i < routers; i++) {
    const opsPort = await freePort();
    routerOps.push(opsPort);
    const configFile = join(dir, `router-${i}.json`);
    writeFile(
      configFile,
      JSON.stringify(
        {
          routerId: `router-${i}`,
          domains: [DOMAIN],
          redisUrl,
          logLevel: 'warn',
          ops: { port: opsPort, host: '127.0.0.1' },
          // Like the other servers here (no mod_mam): the message archive off.
          mam: { defaultMode: 'never' },
          ...(cluster.edgeTimeoutMs === undefined
            ? {}
            : { cluster: { edgeTimeoutMs: cluster.edgeTimeoutMs } }),
        },
        null,
        2,
      ),
    );
    children.push(
      spawnServer(process.execPath, node(ROUTER), {
        ...pin,
        cwd: dir,
        env: env(configFile),
        log: join(dir, `router-${i}.log`),
      }),
    );
  }
  try {
    await routersSettled(routerOps, children.slice(1));
  } catch (err) {
    return fail('routers did not start', err);
  }

  const big = 1_000_000_000;
  const edges: { edgeId: string; target: Target; child: ChildProcess }[] = [];
  for (let e = 0; e < edgeCount; e++) {
    const [port, tlsPort, httpPort, opsPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const edgeId = `edge-${e}`;
    const suffix = edgeCount === 1 ? '' : `-${e}`;
    const edgeConfig = join(dir, `edge${suffix}.json`);
    writeFile(
      edgeConfig,
      JSON.stringify(
        {
          edgeId,
          domains: [DOMAIN],
          dataDir: dir,
          redisUrl,
          logLevel: 'warn',
          host: '127.0.0.1',
          ports: { starttls: port, directTls: tlsPort, http: httpPort },
          tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
          // RFC 6120 §5.3.1: STARTTLS offered without <required/>, SASL allowed on plain TCP.
          ...(options.allowPlaintextAuth === true ? { requireTls: false } : {}),
          registration: { enabled: false },
          limits: {
            stanzasPerSecond: big,
            stanzaBurst: big,
            bytesPerSecond: big,
            bytesBurst: big,
            maxConnectionsPerIp: 1_000_000,
          },
          ops: { port: opsPort, host: '127.0.0.1' },
        },
        null,
        2,
      ),
    );
    const edgeLog = join(dir, `edge${suffix}.log`);
    const edge = spawnServer(process.execPath, node(EDGE), {
      ...pin,
      cwd: dir,
      env: env(edgeConfig),
      log: edgeLog,
    });
    children.push(edge);
    edges.push({ edgeId, target: { host: '127.0.0.1', port, domain: DOMAIN }, child: edge });
    try {
      await waitForPort(port, edge, 30_000, edgeLog);
    } catch (err) {
      return fail(`${edgeId} did not start`, err);
    }
  }
  const edgesLabel = edgeCount === 1 ? '1 edge' : `${edgeCount} edges`;

  const peer: RunningCluster = {
    name,
    version:
      `Switchboard cluster: ${edgesLabel} + ${routers} router${routers === 1 ? '' : 's'} + redis-server ` +
      `${redisVersion(redisBin)} (Node ${process.version})`,
    target: edges[0]!.target,
    targets: edges.map((x) => x.target),
    edges: edges.map((x) => ({ edgeId: x.edgeId, target: x.target, pid: x.child.pid! })),
    pids: children.map((c) => c.pid!),
    notes:
      `cluster mode (Redis Streams bus and Redis store, ${DEFAULT_PARTITIONS} partitions, AOF appendfsync everysec), ` +
      `CPU counts all ${children.length} processes (edge${edgeCount === 1 ? '' : 's'}, router${routers === 1 ? '' : 's'}, redis-server), ` +
      `message archive off (as ejabberd and Prosody run without mod_mam), ` +
      `SCRAM ${SCRAM_ITERATIONS} iterations, ${tlsNote(options)}, per-connection rate limits and per-IP ` +
      'connection cap raised, log level warn' +
      (options.cpu === undefined ? '' : `; every process of the cluster on CPU ${options.cpu}`) +
      (cluster.edgeTimeoutMs === undefined ? '' : `; router edge timeout ${cluster.edgeTimeoutMs} ms`),
    async killEdge(index) {
      const edge = edges[index];
      if (edge === undefined) throw new Error(`no edge ${index}`);
      const { child } = edge;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      for (const pid of processTree([child.pid!]).map((p) => p.pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
    },
    async stop() {
      await stopAll();
      removeDir(dir);
    },
  };
  return peer;
}
