// The docker-compose topology without Docker: the services of docker-compose.yml as local
// processes (redis-server, haproxy, edges, routers), each given the environment the compose file
// gives it, with only what must be local (ports, hosts, URLs, file paths) overridden.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { WatchedProcess } from '../support/processes.js';
import { localHaproxyValues, renderHaproxyConfig, ROOT, type EdgeAddress } from './haproxy.js';

const pexec = promisify(execFile);

export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
export const ENV_EXAMPLE = join(ROOT, '.env.example');
export const TLS_KEY = join(ROOT, 'test/fixtures/tls/server.key');
export const TLS_CERT = join(ROOT, 'test/fixtures/tls/server.pem');

export interface ComposeService {
  readonly environment: Readonly<Record<string, string>>;
  readonly command: readonly string[];
}

/**
 * The services as docker-compose itself resolves them (`config`: anchors merged, `${VAR}`
 * interpolated from .env.example), so the test reads what a deployment would run.
 */
export async function composeServices(): Promise<Record<string, ComposeService>> {
  const { stdout } = await pexec('docker-compose', ['--env-file', ENV_EXAMPLE, '-f', COMPOSE_FILE, 'config']);
  const doc = parse(stdout) as { services?: Record<string, { environment?: unknown; command?: unknown }> };
  const out: Record<string, ComposeService> = {};
  for (const [name, service] of Object.entries(doc.services ?? {})) {
    const env = service.environment;
    const environment: Record<string, string> = {};
    if (env !== null && typeof env === 'object' && !Array.isArray(env)) {
      for (const [k, v] of Object.entries(env)) environment[k] = String(v);
    }
    const command = Array.isArray(service.command) ? service.command.map(String) : [];
    out[name] = { environment, command };
  }
  return out;
}

/** A free TCP port on 127.0.0.1, for a process the test starts next (haproxy needs them up front). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** A child process whose output lines (stdout and stderr, and a last one saying how it exited) can be awaited. */
export class LineProcess extends WatchedProcess<string> {
  /** Every non-blank output line, in order. */
  get lines(): readonly string[] {
    return this.items;
  }

  protected onLine(line: string): void {
    this.accept(line);
  }

  protected onExit(note: string): void {
    this.accept(note);
  }

  /** A pino JSON log line with this `msg`. */
  waitForLog(msg: string, timeoutMs?: number): Promise<string> {
    return this.waitFor((line) => jsonMsg(line) === msg, `log "${msg}"`, timeoutMs);
  }

  report(): string {
    return `--- ${this.name} (${this.alive ? 'running' : this.exitNote}), last lines:\n${this.lines.slice(-80).join('\n')}`;
  }
}

function jsonMsg(line: string): unknown {
  if (!line.startsWith('{')) return undefined;
  try {
    return (JSON.parse(line) as { msg?: unknown }).msg;
  } catch {
    return undefined;
  }
}

export interface LocalEdge extends EdgeAddress {
  readonly process: LineProcess;
}

/** The ports one edge will listen on, chosen before it starts so haproxy can list it. */
export async function edgeAddress(name: string): Promise<EdgeAddress> {
  return {
    name,
    host: '127.0.0.1',
    starttls: await freePort(),
    directTls: await freePort(),
    http: await freePort(),
    ops: await freePort(),
  };
}

/** Starts the compose `edge` service at `address`; resolves once it serves. */
export async function startEdge(
  compose: ComposeService,
  address: EdgeAddress,
  redisUrl: string,
  dataDir: string,
): Promise<LocalEdge> {
  const process_ = new LineProcess(
    address.name,
    process.execPath,
    [join(ROOT, 'services/edge/dist/main.js')],
    {
      ...compose.environment,
      SWITCHBOARD_REDIS_URL: redisUrl,
      SWITCHBOARD_HOST: address.host,
      SWITCHBOARD_PORTS__STARTTLS: String(address.starttls),
      SWITCHBOARD_PORTS__DIRECT_TLS: String(address.directTls),
      SWITCHBOARD_PORTS__HTTP: String(address.http),
      SWITCHBOARD_OPS__HOST: address.host,
      SWITCHBOARD_OPS__PORT: String(address.ops),
      SWITCHBOARD_TLS__KEY_FILE: TLS_KEY,
      SWITCHBOARD_TLS__CERT_FILE: TLS_CERT,
      SWITCHBOARD_DATA_DIR: join(dataDir, address.name),
    },
  );
  await process_.waitForLog('edge started');
  return { ...address, process: process_ };
}

/** Starts a compose router service; resolves once it holds its leases. */
export async function startRouter(
  name: string,
  compose: ComposeService,
  redisUrl: string,
): Promise<LineProcess> {
  const router = new LineProcess(name, process.execPath, [join(ROOT, 'services/router/dist/main.js')], {
    ...compose.environment,
    SWITCHBOARD_REDIS_URL: redisUrl,
    SWITCHBOARD_OPS__HOST: '127.0.0.1',
    SWITCHBOARD_OPS__PORT: String(await freePort()),
  });
  await router.waitForLog('router started');
  return router;
}

export interface LocalHaproxy {
  readonly process: LineProcess;
  readonly xmppPort: number;
  readonly configFile: string;
  /** Resolves once haproxy reports `server` of the XMPP backend in `state`. */
  serverState(server: string, state: 'UP' | 'DOWN', timeoutMs?: number): Promise<string>;
}

/**
 * haproxy (Debian's) in the foreground with the shipped template rendered for `edges`, among them
 * `notYetStarted`, which is not listening yet; resolves once haproxy has marked that one DOWN.
 */
export async function startHaproxy(
  edges: readonly EdgeAddress[],
  notYetStarted: string,
  dir: string,
): Promise<LocalHaproxy> {
  const ports = {
    xmpp: await freePort(),
    xmpps: await freePort(),
    http: await freePort(),
    monitor: await freePort(),
  };
  const configFile = join(dir, 'haproxy.cfg');
  await writeFile(configFile, renderHaproxyConfig(localHaproxyValues(edges, ports)));
  const haproxy = new LineProcess('haproxy', 'haproxy', ['-f', configFile, '-db'], {});
  // haproxy says nothing once its ports are bound; its first health-check verdict comes after
  // that, and a listed edge not started yet gives one at once.
  const serverState = (server: string, state: 'UP' | 'DOWN', timeoutMs = 10_000): Promise<string> =>
    haproxy.waitFor(
      (line) => line.includes(`Server edges_xmpp/${server} is ${state}`),
      `edges_xmpp/${server} ${state}`,
      timeoutMs,
    );
  await serverState(notYetStarted, 'DOWN');
  return {
    process: haproxy,
    xmppPort: ports.xmpp,
    configFile,
    serverState,
  };
}

/** A private directory for one run's data and generated haproxy.cfg. */
export async function runDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'switchboard-topology-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
