// The two ways Switchboard runs, behind one interface, so that one scenario suite proves both:
// the embedded single process (ARCHITECTURE.md, "Embedded mode") and the cluster of edge and
// router processes on Redis (ARCHITECTURE.md, "Topology").
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { createLogger } from '@switchboard/kit';
import { assignPartitions } from '@switchboard/lease';
import { DEFAULT_PARTITIONS } from '@switchboard/protocol';
import { build, type Standalone } from '@switchboard/standalone';
import { createRedisStore, deriveCredentials, type Store } from '@switchboard/store';
import { startRedisServer, type RedisServer } from '@switchboard/testkit';
import { WatchedProcess } from '../support/processes.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TLS_DIR = join(ROOT, 'test/fixtures/tls');
export const CA_FILE = join(TLS_DIR, 'ca.pem');
const TLS_KEY = join(TLS_DIR, 'server.key');
const TLS_CERT = join(TLS_DIR, 'server.pem');
const FAKE_SALT_SECRET = 'e2e-fake-salt-secret-shared-by-every-edge';
export const DOMAIN = 'localhost';

/** Where a client connects: the STARTTLS port of one edge. */
export interface Endpoint {
  readonly edge: number;
  readonly host: string;
  readonly port: number;
}

/** Collects a client's stanzas and resolves waiters as matching ones arrive (no polling, no sleeps). */
export class Inbox {
  /** Every stanza received, in order, consumed or not. */
  readonly history: Element[] = [];
  private readonly unread: Element[] = [];
  private waiters: { test: (s: Element) => boolean; resolve: (s: Element) => void }[] = [];

  push(s: Element): void {
    this.history.push(s);
    const waiter = this.waiters.find((w) => w.test(s));
    if (waiter === undefined) {
      this.unread.push(s);
      return;
    }
    this.waiters.splice(this.waiters.indexOf(waiter), 1);
    waiter.resolve(s);
  }

