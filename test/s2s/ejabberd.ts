// ejabberd from Debian as a federating peer: its own config, spool, logs, Erlang node name, cookie
// and distribution port (no EPMD, no system config, no system ports), run as the ejabberd user.
// Its resolver (Erlang inet_res) is pointed at the test's DNS server through an inetrc file in
// its config dir (ejabberdctl exports ERL_INETRC=<config dir>/inetrc), so it finds the other domain by SRV like on the Internet; /etc/hosts is untouched.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support/prosody.js';

const pexec = promisify(execFile);
const EJABBERDCTL = '/usr/sbin/ejabberdctl';

export interface FederatingEjabberdOptions {
  readonly domain: string;
  readonly users: Readonly<Record<string, string>>;
  /** Port of the DNS server on 127.0.0.1 that ejabberd asks for SRV and A records. */
  readonly dnsPort: number;
  readonly keyFile: string;
  readonly certFile: string;
  readonly caFile: string;
  /** Pre-chosen s2s port (the DNS zone must know it before ejabberd starts). */
  readonly s2sPort: number;
}

export interface FederatingEjabberd {
  readonly c2sPort: number;
  readonly s2sPort: number;
  diagnostics(): Promise<string>;
  stop(): Promise<void>;
}

async function ejabberdUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  const id = async (flag: string): Promise<number> =>
    Number((await pexec('id', [flag, 'ejabberd'], { encoding: 'utf8' })).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  if (!(await stat(path)).isDirectory()) return;
  for (const name of await readdir(path)) await chownTree(join(path, name), uid, gid);
}

export async function startFederatingEjabberd(
  options: FederatingEjabberdOptions,
): Promise<FederatingEjabberd> {
  const dir = await mkdtemp(join(tmpdir(), 'ejabberd-s2s-'));
  for (const sub of ['spool', 'logs']) await mkdir(join(dir, sub));
  const [c2sPort, distPort] = [await freePort(), await freePort()];
  await copyFile(options.keyFile, join(dir, 'server.key'));
  await copyFile(options.certFile, join(dir, 'server.pem'));
  await copyFile(options.caFile, join(dir, 'ca.pem'));
  const node = `sbs2s${randomBytes(4).toString('hex')}@localhost`;
  const cookie = randomBytes(12).toString('hex');
  // Erlang's inet configuration: our DNS server only, no resolv.conf, no hosts file.
  await writeFile(
    join(dir, 'inetrc'),
    [
      // resolv_conf first: reading (none) later would reset the nameserver list.
      `{resolv_conf, ""}.`,
      `{hosts_file, ""}.`,
      `{nameserver, {127,0,0,1}, ${options.dnsPort}}.`,
      // The Erlang node names (…@localhost) still resolve, without the system's hosts file.
      `{host, {127,0,0,1}, ["localhost"]}.`,
      `{lookup, [file, dns]}.`,
      '',
    ].join('\n'),
  );
  const ctlConfig = join(dir, 'ejabberdctl.cfg');
  await writeFile(
    ctlConfig,
    [
      `ERLANG_NODE=${node}`,
      `ERL_DIST_PORT=${distPort}`,
      `ERL_OPTIONS="-setcookie ${cookie}"`,
      'EJABBERD_BYPASS_WARNINGS=true',
      '',
    ].join('\n'),
  );
  const config = join(dir, 'ejabberd.yml');
  await writeFile(
    config,
    `# written by test/s2s/ejabberd.ts
hosts:
  - ${options.domain}
loglevel: info
certfiles:
  - "${dir}/server.pem"
  - "${dir}/server.key"
ca_file: "${dir}/ca.pem"
s2s_use_starttls: required
outgoing_s2s_families: [ipv4]
listen:
  -
    port: ${c2sPort}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
  -
    port: ${options.s2sPort}
    ip: "127.0.0.1"
    module: ejabberd_s2s_in
auth_method: [internal]
acl: {}
access_rules:
  local:
    allow: all
  s2s:
    allow: all
s2s_access: s2s
shaper: {}
shaper_rules: {}
modules:
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
  mod_s2s_dialback: {}
`,
  );
  const user = await ejabberdUser();
  if (user !== null) await chownTree(dir, user.uid, user.gid);
  // --config-dir: ejabberdctl sets ERL_INETRC to <config dir>/inetrc itself.
  const ctlArgs = [
    '--config-dir',
    dir,
    '--config',
    config,
    '--ctl-config',
    ctlConfig,
    '--spool',
    join(dir, 'spool'),
    '--logs',
    join(dir, 'logs'),
  ];
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir };
  const ids = user === null ? {} : { uid: user.uid, gid: user.gid };
  const output: string[] = [];
  const child: ChildProcess = spawn(EJABBERDCTL, [...ctlArgs, 'foreground'], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    ...ids,
  });
  // The Erlang VM runs under the script: signal the whole process group we created.
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const killOnExit = (): void => killGroup('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const diagnostics = async (): Promise<string> => {
    const log = await readFile(join(dir, 'logs', 'ejabberd.log'), 'utf8').catch(() => '');
    return `ejabberd output:\n${output.join('')}\nejabberd.log:\n${log}`;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('ejabberd did not start in time')), 60_000);
      const watch = (chunk: Buffer): void => {
        output.push(chunk.toString('utf8'));
        if (output.join('').includes('is started in the node')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', watch);
      child.stderr?.on('data', watch);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`ejabberd exited (${String(code ?? signal)}) before it started`));
      });
    });
    for (const [name, password] of Object.entries(options.users)) {
      await pexec(EJABBERDCTL, [...ctlArgs, 'register', name, options.domain, password], {
        cwd: dir,
        env,
        ...ids,
        timeout: 30_000,
      });
    }
  } catch (error) {
    killGroup('SIGKILL');
    await exited;
    const report = `${(error as { stderr?: string }).stderr ?? ''}${await diagnostics()}`;
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${String(error)}\n${report}`);
  }
  return {
    c2sPort,
    s2sPort: options.s2sPort,
    diagnostics,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        killGroup('SIGTERM');
        const timer = setTimeout(() => killGroup('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      killGroup('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
