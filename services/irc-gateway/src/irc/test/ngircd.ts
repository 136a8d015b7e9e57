// A real ngircd (Debian) for the gateway's tests: its own config and temp dir, a free port,
// in the foreground (-n); ready once it accepts a connection and greets.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NgircdOptions {
  /** A fixed plain-text port (to restart a server where clients reconnect); a free one by default. */
  readonly port?: number;
  /** Also listen with TLS (ngircd's [SSL] section) on a free port with this certificate. */
  readonly tls?: {
    readonly certFile: string;
    readonly keyFile: string;
    /**
     * DH parameters. Without them ngircd generates 2048-bit ones at every start: 20+ s of CPU on a
     * busy machine, during which it accepts connections but answers none.
     */
    readonly dhFile?: string;
  };
}

export interface Ngircd {
  readonly port: number;
  /** The TLS port, when asked for. */
  readonly tlsPort: number | undefined;
  /** ngircd's own log, for a failed test's report. */
  readonly log: () => string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') return reject(new Error('no port'));
      server.close(() => resolve(address.port));
    });
  });
}

/** True if the server answers a registration attempt with anything at all. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(2000);
    socket.once('connect', () => socket.write('NICK probe\r\nUSER probe 0 * :probe\r\n'));
    socket.once('data', () => {
      socket.end('QUIT\r\n');
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export async function startNgircd(options: NgircdOptions = {}): Promise<Ngircd> {
  const dir = await mkdtemp(join(tmpdir(), 'ngircd-'));
  let output = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = options.port ?? (await freePort());
    const tlsPort = options.tls === undefined ? undefined : await freePort();
    const config = join(dir, 'ngircd.conf');
    await writeFile(
      config,
      [
        '[Global]',
        'Name = irc.test',
        'Info = Switchboard test network',
        // 127.0.0.2 is a name the test certificate does not cover.
        'Listen = 127.0.0.1,127.0.0.2',
        `Ports = ${port}`,
        'MotdPhrase = test',
        'ServerUID = nobody',
        '[Limits]',
        'MaxNickLength = 30',
        'MaxJoins = 50',
        // Every test client comes from 127.0.0.1; ngircd's default allows 5 connections per IP.
        'MaxConnectionsIP = 0',
        '[Options]',
        'PAM = no',
        'Ident = no',
        'DNS = no',
        ...(options.tls === undefined
          ? []
          : [
              '[SSL]',
              `CertFile = ${options.tls.certFile}`,
              `KeyFile = ${options.tls.keyFile}`,
              ...(options.tls.dhFile === undefined ? [] : [`DHFile = ${options.tls.dhFile}`]),
              `Ports = ${tlsPort}`,
            ]),
        '',
      ].join('\n'),
    );
    const child: ChildProcess = spawn('ngircd', ['-n', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer): void => {
      output += chunk.toString();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // ngircd logs "ready" once it listens; connecting then proves it.
    const listening = await new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (/Server "irc\.test" .*ready/.test(output)) resolve(true);
      };
      child.stdout?.on('data', check);
      child.stderr?.on('data', check);
      void exited.then(() => resolve(false));
      check();
    });
    const ready = listening && (await greets(port));
    if (ready) {
      return {
        port,
        tlsPort,
        log: () => output,
        async stop() {
          child.kill('SIGTERM');
          await exited;
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    child.kill('SIGKILL');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`ngircd did not start:\n${output}`);
}
