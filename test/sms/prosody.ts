// Prosody 0.12 from Debian (/usr/bin/prosody) as a private XMPP server on free ports, for
// interoperability tests of components: its own config, data, pid and log in a temp dir.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { chown, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TLS_CERT, TLS_KEY } from './harness.js';

const pexec = promisify(execFile);
export const PROSODY = '/usr/bin/prosody';
export const PROSODYCTL = '/usr/bin/prosodyctl';

export interface ProsodyOptions {
  readonly domain: string;
  readonly component: { readonly domain: string; readonly secret: string };
  readonly users: Readonly<Record<string, string>>;
  /** A domain for Prosody's built-in MUC component (`Component "conference.localhost" "muc"`). */
  readonly muc?: string;
}

export interface Prosody {
  readonly c2sPort: number;
  readonly componentPort: number;
  /** What Prosody wrote to stdout/stderr and its log file, for a failed test's report. */
  diagnostics(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The `prosody` system user Debian's package creates, when this process may switch to it. */
async function prosodyUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  const id = async (flag: string): Promise<number> =>
    Number((await pexec('id', [flag, 'prosody'], { encoding: 'utf8' })).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  if (!(await stat(path)).isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), uid, gid);
}

/**
 * Starts Prosody in the foreground and resolves once both the c2s and the component listener are
 * active, as its own log lines say. As root, prosodyctl and prosody run as the `prosody` user
 * (prosodyctl drops to it and refuses a config that user cannot read), so the temp dir is theirs.
 */
export async function startProsody(options: ProsodyOptions): Promise<Prosody> {
  if (!existsSync(PROSODY)) {
    throw new Error(`${PROSODY} is missing: install the Debian package prosody (.ci/run does)`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'prosody-sms-'));
  const [c2sPort, componentPort] = [await freePort(), await freePort()];
  copyFileSync(TLS_KEY, join(dir, 'server.key'));
  copyFileSync(TLS_CERT, join(dir, 'server.pem'));
  const config = join(dir, 'prosody.cfg.lua');
  await writeFile(
    config,
    `-- written by test/sms/prosody.ts
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
certificates = "${dir}"
admin_socket = "${dir}/prosody.sock"
log = {
  { levels = { min = "info" }, to = "file", filename = "${dir}/prosody.log" };
  { levels = { min = "info" }, to = "console" };
}
interfaces = { "127.0.0.1" }
c2s_ports = { ${c2sPort} }
c2s_direct_tls_ports = {}
legacy_ssl_ports = {}
s2s_ports = {}
http_ports = {}
https_ports = {}
component_interfaces = { "127.0.0.1" }
component_ports = { ${componentPort} }
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping" }
modules_disabled = { "s2s", "offline" }
c2s_require_encryption = true
authentication = "internal_hashed"
storage = "internal"
ssl = { key = "${dir}/server.key", certificate = "${dir}/server.pem" }

VirtualHost "${options.domain}"

Component "${options.component.domain}"
  component_secret = "${options.component.secret}"
${
  options.muc === undefined
    ? ''
    : `
Component "${options.muc}" "muc"
  restrict_room_creation = false
`
}`,
  );
  const user = await prosodyUser();
  if (user !== null) await chownTree(dir, user.uid, user.gid);
  for (const [name, password] of Object.entries(options.users)) {
    await pexec(PROSODYCTL, ['--config', config, 'register', name, options.domain, password], { cwd: dir });
  }

  const output: string[] = [];
  // -F: foreground (Prosody 0.12 deprecates `daemonize` in the config for it).
  const child: ChildProcess = spawn(PROSODY, ['--config', config, '-F'], {
    cwd: dir,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user === null ? {} : { uid: user.uid, gid: user.gid }),
  });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const diagnostics = (): string => `prosody output:\n${output.join('')}`;

  await new Promise<void>((resolve, reject) => {
    const pending = new Set([
      `'c2s' on [127.0.0.1]:${c2sPort}`,
      `'component' on [127.0.0.1]:${componentPort}`,
    ]);
    const timer = setTimeout(
      () => reject(new Error(`Prosody did not start in time\n${diagnostics()}`)),
      15_000,
    );
    const onData = (chunk: Buffer): void => {
      output.push(chunk.toString('utf8'));
      const text = output.join('');
      for (const service of pending)
        if (text.includes(`Activated service ${service}`)) pending.delete(service);
      if (pending.size === 0) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Prosody exited (${String(code ?? signal)}) before listening\n${diagnostics()}`));
    });
  });

  return {
    c2sPort,
    componentPort,
    diagnostics,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
