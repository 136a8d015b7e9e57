import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import getPort from 'get-port';

export interface RedisServerOptions {
  /** Turn on AOF with `appendfsync always` so a restart loses nothing that was acknowledged. */
  readonly appendOnly?: boolean;
  /** Extra `--key value` arguments for redis-server. */
  readonly args?: readonly string[];
}

/**
 * A private redis-server for one test file: its own free port and temp dir,
 * never the developer's server on 6379 and never FLUSHALL.
 */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Stops the server (SIGTERM) and waits for it to exit; data in `dir` stays. */
  stop(): Promise<void>;
  /** Kills the server (SIGKILL) as a crash would. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and dir. */
  start(): Promise<void>;
  /** Stops the server and removes its dir. */
  dispose(): Promise<void>;
}

const REDIS_BIN = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-redis-'));
  const port = await getPort({ host: '127.0.0.1' });
  let child: ChildProcess | undefined;

  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendOnly === true ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--daemonize',
    'no',
    '--logfile',
    '',
    '--loglevel',
    'warning',
    ...(options.args ?? []),
  ];

  const start = async (): Promise<void> => {
    const proc = spawn(REDIS_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<never>((_, reject) => {
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${String(code)}: ${output}`)));
      proc.once('error', reject);
    });
    await Promise.race([waitForPing(port), exited]);
  };

  const waitExit = (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      proc.removeAllListeners('exit');
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    start,
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    async dispose() {
      await waitExit('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once the server answers PING with PONG (polls the socket, up to 10 s). */
async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ host: '127.0.0.1', port });
      sock.setTimeout(500);
      sock.once('connect', () => sock.write('PING\r\n'));
      sock.once('data', (d) => {
        sock.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      sock.once('error', () => resolve(false));
      sock.once('timeout', () => {
        sock.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
