import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { deriveScramCredential } from '../../packages/store/src/index.js';
import {
  SCRAM_ITERATIONS,
  TLS_CERT,
  TLS_KEY,
  chownTree,
  debianVersion,
  freePort,
  removeDir,
  spawnServer,
  stopTree,
  tempDir,
  userIds,
  waitForPort,
  which,
  ringContacts,
  writeFile,
  type PeerSpec,
  tlsNote,
} from './peer.js';

const DOMAIN = 'localhost';

/**
 * The accounts as ejabberd_auth_mnesia's `passwd` records holding a #scram{}
 * (p1_xmpp include/scram.hrl; keys and salt base64 as ejabberd stores them).
 * Registering 2,000 users over XEP-0077 takes over a minute because ejabberd
 * derives each SCRAM key in Erlang; writing the records takes a second.
 */
async function writeAccounts(
  path: string,
  users: readonly string[],
  password: string,
  contacts: number,
): Promise<void> {
  const records: string[] = [];
  // mod_roster's #roster{usj, us, jid, name, subscription, ask, groups, askmessage, xs} (mnesia backend).
  users.forEach((user, i) => {
    for (const j of ringContacts(i, users.length, contacts)) {
      const contact = `{<<"${users[j]!}">>,<<"${DOMAIN}">>,<<>>}`;
      records.push(
        `{roster,{<<"${user}">>,<<"${DOMAIN}">>,${contact}},{<<"${user}">>,<<"${DOMAIN}">>},${contact},` +
          '<<>>,both,none,[],<<>>,[]}',
      );
    }
  });
  const batch = 64;
  for (let i = 0; i < users.length; i += batch) {
    const creds = await Promise.all(
      users.slice(i, i + batch).map(() => deriveScramCredential('sha1', password, SCRAM_ITERATIONS)),
    );
    creds.forEach((c, j) => {
      records.push(
        `{passwd,{<<"${users[i + j]!}">>,<<"${DOMAIN}">>},{scram,<<"${c.storedKey}">>,<<"${c.serverKey}">>,` +
          `<<"${c.salt}">>,sha,${c.iterations}}}`,
      );
    });
  }
  writeFile(path, `[${records.join(',\n')}].\n`);
}

/** One hidden Erlang node over the node's own distribution port writes every record into Mnesia. */
async function loadAccounts(
  dir: string,
  node: string,
  cookie: string,
  distPort: number,
  ids: { uid: number; gid: number } | null,
): Promise<void> {
  const script =
    `{ok,[Recs]} = file:consult("${dir}/accounts.eterm"), ` +
    `case rpc:call('${node}', lists, foreach, [fun mnesia:dirty_write/1, Recs]) of ` +
    `ok -> halt(0); Err -> io:format("~p~n", [Err]), halt(1) end.`;
  await new Promise<void>((resolve, reject) => {
    execFile(
      'erl',
      [
        '-sname',
        `sbbenchload${randomBytes(3).toString('hex')}@localhost`,
        '-hidden',
        '-noshell',
        '-setcookie',
        cookie,
        '-start_epmd',
        'false',
        '-erl_epmd_port',
        String(distPort),
        '-dist_listen',
        'false',
        '-eval',
        script,
      ],
      {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
        ...(ids ?? {}),
        timeout: 60_000,
      },
      (err, stdout, stderr) =>
        err === null ? resolve() : reject(new Error(`${err.message} ${stdout} ${stderr}`)),
    );
  });
}

/**
 * ejabberd from Debian, through its own ejabberdctl (which, run as root, drops to
 * the `ejabberd` user) with a config, spool, logs, node name and Erlang
 * distribution port of our own: no EPMD, no system config, no system ports.
 * Accounts are written into its Mnesia before measuring (see writeAccounts).
 */
