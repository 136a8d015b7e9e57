// Prosody 0.12 from Debian (/usr/bin/prosody) as a private XMPP server on free ports: its own config,
// data, pid and log in a temp dir. Used as the XMPP server in front of our components (XEP-0114,
// optionally with Prosody's own MUC) and as a federating peer (s2s on a pre-chosen port, with a
// small plugin that resolves the test's domains to local ports: Prosody has no static host map).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, copyFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CA_FILE, TLS_CERT, TLS_KEY } from './paths.js';

const pexec = promisify(execFile);
export const PROSODY = '/usr/bin/prosody';
export const PROSODYCTL = '/usr/bin/prosodyctl';

export interface ProsodyOptions {
  readonly domain: string;
  readonly users: Readonly<Record<string, string>>;
  /** An external component (XEP-0114) Prosody admits on its component port. */
  readonly component?: { readonly domain: string; readonly secret: string };
  /** A domain for Prosody's built-in MUC component (`Component "conference.localhost" "muc"`). */
  readonly muc?: string;
  /** Federation: s2s on `port` (the peer must know it before Prosody starts), dialback on. */
  readonly s2s?: {
    readonly port: number;
    /** Remote domain → local s2s port (STARTTLS) this Prosody connects to. */
    readonly peers: Readonly<Record<string, number>>;
  };
  /** Modules loaded besides the default set, e.g. "s2s_bidi" (XEP-0288). */
  readonly extraModules?: readonly string[];
}

export interface Prosody {
  readonly c2sPort: number;
  /** The XEP-0114 listener; 0 without `component`. */
  readonly componentPort: number;
  /** The s2s listener; 0 without `s2s`. */
  readonly s2sPort: number;
  /** What Prosody wrote to stdout/stderr, for a failed test's report. */
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

/** Replaces Prosody's SRV/A resolution for the configured names (net.resolvers.service is a shared table). */
const STATIC_S2S_PLUGIN = `-- written by test/support/prosody.ts
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

function federationConfig(dir: string, s2s: NonNullable<ProsodyOptions['s2s']>): string {
  const peers = Object.entries(s2s.peers)
    .map(([domain, port]) => `["${domain}"] = ${port}`)
    .join(', ');
  return `plugin_paths = { "${dir}" }
s2s_ports = { ${s2s.port} }
s2s_direct_tls_ports = {}
static_s2s = { ${peers} }
s2s_require_encryption = true
s2s_secure_auth = false
modules_disabled = { "offline" }
ssl = { key = "${dir}/server.key", certificate = "${dir}/server.pem", cafile = "${dir}/ca.pem" }
`;
}

function localConfig(dir: string, componentPort: number | undefined): string {
  return `s2s_ports = {}
${componentPort === undefined ? '' : `component_interfaces = { "127.0.0.1" }\ncomponent_ports = { ${componentPort} }\n`}modules_disabled = { "s2s", "offline" }
ssl = { key = "${dir}/server.key", certificate = "${dir}/server.pem" }
`;
}

/**
 * Starts Prosody in the foreground and resolves once its c2s listener, and the component and s2s
 * listeners when asked for, are active, as its own log lines say. As root, prosodyctl and prosody
 * run as the `prosody` user (prosodyctl drops to it and refuses a config that user cannot read), so
 * the temp dir is theirs.
 */
export async function startProsody(options: ProsodyOptions): Promise<Prosody> {
  if (!existsSync(PROSODY)) {
    throw new Error(`${PROSODY} is missing: install the Debian package prosody (.ci/run does)`);
  }
  const { s2s, component, muc } = options;
  const dir = await mkdtemp(join(tmpdir(), s2s === undefined ? 'prosody-sms-' : 'prosody-s2s-'));
  const c2sPort = await freePort();
  const componentPort = component === undefined ? undefined : await freePort();
  await copyFile(TLS_KEY, join(dir, 'server.key'));
  await copyFile(TLS_CERT, join(dir, 'server.pem'));
  if (s2s !== undefined) {
    await copyFile(CA_FILE, join(dir, 'ca.pem'));
    await writeFile(join(dir, 'mod_static_s2s.lua'), STATIC_S2S_PLUGIN);
  }
  const modules = [
    'roster',
    'saslauth',
    'tls',
    ...(s2s === undefined ? [] : ['dialback']),
    'disco',
    'ping',
    ...(s2s === undefined ? [] : ['static_s2s']),
    ...(options.extraModules ?? []),
  ];
  const config = join(dir, 'prosody.cfg.lua');
  await writeFile(
    config,
    `-- written by test/support/prosody.ts
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
certificates = "${dir}"
admin_socket = "${dir}/prosody.sock"
log = {
  { levels = { min = "${s2s === undefined ? 'info' : 'debug'}" }, to = "file", filename = "${dir}/prosody.log" };
  { levels = { min = "info" }, to = "console" };
}
interfaces = { "127.0.0.1" }
c2s_ports = { ${c2sPort} }
c2s_direct_tls_ports = {}
legacy_ssl_ports = {}
http_ports = {}
https_ports = {}
modules_enabled = { ${modules.map((m) => `"${m}"`).join(', ')} }
c2s_require_encryption = true
authentication = "internal_hashed"
storage = "internal"
${s2s === undefined ? localConfig(dir, componentPort) : federationConfig(dir, s2s)}
VirtualHost "${options.domain}"
${
  component === undefined
    ? ''
    : `
Component "${component.domain}"
  component_secret = "${component.secret}"
`
}${
      muc === undefined
        ? ''
        : `
Component "${muc}" "muc"
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
    const pending = new Set([`'c2s' on [127.0.0.1]:${c2sPort}`]);
    if (componentPort !== undefined) pending.add(`'component' on [127.0.0.1]:${componentPort}`);
    if (s2s !== undefined) pending.add(`'s2s' on [127.0.0.1]:${s2s.port}`);
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
    componentPort: componentPort ?? 0,
    s2sPort: s2s?.port ?? 0,
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
