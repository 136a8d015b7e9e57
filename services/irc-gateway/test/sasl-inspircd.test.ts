// SASL towards a real IRC network from Debian: InspIRCd 3 relays SASL to Atheme services, which
// check a PLAIN password or, for EXTERNAL, the fingerprint of the TLS client certificate (CertFP).
// An account is registered through NickServ by a plain IRC client; the gateway's users then log
// in to it, one with the per-user PLAIN settings, one with the per-server client certificate.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@switchboard/kit';
import { xml, type Element } from '@switchboard/xml';
import { build, type IrcGatewayApp } from '../src/app.js';
import { ircGatewaySettingsSchema, toIrcGatewayConfig } from '../src/config.js';
import { IrcPeer } from '../src/irc/test/irc-peer.js';
import { startInspircd, type Inspircd } from '../src/irc/test/inspircd.js';
import type { Memberships } from '../src/persistence/memberships.js';
import { openSqliteMemberships } from '../src/persistence/sqlite.js';
import type { Transport } from '../src/transports/index.js';

const TLS_DIR = join(import.meta.dirname, '../../../test/fixtures/tls');
const CERT_FILE = join(TLS_DIR, 'server.pem');
const KEY_FILE = join(TLS_DIR, 'server.key');
const NS_MUC = 'http://jabber.org/protocol/muc';

describe('SASL PLAIN and EXTERNAL against InspIRCd with Atheme services', () => {
  let network: Inspircd;
  let memberships: Memberships;
  let app: IrcGatewayApp;
  let mercutio: IrcPeer;
  let deliver: (el: Element) => Promise<void> = () => Promise.resolve();

  beforeAll(async () => {
    network = await startInspircd({ tls: { certFile: CERT_FILE, keyFile: KEY_FILE } });
    memberships = openSqliteMemberships({ path: ':memory:' });
    const transport: Transport = {
      start: (onStanza) => {
        deliver = (el) => onStanza(el, { id: String(Math.random()) });
        return Promise.resolve();
      },
      send: () => Promise.resolve(),
      stop: () => Promise.resolve(),
    };
    const settings = ircGatewaySettingsSchema.parse({
      domain: 'irc.localhost',
      servers: {
        '127.0.0.1': { port: network.port, tls: false },
        localhost: {
          port: network.tlsPort,
          tls: true,
          clientCertificate: { certFile: CERT_FILE, keyFile: KEY_FILE },
        },
      },
    });
    app = build(toIrcGatewayConfig(settings), {
      transport,
      memberships,
      logger: createLogger({ service: 'irc-sasl-inspircd', level: 'silent' }),
    });
    await app.start();

    // The account, with the certificate's fingerprint on it (Atheme NickServ REGISTER, CERT ADD).
    mercutio = await IrcPeer.connect(network.port, 'mercutio');
    const fingerprint = new X509Certificate(readFileSync(CERT_FILE)).fingerprint256
      .replaceAll(':', '')
      .toLowerCase();
    mercutio.raw('PRIVMSG NickServ :REGISTER queen-mab mercutio@example.com');
    mercutio.raw(`PRIVMSG NickServ :CERT ADD ${fingerprint}`);
    await mercutio.next('notice', (e) => e.nick === 'NickServ' && e.message.includes('Added fingerprint'));
    mercutio.raw('JOIN #verona');
    await mercutio.next('userlist');
  }, 60_000);

  afterAll(async () => {
    await mercutio?.quit();
    await app?.stop();
    await memberships?.close();
    await network?.stop();
  });

  it('logs one user in with SASL PLAIN and another with SASL EXTERNAL (the client certificate)', async () => {
    await memberships.putSettings('juliet@localhost', '127.0.0.1', {
      saslUsername: 'mercutio',
      saslPassword: 'queen-mab',
    });
    await deliver(
      xml(
        'presence',
        { from: 'juliet@localhost/balcony', to: '#verona%127.0.0.1@irc.localhost/jules' },
        xml('x', { xmlns: NS_MUC }),
      ),
    );
    await deliver(
      xml(
        'presence',
        { from: 'romeo@localhost/garden', to: '#verona%localhost@irc.localhost/romeo' },
        xml('x', { xmlns: NS_MUC }),
      ),
    );
    await mercutio.next('join', (e) => e.nick === 'jules');
    await mercutio.next('join', (e) => e.nick === 'romeo');
    // RPL_WHOISACCOUNT (330) names the account each connection is logged in as.
    mercutio.raw('WHOIS jules');
    mercutio.raw('WHOIS romeo');
    expect((await mercutio.next('whois', (e) => e.nick === 'jules')).account).toBe('mercutio');
    expect((await mercutio.next('whois', (e) => e.nick === 'romeo')).account).toBe('mercutio');
  });
});
