// Prosody 0.12 from Debian as a federating peer on private ports: its own config, data and log in a
// temp dir, s2s on a free port, and a small plugin that resolves the test's domains to local ports
// (Prosody has no static host map; the plugin answers its SRV/A resolver for the listed names).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chown, copyFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const pexec = promisify(execFile);
const PROSODY = '/usr/bin/prosody';
const PROSODYCTL = '/usr/bin/prosodyctl';

export interface FederatingProsodyOptions {
  readonly domain: string;
  readonly users: Readonly<Record<string, string>>;
  /** Remote domain → local s2s port (STARTTLS) this Prosody connects to. */
  readonly peers: Readonly<Record<string, number>>;
  readonly keyFile: string;
  readonly certFile: string;
  /** CA Prosody trusts for peer certificates. */
  readonly caFile: string;
  /** Pre-chosen s2s port (the peer must know it before Prosody starts). */
  readonly s2sPort: number;
  /** Modules loaded besides the default set, e.g. "s2s_bidi" (XEP-0288). */
  readonly extraModules?: readonly string[];
}

export interface FederatingProsody {
  readonly c2sPort: number;
  readonly s2sPort: number;
  diagnostics(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

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

/** Replaces Prosody's SRV/A resolution for the configured names (net.resolvers.service is a shared table). */
const STATIC_S2S_PLUGIN = `-- written by test/s2s/prosody.ts
local service = require "net.resolvers.service";
local manual = require "net.resolvers.manual";
local static = module:get_option("static_s2s", {});
if not service.switchboard_static then
  service.switchboard_static = true;
  local original = service.new;
  service.new = function(hostname, svc, conn_type, extra)
    local port = static[hostname];
    if port == nil then return original(hostname, svc, conn_type, extra); end
    if svc == "xmpps-server" then return manual.new({}, conn_type, extra); end
    return manual.new({ { "tcp4", "127.0.0.1", port, extra } }, conn_type, extra);
  end
end
`;

export async function startFederatingProsody(options: FederatingProsodyOptions): Promise<FederatingProsody> {
  const dir = await mkdtemp(join(tmpdir(), 'prosody-s2s-'));
  const c2sPort = await freePort();
  await copyFile(options.keyFile, join(dir, 'server.key'));
  await copyFile(options.certFile, join(dir, 'server.pem'));
  await copyFile(options.caFile, join(dir, 'ca.pem'));
  await writeFile(join(dir, 'mod_static_s2s.lua'), STATIC_S2S_PLUGIN);
  const peers = Object.entries(options.peers)
    .map(([domain, port]) => `["${domain}"] = ${port}`)
    .join(', ');
  const config = join(dir, 'prosody.cfg.lua');
  await writeFile(
    config,
    `-- written by test/s2s/prosody.ts
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
plugin_paths = { "${dir}" }
certificates = "${dir}"
admin_socket = "${dir}/prosody.sock"
log = {
  { levels = { min = "debug" }, to = "file", filename = "${dir}/prosody.log" };
  { levels = { min = "info" }, to = "console" };
}
interfaces = { "127.0.0.1" }
c2s_ports = { ${c2sPort} }
s2s_ports = { ${options.s2sPort} }
c2s_direct_tls_ports = {}
s2s_direct_tls_ports = {}
legacy_ssl_ports = {}
http_ports = {}
https_ports = {}
modules_enabled = { "roster", "saslauth", "tls", "dialback", "disco", "ping", "static_s2s"${(options.extraModules ?? []).map((m) => `, "${m}"`).join('')} }
modules_disabled = { "offline" }
static_s2s = { ${peers} }
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = false
authentication = "internal_hashed"
storage = "internal"
ssl = { key = "${dir}/server.key", certificate = "${dir}/server.pem", cafile = "${dir}/ca.pem" }

VirtualHost "${options.domain}"
`,
  );
  const user = await prosodyUser();
  if (user !== null) await chownTree(dir, user.uid, user.gid);
  for (const [name, password] of Object.entries(options.users)) {
    await pexec(PROSODYCTL, ['--config', config, 'register', name, options.domain, password], { cwd: dir });
  }
  const output: string[] = [];
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
    const pending = new Set([`'c2s' on [127.0.0.1]:${c2sPort}`, `'s2s' on [127.0.0.1]:${options.s2sPort}`]);
    const timer = setTimeout(
      () => reject(new Error(`Prosody did not start in time\n${diagnostics()}`)),
      15_000,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      output.push(chunk.toString('utf8'));
      const text = output.join('');
      for (const service of pending)
        if (text.includes(`Activated service ${service}`)) pending.delete(service);
      if (pending.size === 0) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Prosody exited (${String(code ?? signal)}) before listening\n${diagnostics()}`));
    });
  });
  return {
    c2sPort,
    s2sPort: options.s2sPort,
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
