// A real InspIRCd 3 with Atheme services linked to it (both Debian), for what ngircd lacks: SASL
// (InspIRCd's m_sasl relays it to services; Atheme's SaslServ does PLAIN and EXTERNAL/CertFP).
// Free ports, own config and temp dir, in the foreground; ready once Atheme has synched.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface InspircdOptions {
  /** The TLS listener's certificate; clients' certificates are requested (CertFP). */
  readonly tls: { readonly certFile: string; readonly keyFile: string };
}

export interface Inspircd {
  readonly port: number;
  readonly tlsPort: number;
  /** Both daemons' output, for a failed test's report. */
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

interface Daemon {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

function run(command: string, args: string[], cwd: string, collect: (chunk: Buffer) => void): Daemon {
  // In the temp dir: whatever the daemon leaves behind (a core dump on a crash at exit) goes with it.
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited };
}

/** Resolves true once `pattern` shows in the output, false if the daemon exits first. */
function waitFor(daemon: Daemon, output: () => string, pattern: RegExp): Promise<boolean> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (pattern.test(output())) resolve(true);
    };
    daemon.child.stdout?.on('data', check);
    daemon.child.stderr?.on('data', check);
    void daemon.exited.then(() => resolve(false));
    check();
  });
}

export async function startInspircd(options: InspircdOptions): Promise<Inspircd> {
  const dir = await mkdtemp(join(tmpdir(), 'inspircd-'));
  const [port, tlsPort, linkPort] = [await freePort(), await freePort(), await freePort()];
  await writeFile(
    join(dir, 'inspircd.conf'),
    `<server name="irc.test" description="Switchboard test network" network="Test">
<admin name="test" nick="test" email="test@example.com">
<bind address="127.0.0.1" port="${port}" type="clients">
<bind address="127.0.0.1" port="${tlsPort}" type="clients" sslprofile="tls">
<bind address="127.0.0.1" port="${linkPort}" type="servers">
<module name="ssl_gnutls">
<sslprofile name="tls" provider="gnutls" certfile="${options.tls.certFile}" keyfile="${options.tls.keyFile}" requestclientcert="yes" hash="sha256">
<module name="sslinfo">
<module name="cap">
<module name="sasl">
<module name="services_account">
<module name="spanningtree">
<connect name="main" allow="*" localmax="1000" globalmax="1000" limit="1000" maxconnwarn="off" fakelag="off" resolvehostnames="no" useident="no">
<link name="services.test" ipaddr="127.0.0.1" port="${linkPort}" allowmask="127.0.0.1" sendpass="linkpw" recvpass="linkpw">
<uline server="services.test" silent="yes">
<sasl target="services.test">
<pid file="${join(dir, 'inspircd.pid')}">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="${join(dir, 'inspircd.log')}">
`,
  );
  await writeFile(
    join(dir, 'atheme.conf'),
    `${[
      'protocol/inspircd',
      'backend/opensex',
      'crypto/pbkdf2v2',
      'nickserv/main',
      'nickserv/register',
      'nickserv/identify',
      'nickserv/cert',
      'saslserv/main',
      'saslserv/plain',
      'saslserv/external',
    ]
      .map((m) => `loadmodule "modules/${m}";`)
      .join('\n')}
serverinfo {
  name = "services.test"; desc = "Test services"; numeric = "00A"; recontime = 1; netname = "Test";
  hidehostsuffix = "users.test"; adminname = "test"; adminemail = "test@example.com";
  registeremail = "noreply@example.com"; auth = none; maxlogins = 10; maxusers = 10; mdlimit = 30;
  emaillimit = 10; emailtime = 300;
};
uplink "irc.test" { host = "127.0.0.1"; port = ${linkPort}; send_password = "linkpw"; receive_password = "linkpw"; };
nickserv { nick = "NickServ"; user = "NickServ"; host = "services.test"; real = "Nickname Services"; };
saslserv { nick = "SaslServ"; user = "SaslServ"; host = "services.test"; real = "SASL Authentication Agent"; };
general { helpchan = "#help"; secure = no; flood_msgs = 0; flood_time = 10; kline_time = 7; commit_interval = 5; expire = 30; };
logfile "${join(dir, 'atheme.log')}" { error; info; network; };
`,
  );
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  // Root in CI containers: InspIRCd refuses root unless told.
  const ircd = run(
    'inspircd',
    ['--config', join(dir, 'inspircd.conf'), '--nofork', '--runasroot'],
    dir,
    collect,
  );
  let services: Daemon | undefined;
  const stop = async (): Promise<void> => {
    services?.child.kill('SIGTERM');
    ircd.child.kill('SIGTERM');
    await Promise.all([services?.exited, ircd.exited]);
    await rm(dir, { recursive: true, force: true });
  };
  if (await waitFor(ircd, () => output, /InspIRCd is now running/)) {
    const data = join(dir, 'data');
    await mkdir(data);
    services = run(
      'atheme-services',
      ['-n', '-c', join(dir, 'atheme.conf'), '-D', data, '-p', join(dir, 'atheme.pid')],
      dir,
      collect,
    );
    if (await waitFor(services, () => output, /finished synching with uplink/)) {
      return { port, tlsPort, log: () => output, stop };
    }
  }
  await stop();
  throw new Error(`inspircd with atheme did not start:\n${output}`);
}
