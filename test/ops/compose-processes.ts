// Services of docker-compose.yml started as local processes with the environment the compose file
// gives them (test/cluster/topology.ts), overriding only what must be local: ports, hosts, Redis URL,
// file paths. Used by the dashboard test (every service's /metrics) and the cluster admin test.
import { join } from 'node:path';
import { ROOT } from '../cluster/haproxy.js';
import { freePort, LineProcess, TLS_CERT, TLS_KEY, type ComposeService } from '../cluster/topology.js';

export interface ServiceProcess {
  readonly name: string;
  readonly process: LineProcess;
  /** Where /metrics, /readyz (and the admin API) are served. */
  readonly opsUrl: string;
  /** The environment it runs with (compose's plus the local overrides). */
  readonly env: Readonly<Record<string, string>>;
}

/** What each compose service runs and which variables hold its ops port; the rest comes from compose. */
const LOCAL: Record<
  string,
  {
    readonly main: string;
    readonly ready: string;
    readonly local: (ops: number) => Promise<Record<string, string>>;
  }
> = {
  router: {
    main: 'services/router/dist/main.js',
    ready: 'router started',
    local: (ops) =>
      Promise.resolve({ SWITCHBOARD_OPS__HOST: '127.0.0.1', SWITCHBOARD_OPS__PORT: String(ops) }),
  },
  edge: {
    main: 'services/edge/dist/main.js',
    ready: 'edge started',
    local: async (ops) => ({
      SWITCHBOARD_HOST: '127.0.0.1',
      SWITCHBOARD_PORTS__STARTTLS: String(await freePort()),
      SWITCHBOARD_PORTS__DIRECT_TLS: String(await freePort()),
      SWITCHBOARD_PORTS__HTTP: String(await freePort()),
      SWITCHBOARD_OPS__HOST: '127.0.0.1',
      SWITCHBOARD_OPS__PORT: String(ops),
      SWITCHBOARD_TLS__KEY_FILE: TLS_KEY,
      SWITCHBOARD_TLS__CERT_FILE: TLS_CERT,
    }),
  },
  'sms-gateway': {
    main: 'services/sms-gateway/dist/main.js',
    ready: 'sms gateway ready',
    local: (ops) =>
      Promise.resolve({ SWITCHBOARD_HTTP__HOST: '127.0.0.1', SWITCHBOARD_HTTP__PORT: String(ops) }),
  },
  muc: {
    main: 'services/muc/dist/main.js',
    ready: 'muc ready',
    local: (ops) =>
      Promise.resolve({ SWITCHBOARD_HTTP__HOST: '127.0.0.1', SWITCHBOARD_HTTP__PORT: String(ops) }),
  },
  'irc-gateway': {
    main: 'services/irc-gateway/dist/main.js',
    ready: 'irc gateway ready',
    local: (ops) =>
      Promise.resolve({ SWITCHBOARD_HTTP__HOST: '127.0.0.1', SWITCHBOARD_HTTP__PORT: String(ops) }),
  },
  s2s: {
    main: 'services/s2s/dist/main.js',
    ready: 's2s ready',
    local: async (ops) => ({
      SWITCHBOARD_HOST: '127.0.0.1',
      SWITCHBOARD_PORTS__STARTTLS: String(await freePort()),
      SWITCHBOARD_PORTS__DIRECT_TLS: String(await freePort()),
      SWITCHBOARD_TLS__KEY_FILE: TLS_KEY,
      SWITCHBOARD_TLS__CERT_FILE: TLS_CERT,
      SWITCHBOARD_OPS__HOST: '127.0.0.1',
      SWITCHBOARD_OPS__PORT: String(ops),
    }),
  },
  upload: {
    main: 'services/upload/dist/main.js',
    ready: 'upload service ready',
    local: async (ops) => ({
      SWITCHBOARD_HTTP__HOST: '127.0.0.1',
      SWITCHBOARD_HTTP__PORT: String(await freePort()),
      SWITCHBOARD_HTTP__KEY_FILE: TLS_KEY,
      SWITCHBOARD_HTTP__CERT_FILE: TLS_CERT,
      SWITCHBOARD_OPS__HOST: '127.0.0.1',
      SWITCHBOARD_OPS__PORT: String(ops),
    }),
  },
};

/** The Node services of the compose file this module knows how to run (`router` covers router-N). */
export const NODE_SERVICES = Object.keys(LOCAL);

/** Starts compose service `service` (its compose definition `compose`) as `name`; resolves once it is ready. */
export async function startComposeService(
  name: string,
  service: string,
  compose: ComposeService,
  redisUrl: string,
  dataDir: string,
  extra: Readonly<Record<string, string>> = {},
): Promise<ServiceProcess> {
  const local = LOCAL[service];
  if (local === undefined) throw new Error(`no local recipe for compose service ${service}`);
  const ops = await freePort();
  const env = {
    ...compose.environment,
    SWITCHBOARD_REDIS_URL: redisUrl,
    // Only where the compose file gives one: the router has no data dir.
    ...('SWITCHBOARD_DATA_DIR' in compose.environment ? { SWITCHBOARD_DATA_DIR: join(dataDir, name) } : {}),
    ...(await local.local(ops)),
    ...extra,
  };
  const child = new LineProcess(name, process.execPath, [join(ROOT, local.main)], env);
  try {
    await child.waitForLog(local.ready, 30_000);
  } catch (error) {
    await child.kill();
    throw new Error(`${String(error)}\n${child.report()}`);
  }
  return { name, process: child, opsUrl: `http://127.0.0.1:${ops}`, env };
}
