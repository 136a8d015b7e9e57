import { copyFileSync, mkdirSync } from 'node:fs';
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

/** Prosody's datamanager file name encoding (util/datamanager.lua encode). */
const encode = (s: string): string =>
  s.replace(/[^a-zA-Z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/**
 * Accounts are written as Prosody's own internal_hashed files (hex StoredKey/ServerKey,
 * raw salt) before start, which is what `prosodyctl register` would leave behind.
 */
async function writeAccounts(dataPath: string, users: readonly string[], password: string): Promise<void> {
  const dir = join(dataPath, encode(DOMAIN), 'accounts');
  mkdirSync(dir, { recursive: true });
  const batch = 64;
  for (let i = 0; i < users.length; i += batch) {
    await Promise.all(
      users.slice(i, i + batch).map(async (user) => {
        const salt = `salt-${user}-${Math.random().toString(36).slice(2)}`;
        const c = await deriveScramCredential('sha1', password, SCRAM_ITERATIONS, Buffer.from(salt, 'utf8'));
        const hex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');
        writeFile(
          join(dir, `${encode(user)}.dat`),
          `return {\n\t["iteration_count"] = ${c.iterations};\n\t["salt"] = "${salt}";\n` +
            `\t["stored_key"] = "${hex(c.storedKey)}";\n\t["server_key"] = "${hex(c.serverKey)}";\n};\n`,
        );
      }),
    );
  }
}

/** Mutual subscriptions as mod_roster's internal storage files (what Prosody writes after the handshakes). */
function writeRosterFiles(dataPath: string, users: readonly string[], contacts: number): void {
  if (contacts === 0) return;
  const dir = join(dataPath, encode(DOMAIN), 'roster');
  mkdirSync(dir, { recursive: true });
  users.forEach((user, i) => {
    const items = ringContacts(i, users.length, contacts).map(
      (j) => `\t["${users[j]!}@${DOMAIN}"] = {\n\t\t["subscription"] = "both";\n\t\t["groups"] = {};\n\t};\n`,
    );
    writeFile(
      join(dir, `${encode(user)}.dat`),
      `return {\n\t[false] = {\n\t\t["version"] = 1;\n\t\t["pending"] = {};\n\t};\n${items.join('')}};\n`,
    );
  });
}

export const prosody: PeerSpec = {
  name: 'Prosody',
  async start(options) {
    const bin = which('prosody');
    if (bin === null) return { skipped: 'prosody is not installed (Debian package `prosody`)' };
    const ids = userIds('prosody');
    const version = debianVersion('prosody') ?? 'unknown';
    const dir = tempDir('prosody');
    const port = await freePort();
    const dataPath = join(dir, 'data');
    copyFileSync(TLS_KEY, join(dir, 'server.key'));
    copyFileSync(TLS_CERT, join(dir, 'server.pem'));
    await writeAccounts(dataPath, options.users, options.password);
    writeRosterFiles(dataPath, options.users, options.contacts ?? 0);
    const config = join(dir, 'prosody.cfg.lua');
    writeFile(
      config,
      `-- written by bench/peers/prosody.ts
pidfile = "${dir}/prosody.pid"
data_path = "${dataPath}"
plugin_paths = {}
log = { { levels = { min = "error" }, to = "file", filename = "${dir}/prosody.log" } }
network_settings = { nagle = false }
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = {}
s2s_ports = {}
http_ports = {}
https_ports = {}
admin_socket = "${dir}/prosody.sock"
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping" }
modules_disabled = { "s2s", "offline" }
-- false only for the no-TLS login variant; SCRAM needs no allow_unencrypted_plain_auth (that only
-- lifts insecure_sasl_mechanisms, PLAIN and LOGIN).
c2s_require_encryption = ${options.allowPlaintextAuth === true ? 'false' : 'true'}
authentication = "internal_hashed"
default_iteration_count = ${SCRAM_ITERATIONS}
storage = "internal"
c2s_stanza_size_limit = 262144
limits = {}
ssl = { key = "${dir}/server.key", certificate = "${dir}/server.pem" }
VirtualHost "${DOMAIN}"
`,
    );
    if (ids !== null) chownTree(dir, ids.uid, ids.gid);
    const log = join(dir, 'stdout.log');
    const child = spawnServer(bin, ['--config', config], {
      ...(options.cpu === undefined ? {} : { cpu: options.cpu }),
      ...(ids === null ? {} : { uid: ids.uid, gid: ids.gid }),
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
      log,
    });
    try {
      await waitForPort(port, child, 20_000, log);
    } catch (err) {
      await stopTree(child);
      return { skipped: `prosody did not start: ${err instanceof Error ? err.message : String(err)}` };
    }
    return {
      name: 'Prosody',
      version: `Prosody ${version} (Lua, ${process.platform}, epoll)`,
      target: { host: '127.0.0.1', port, domain: DOMAIN },
      pids: [child.pid!],
      notes:
        `internal_hashed accounts, SCRAM 4096 iterations, ${tlsNote(options)}, TCP_NODELAY (nagle = false), ` +
        'no mod_limits, s2s and offline off, log at error to file',
      async stop() {
        await stopTree(child);
        removeDir(dir);
      },
    };
  },
};
