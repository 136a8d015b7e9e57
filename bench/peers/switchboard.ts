import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEmbeddedStore } from '../../packages/store/src/index.js';
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
  writeFile,
  type PeerSpec,
  tlsNote,
} from './peer.js';
import { provisionAccounts } from './switchboard-accounts.js';

const DOMAIN = 'localhost';
const MAIN = fileURLToPath(new URL('../../services/standalone/dist/main.js', import.meta.url));

/**
 * The embedded single-process Switchboard (edge + router, in-process bus,
 * SQLite store) as `pnpm start` runs it. Accounts go straight into its store
 * before it starts. The per-connection and per-IP limits are raised because
 * every connection of the bench comes from 127.0.0.1; the other peers run
 * without shapers too.
 */
export const switchboard: PeerSpec = {
  name: 'Switchboard',
  async start(options) {
    if (!existsSync(MAIN)) return { skipped: `${MAIN} is missing: run \`pnpm build\` (pnpm bench does)` };
    const dir = tempDir('switchboard');
    const [port, tlsPort, httpPort, opsPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const store = openEmbeddedStore({ path: join(dir, 'switchboard.db') });
    try {
      await provisionAccounts(store, options, DOMAIN);
    } finally {
      await store.close();
    }
    const configFile = join(dir, 'switchboard.json');
    const big = 1_000_000_000;
    writeFile(
      configFile,
      JSON.stringify(
        {
          domains: [DOMAIN],
          dataDir: dir,
          logLevel: 'warn',
          edge: {
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
          },
          ops: { port: opsPort, host: '127.0.0.1' },
          // Like the other servers here (no mod_mam): the message archive off.
          router: { mam: { defaultMode: 'never' } },
          // No file server on a fixed port next to the other servers under test.
          upload: { enabled: false },
        },
        null,
        2,
      ),
    );
    const log = join(dir, 'stdout.log');
    // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of the server, for profile-guided work.
    const profile = process.env.BENCH_CPU_PROF;
    // BENCH_NODE_ARGS: extra Node flags for the server, e.g. `--heapsnapshot-signal=SIGUSR2` for memory work.
    const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const child = spawnServer(
      process.execPath,
      [...extra, ...(profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`]), MAIN],
      {
        ...(options.cpu === undefined ? {} : { cpu: options.cpu }),
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: dir,
          SWITCHBOARD_CONFIG: configFile,
        },
        log,
      },
    );
    try {
      await waitForPort(port, child, 30_000, log);
    } catch (err) {
      await stopTree(child);
      return { skipped: `switchboard did not start: ${err instanceof Error ? err.message : String(err)}` };
    }
    return {
      name: 'Switchboard',
      version: `Switchboard embedded (Node ${process.version})`,
      target: { host: '127.0.0.1', port, domain: DOMAIN },
      pids: [child.pid!],
      notes:
        `embedded mode (in-process bus, SQLite), SCRAM ${SCRAM_ITERATIONS} iterations, ${tlsNote(options)}, ` +
        'per-connection rate limits and per-IP connection cap raised, message archive off (as ejabberd and ' +
        'Prosody run without mod_mam), log level warn',
      async stop() {
        await stopTree(child, 15_000);
        removeDir(dir);
      },
    };
  },
};