  /** The first unread stanza that passes `test`, now or when it arrives; it is then read. */
  next(test: (s: Element) => boolean, what: string, timeoutMs = 5000): Promise<Element> {
    const index = this.unread.findIndex(test);
    if (index >= 0) return Promise.resolve(this.unread.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (s: Element) => {
          clearTimeout(timer);
          resolve(s);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next `count` stanzas that pass `test`, in arrival order. */
  async collect(
    test: (s: Element) => boolean,
    count: number,
    what: string,
    timeoutMs = 5000,
  ): Promise<Element[]> {
    const out: Element[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count) {
      out.push(
        await this.next(test, `${what} (${out.length + 1} of ${count})`, Math.max(1, deadline - Date.now())),
      );
    }
    return out;
  }
}

/** One logged-in @xmpp/client stream. */
export interface Session {
  /** Full JID bound. */
  readonly jid: string;
  readonly bare: string;
  readonly xmpp: Client;
  readonly inbox: Inbox;
  readonly endpoint: Endpoint;
  send(stanza: Element): Promise<void>;
  /** An IQ round trip; rejects with the StanzaError of an error response. */
  iq(stanza: Element, timeoutMs?: number): Promise<Element>;
  /** The condition of the stream error this stream is closed with. */
  streamError(timeoutMs?: number): Promise<string>;
  /** Closes the stream gracefully (`</stream>`). */
  stop(): Promise<void>;
}

export interface ConnectOptions {
  /** Cluster: the edge to connect to instead of the user's own. */
  readonly edge?: number;
}

export interface Deployment {
  readonly kind: 'embedded' | 'cluster';
  readonly domain: string;
  /** Route partitions users hash onto. */
  readonly partitions: number;
  /** Edges clients can connect to. */
  readonly edges: number;
  createAccount(user: string, password: string): Promise<void>;
  /** The edge a user connects to. */
  endpointFor(user: string): Endpoint;
  connect(user: string, resource: string, options?: ConnectOptions): Promise<Session>;
  /** What the processes said: logs and stderr, for a failed test's report. */
  diagnostics(): string;
  /** Closes every client and stops everything; idempotent. */
  stop(): Promise<void>;
}

export interface ClusterDeployment extends Deployment {
  readonly kind: 'cluster';
  readonly redisUrl: string;
  /** SIGKILLs router `i`, as a crash would, and waits for it to be gone. */
  killRouter(i: number): Promise<void>;
  /** SIGKILLs edge `i` and waits for it to be gone. */
  killEdge(i: number): Promise<void>;
  /** The partitions router `i` holds, as its last ownership log line said. */
  partitionsOf(router: number): readonly number[];
  /** Resolves once the live routers hold every partition between them, each some. */
  settled(timeoutMs?: number): Promise<void>;
  /** Resolves with the first log line of router `i` that passes `test`, past or future. */
  routerLog(i: number, test: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the first log line of edge `i` that passes `test`, past or future. */
  edgeLog(i: number, test: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
}

/** One line of pino JSON output. */
export type LogLine = Record<string, unknown> & { msg?: string };

// ---- clients ----

interface IqCaller {
  request(el: Element, timeout?: number): Promise<Element>;
}

interface IqCallee {
  set(xmlns: string, name: string, handler: () => object): void;
}

class Clients {
  private readonly passwords = new Map<string, string>();
  private readonly open = new Set<Client>();

  remember(user: string, password: string): void {
    this.passwords.set(user, password);
  }

  async connect(user: string, resource: string, endpoint: Endpoint): Promise<Session> {
    const password = this.passwords.get(user);
    if (password === undefined) throw new Error(`no account was created for ${user}`);
    const xmpp = client({
      service: `xmpp://${endpoint.host}:${endpoint.port}`,
      domain: DOMAIN,
      username: user,
      password,
      resource,
    });
    // A test decides when a client comes back; reconnecting would fight a conflict forever.
    xmpp.reconnect.stop();
    const inbox = new Inbox();
    const streamErrors = new Inbox();
    xmpp.on('stanza', (s: Element) => inbox.push(s));
    xmpp.on('error', (err: unknown) => {
      const condition = (err as { condition?: unknown }).condition;
      if ((err as { name?: unknown }).name === 'StreamError' && typeof condition === 'string') {
        streamErrors.push(xml('stream-error', { condition }));
      }
    });
    // Roster pushes need a result (RFC 6121 §2.1.6); the push itself still reaches the inbox.
    (xmpp as unknown as { iqCallee: IqCallee }).iqCallee.set('jabber:iq:roster', 'query', () => ({}));
    this.open.add(xmpp);
    try {
      await xmpp.start();
    } catch (error) {
      this.open.delete(xmpp);
      await xmpp.stop().catch(() => undefined);
      throw error;
    }
    const caller = (xmpp as unknown as { iqCaller: IqCaller }).iqCaller;
    const jid = xmpp.jid?.toString() ?? `${user}@${DOMAIN}/${resource}`;
    return {
      jid,
      bare: `${user}@${DOMAIN}`,
      xmpp,
      inbox,
      endpoint,
      send: (stanza) => xmpp.send(stanza),
      iq: (stanza, timeoutMs = 5000) => caller.request(stanza, timeoutMs),
      streamError: async (timeoutMs = 5000) =>
        String((await streamErrors.next(() => true, `a stream error for ${jid}`, timeoutMs)).attrs.condition),
      stop: async () => {
        this.open.delete(xmpp);
        await xmpp.stop().catch(() => undefined);
      },
    };
  }

  async closeAll(): Promise<void> {
    const all = [...this.open];
    this.open.clear();
    await Promise.all(all.map((c) => c.stop().catch(() => undefined)));
  }
}

// ---- embedded ----

/** Edge and router in this process on the in-process bus and the embedded store (standalone's build()). */
export async function embedded(): Promise<Deployment> {
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-e2e-'));
  const logs: string[] = [];
  const app: Standalone = build(
    {
      dataDir,
      edge: {
        host: '127.0.0.1',
        ports: { starttls: 0, directTls: 0, http: 0 },
        tls: { keyFile: TLS_KEY, certFile: TLS_CERT },
        sasl: { fakeSaltSecret: FAKE_SALT_SECRET },
      },
    },
    {
      logger: createLogger({
        service: 'e2e-embedded',
        level: 'warn',
        destination: { write: (line: string) => void logs.push(line) },
      }),
    },
  );
  const { tcpPort } = await app.start();
  const clients = new Clients();
  const endpoint: Endpoint = { edge: 0, host: '127.0.0.1', port: tcpPort };
  let stopping: Promise<void> | undefined;
  return {
    kind: 'embedded',
    domain: DOMAIN,
    partitions: 1,
    edges: 1,
    async createAccount(user, password) {
      await app.store.accounts.create(`${user}@${DOMAIN}`, await deriveCredentials(password));
      clients.remember(user, password);
    },
    endpointFor: () => endpoint,
    connect: (user, resource) => clients.connect(user, resource, endpoint),
    diagnostics: () => `embedded deployment log (warn and above):\n${logs.slice(-200).join('')}`,
    stop() {
      stopping ??= (async () => {
        await clients.closeAll();
        await app.close();
        await rm(dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

// ---- cluster ----

const pexec = promisify(execFile);
let built: Promise<void> | undefined;

/**
 * Compiles the workspace (tsc -b, incremental) so the processes run the current source from dist/.
 * Type errors do not stop the run: tsc still emits, and the processes' behaviour is what is tested.
 */
export function buildWorkspace(): Promise<void> {
  built ??= pexec(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    () => undefined,
    (error: { stdout?: string; stderr?: string }) => {
      process.stderr.write(
        `tsc -b reported errors; running what it emitted:\n${error.stdout ?? ''}${error.stderr ?? ''}\n`,
      );
    },
  );
  return built;
}

/** A service process whose JSON log lines can be awaited. */
class ServiceProcess extends WatchedProcess<LogLine> {
  private readonly tail: string[] = [];

  constructor(name: string, script: string, env: Record<string, string>) {
    super(name, process.execPath, [join(ROOT, script)], env);
  }

  private remember(text: string): void {
    this.tail.push(text);
    if (this.tail.length > 300) this.tail.shift();
  }

  protected onLine(line: string, stream: 'stdout' | 'stderr'): void {
    this.remember(stream === 'stderr' ? `[stderr] ${line}` : line);
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      return;
    }
    this.accept(parsed);
  }

  protected onExit(note: string): void {
    this.remember(note);
  }

  report(): string {
    return `--- ${this.name} (${this.alive ? 'running' : this.exitNote}), last ${this.tail.length} lines:\n${this.tail.join('\n')}`;
  }
}

export interface ClusterOptions {
  readonly edges?: number;
  readonly routers?: number;
  /** Partition lease lifetime; takeover after a router's death takes about this long. */
  readonly leaseTtlMs?: number;
  /** An edge silent this long is dead (its heartbeat beats every second). */
  readonly edgeTimeoutMs?: number;
}

/**
 * Edge and router processes (their built dist/main.js) on a private redis-server with AOF. Users
 * are placed on edges in turn as their accounts are created, so consecutive users meet across edges.
 */
export async function cluster(options: ClusterOptions = {}): Promise<ClusterDeployment> {
  const edgeCount = options.edges ?? 2;
  const routerCount = options.routers ?? 2;
  const leaseTtlMs = options.leaseTtlMs ?? 1500;
  await buildWorkspace();
  const redis: RedisServer = await startRedisServer({ appendOnly: true });
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-e2e-cluster-'));
  const common = {
    SWITCHBOARD_REDIS_URL: redis.url,
    SWITCHBOARD_PARTITIONS: String(DEFAULT_PARTITIONS),
    SWITCHBOARD_LOG_LEVEL: 'info',
    SWITCHBOARD_OPS__PORT: '0',
    SWITCHBOARD_OPS__HOST: '127.0.0.1',
  };
  const edges: ServiceProcess[] = [];
  const routers: ServiceProcess[] = [];
  const ports: number[] = [];
  const placement = new Map<string, number>();
  const clients = new Clients();
  let store: Store | undefined;
  let stopping: Promise<void> | undefined;

  const processes = (): ServiceProcess[] => [...edges, ...routers];
  const diagnostics = (): string =>
    processes()
      .map((p) => p.report())
      .join('\n');

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await clients.closeAll();
      await Promise.all(processes().map((p) => p.kill()));
      await store?.close().catch(() => undefined);
      await redis.dispose();
      await rm(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const settled = async (timeoutMs = 15_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    const live = routers.filter((r) => r.alive);
    // Routers that start together first grab whatever is free (each may see itself alone), then
    // converge on the assignment over all of them: settled means exactly that assignment, not
    // any disjoint cover, or a test would see a transient split such as 61/3.
    const target = assignPartitions(
      live.map((r) => r.name),
      DEFAULT_PARTITIONS,
    );
    const wanted = (r: ServiceProcess): string =>
      JSON.stringify([...(target.get(r.name) ?? [])].sort(byNumber));
    for (;;) {
      const held = live.map((r, i) => partitionsHeld(r, i));
      if (live.every((r, i) => JSON.stringify([...held[i]!].sort(byNumber)) === wanted(r))) return;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(
          `routers did not settle on the partitions: ${JSON.stringify(held.map((h) => h.length))}`,
        );
      }
      // Wake on the next ownership change of any live router.
      const seen = live.map((r) => r.all(isOwnership).length);
      await Promise.race(
        live.map((r, i) =>
          r.waitFor(() => r.all(isOwnership).length > seen[i]!, 'a partition ownership change', remaining),
        ),
      ).catch(() => undefined);
    }
  };

  try {
    for (let i = 0; i < routerCount; i++) {
      routers.push(
        new ServiceProcess(`router-${i}`, 'services/router/dist/main.js', {
          ...common,
          SWITCHBOARD_ROUTER_ID: `router-${i}`,
          SWITCHBOARD_CLUSTER__LEASE_TTL_MS: String(leaseTtlMs),
          SWITCHBOARD_CLUSTER__HEARTBEAT_MS: String(Math.floor(leaseTtlMs / 5)),
          SWITCHBOARD_CLUSTER__ROUTER_TTL_MS: String(leaseTtlMs),
          SWITCHBOARD_CLUSTER__JANITOR_INTERVAL_MS: '500',
          SWITCHBOARD_CLUSTER__EDGE_TIMEOUT_MS: String(options.edgeTimeoutMs ?? 3000),
        }),
      );
    }
    for (let i = 0; i < edgeCount; i++) {
      edges.push(
        new ServiceProcess(`edge-${i}`, 'services/edge/dist/main.js', {
          ...common,
          SWITCHBOARD_EDGE_ID: `edge-${i}`,
          SWITCHBOARD_HOST: '127.0.0.1',
          SWITCHBOARD_PORTS__STARTTLS: '0',
          SWITCHBOARD_PORTS__DIRECT_TLS: '0',
          SWITCHBOARD_PORTS__HTTP: '0',
          SWITCHBOARD_TLS__KEY_FILE: TLS_KEY,
          SWITCHBOARD_TLS__CERT_FILE: TLS_CERT,
          SWITCHBOARD_DATA_DIR: join(dataDir, `edge-${i}`),
          SWITCHBOARD_SASL__FAKE_SALT_SECRET: FAKE_SALT_SECRET,
          // The failover test sends a thousand stanzas as fast as it can.
          SWITCHBOARD_LIMITS__STANZAS_PER_SECOND: '100000',
          SWITCHBOARD_LIMITS__STANZA_BURST: '100000',
          SWITCHBOARD_LIMITS__BYTES_PER_SECOND: String(64 * 1024 * 1024),
          SWITCHBOARD_LIMITS__BYTES_BURST: String(64 * 1024 * 1024),
        }),
      );
    }
    const started = await Promise.all(
      edges.map((e) => e.waitFor((l) => l.msg === 'edge started', 'edge started')),
    );
    for (const line of started) ports.push(Number(line['tcpPort']));
    await Promise.all(routers.map((r) => r.waitFor((l) => l.msg === 'router started', 'router started')));
    await settled();
    store = createRedisStore({ url: redis.url });
  } catch (error) {
    const report = diagnostics();
    await stop();
    throw new Error(`${(error as Error).message}\n${report}`, { cause: error });
  }

  const accounts = store.accounts;
  const endpointFor = (user: string): Endpoint => {
    const edge = placement.get(user) ?? 0;
    return { edge, host: '127.0.0.1', port: ports[edge]! };
  };

  return {
    kind: 'cluster',
    domain: DOMAIN,
    partitions: DEFAULT_PARTITIONS,
    edges: edgeCount,
    redisUrl: redis.url,
    async createAccount(user, password) {
      await accounts.create(`${user}@${DOMAIN}`, await deriveCredentials(password));
      clients.remember(user, password);
      placement.set(user, placement.size % edgeCount);
    },
    endpointFor,
    connect(user, resource, connectOptions = {}) {
      const endpoint =
        connectOptions.edge === undefined
          ? endpointFor(user)
          : { edge: connectOptions.edge, host: '127.0.0.1', port: ports[connectOptions.edge]! };
      return clients.connect(user, resource, endpoint);
    },
    diagnostics,
    stop,
    killRouter: (i) => routers[i]!.kill(),
    killEdge: (i) => edges[i]!.kill(),
    partitionsOf: (i) => partitionsHeld(routers[i]!, i),
    settled,
    routerLog: (i, test, what, timeoutMs) => routers[i]!.waitFor(test, what, timeoutMs),
    edgeLog: (i, test, what, timeoutMs) => edges[i]!.waitFor(test, what, timeoutMs),
  };
}

function isOwnership(line: LogLine): boolean {
  return line.msg === 'partition ownership changed' || line.msg === 'router started';
}

const byNumber = (a: number, b: number): number => a - b;

function partitionsHeld(router: ServiceProcess, _i: number): number[] {
  const last = router.all(isOwnership).at(-1);
  const held = last?.['held'];
  return Array.isArray(held) ? held.filter((p): p is number => typeof p === 'number') : [];
}