export const ejabberd: PeerSpec = {
  name: 'ejabberd',
  async start(options) {
    const ctl = which('ejabberdctl');
    if (ctl === null) return { skipped: 'ejabberd is not installed (Debian package `ejabberd`)' };
    const version = debianVersion('ejabberd') ?? 'unknown';
    const ids = userIds('ejabberd');
    const dir = tempDir('ejabberd');
    const [port, distPort] = [await freePort(), await freePort()];
    for (const sub of ['spool', 'logs']) mkdirSync(join(dir, sub));
    copyFileSync(TLS_KEY, join(dir, 'server.key'));
    copyFileSync(TLS_CERT, join(dir, 'server.pem'));
    const node = `sbbench${randomBytes(4).toString('hex')}@localhost`;
    const cookie = randomBytes(12).toString('hex');
    writeFile(
      join(dir, 'ejabberdctl.cfg'),
      [
        `ERLANG_NODE=${node}`,
        `ERL_DIST_PORT=${distPort}`,
        `ERL_OPTIONS="-setcookie ${cookie} +sbwt none +sbwtdcpu none +sbwtdio none"`,
        'EJABBERD_BYPASS_WARNINGS=true',
        '',
      ].join('\n'),
    );
    writeFile(
      join(dir, 'ejabberd.yml'),
      `# written by bench/peers/ejabberd.ts
hosts:
  - ${DOMAIN}
loglevel: warning
hide_sensitive_log_data: true
certfiles:
  - "${dir}/server.pem"
  - "${dir}/server.key"
listen:
  -
    port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    ${options.allowPlaintextAuth === true ? 'starttls: true\n    starttls_required: false' : 'starttls_required: true'}
    max_stanza_size: 262144
    # ejabberd's default accept backlog is 5: 50 logins in flight would be dropped and retried.
    backlog: 1024
    shaper: none
    access: all
auth_method: [internal]
auth_password_format: scram
auth_scram_hash: sha
registration_timeout: infinity
access_rules:
  register:
    allow: all
acl: {}
shaper: {}
shaper_rules: {}
modules:
  mod_register:
    ip_access: all
    access: register
  mod_roster: {}
  mod_disco: {}
  mod_ping: {}
`,
    );
    await writeAccounts(join(dir, 'accounts.eterm'), options.users, options.password, options.contacts ?? 0);
    if (ids !== null) chownTree(dir, ids.uid, ids.gid);
    const log = join(dir, 'stdout.log');
    const child = spawnServer(
      ctl,
      [
        '--config',
        join(dir, 'ejabberd.yml'),
        '--ctl-config',
        join(dir, 'ejabberdctl.cfg'),
        '--spool',
        join(dir, 'spool'),
        '--logs',
        join(dir, 'logs'),
        'foreground',
      ],
      {
        ...(options.cpu === undefined ? {} : { cpu: options.cpu }),
        // As the ejabberd user directly: as root, ejabberdctl would `su`, and PAM would
        // drop the open-files limit to 1024.
        ...(ids === null ? {} : { uid: ids.uid, gid: ids.gid }),
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
        log,
      },
    );
    try {
      await waitForPort(port, child, 60_000, log);
    } catch (err) {
      await stopTree(child);
      return { skipped: `ejabberd did not start: ${err instanceof Error ? err.message : String(err)}` };
    }
    const target = { host: '127.0.0.1', port, domain: DOMAIN };
    try {
      // The client port can open before the auth backend has created its `passwd` table (seen on a
      // loaded machine): retry while mnesia says the table does not exist yet.
      for (let attempt = 0; ; attempt++) {
        try {
          await loadAccounts(dir, node, cookie, distPort, ids);
          break;
        } catch (err) {
          if (attempt >= 30 || !String(err).includes('no_exists')) throw err;
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    } catch (err) {
      await stopTree(child);
      return { skipped: `ejabberd accounts not loaded: ${err instanceof Error ? err.message : String(err)}` };
    }
    return {
      name: 'ejabberd',
      version: `ejabberd ${version}`,
      target,
      pids: [child.pid!],
      notes:
        `internal (Mnesia) auth, SCRAM-SHA-1 ${SCRAM_ITERATIONS} iterations (ejabberd's fixed count), ` +
        `${tlsNote(options)}, accept backlog 1024, shaper none, mod_offline off, loglevel warning, scheduler busy-wait off (+sbwt none) so CPU-s counts work`,
      async stop() {
        await stopTree(child, 15_000);
        removeDir(dir);
      },
    };
  },
};
