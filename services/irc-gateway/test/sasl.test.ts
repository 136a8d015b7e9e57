// SASL PLAIN and EXTERNAL towards IRC (IRCv3 sasl-3.1) and the after-connect commands set through
// the ad-hoc command. ngircd has no SASL (and InspIRCd only relays it to a services daemon), so
// the IRC side is a scripted IRCv3 server speaking the exchange of
// https://ircv3.net/specs/extensions/sasl-3.1, over real TLS for EXTERNAL; the gateway runs with
// its real IRC library.
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@switchboard/kit';
import { xml, type Element } from '@switchboard/xml';
import { build, type IrcGatewayApp } from '../src/app.js';
import { ircGatewaySettingsSchema, toIrcGatewayConfig } from '../src/config.js';
import type { Memberships } from '../src/persistence/memberships.js';
import { openSqliteMemberships } from '../src/persistence/sqlite.js';
import type { Transport } from '../src/transports/index.js';

const TLS_DIR = join(import.meta.dirname, '../../../test/fixtures/tls');
const CERT_FILE = join(TLS_DIR, 'server.pem');
const KEY_FILE = join(TLS_DIR, 'server.key');

describe('SASL PLAIN and EXTERNAL and after-connect commands towards IRC', () => {
  const lines: string[] = [];
  const lineWaiters: { test: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const sent: Element[] = [];
  let server: Server;
  let port: number;
  let tlsServer: TlsServer;
  let tlsPort: number;
  /** SHA-256 fingerprints of the client certificates presented at AUTHENTICATE + (EXTERNAL). */
  const presented: string[] = [];
  let memberships: Memberships;
  let app: IrcGatewayApp;
  let deliver: (el: Element) => Promise<void> = () => Promise.resolve();

  const nextLine = (test: (l: string) => boolean): Promise<string> => {
    const found = lines.find(test);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => lineWaiters.push({ test, resolve }));
  };

  /** The server side of registration with SASL, then enough of JOIN for a room. */
  function script(socket: Socket): void {
    let buffer = '';
    let nick = '*';
    const send = (line: string): void => void socket.write(`${line}\r\n`);
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let end: number;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        lines.push(line);
        for (const waiter of lineWaiters.filter((w) => w.test(line))) {
          lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
        const [command, ...params] = line.split(' ');
        if (command === 'CAP' && params[0] === 'LS') send(':irc.test CAP * LS :sasl=PLAIN,EXTERNAL');
        else if (command === 'AUTHENTICATE' && params[0] === 'EXTERNAL') send('AUTHENTICATE +');
        else if (command === 'AUTHENTICATE' && params[0] === '+' && 'getPeerCertificate' in socket) {
          // The account is the one the client certificate is registered to (CertFP).
          const fingerprint = (socket as TLSSocket).getPeerCertificate().fingerprint256;
          presented.push(fingerprint);
          send(`:irc.test 900 ${nick} ${nick}!u@h certuser :You are now logged in as certuser`);
          send(`:irc.test 903 ${nick} :SASL authentication successful`);
        } else if (command === 'CAP' && params[0] === 'REQ')
          send(`:irc.test CAP * ACK ${params.slice(1).join(' ')}`);
        else if (command === 'NICK') nick = params[0]!;
        else if (command === 'AUTHENTICATE' && params[0] === 'PLAIN') send('AUTHENTICATE +');
        else if (command === 'AUTHENTICATE') {
          send(`:irc.test 900 ${nick} ${nick}!u@h juliet :You are now logged in as juliet`);
          send(`:irc.test 903 ${nick} :SASL authentication successful`);
        } else if (command === 'CAP' && params[0] === 'END') {
          send(`:irc.test 001 ${nick} :Welcome`);
          send(`:irc.test 005 ${nick} PREFIX=(ov)@+ CHANTYPES=# :are supported`);
          send(`:irc.test 376 ${nick} :End of MOTD`);
        } else if (command === 'JOIN') {
          send(`:${nick}!u@h JOIN ${params[0]}`);
          send(`:irc.test 353 ${nick} = ${params[0]} :${nick} @chanserv`);
          send(`:irc.test 366 ${nick} ${params[0]} :End of NAMES`);
        }
      }
    });
    socket.on('error', () => undefined);
  }

  beforeAll(async () => {
    server = createServer(script);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
    tlsServer = createTlsServer(
      {
        cert: readFileSync(CERT_FILE),
        key: readFileSync(KEY_FILE),
        // CertFP: any certificate is taken, its fingerprint names the account.
        requestCert: true,
        rejectUnauthorized: false,
      },
      script,
    );
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    tlsPort = (tlsServer.address() as { port: number }).port;
    memberships = openSqliteMemberships({ path: ':memory:' });
    const transport: Transport = {
      start: (onStanza) => {
        deliver = (el) => onStanza(el, { id: String(sent.length) });
        return Promise.resolve();
      },
      send: (el) => {
        sent.push(el);
        return Promise.resolve();
      },
      stop: () => Promise.resolve(),
    };
    const settings = ircGatewaySettingsSchema.parse({
      domain: 'irc.localhost',
      servers: {
        '127.0.0.1': { port, tls: false },
        localhost: {
          port: tlsPort,
          tls: true,
          clientCertificate: { certFile: CERT_FILE, keyFile: KEY_FILE },
        },
      },
    });
    app = build(toIrcGatewayConfig(settings), {
      transport,
      memberships,
      logger: createLogger({ service: 'irc-sasl', level: 'silent' }),
    });
    await app.start();
  });

  afterAll(async () => {
    await app?.stop();
    await memberships?.close();
    server?.close();
    tlsServer?.close();
  });

  it('authenticates with the configured SASL PLAIN credentials, then sends the after-connect commands', async () => {
    await memberships.putSettings('juliet@localhost', '127.0.0.1', {
      saslUsername: 'juliet',
      saslPassword: 'pa ss:word',
      afterConnect: ['PRIVMSG NickServ :IDENTIFY secret', 'MODE jules +i'],
    });
    await deliver(
      xml(
        'presence',
        { from: 'juliet@localhost/balcony', to: '#verona%127.0.0.1@irc.localhost/jules' },
        xml('x', { xmlns: 'http://jabber.org/protocol/muc' }),
      ),
    );
    const auth = await nextLine((l) => l.startsWith('AUTHENTICATE ') && l !== 'AUTHENTICATE PLAIN');
    // RFC 4616: authzid NUL authcid NUL password.
    expect(Buffer.from(auth.slice('AUTHENTICATE '.length), 'base64').toString()).toBe(
      'juliet\0juliet\0pa ss:word',
    );
    await nextLine((l) => l === 'PRIVMSG NickServ :IDENTIFY secret');
    await nextLine((l) => l === 'MODE jules +i');
    await nextLine((l) => l === 'JOIN #verona');
    // The after-connect commands precede the JOIN.
    expect(lines.indexOf('PRIVMSG NickServ :IDENTIFY secret')).toBeLessThan(lines.indexOf('JOIN #verona'));
    expect(lines.indexOf('CAP REQ :sasl') >= 0 || lines.some((l) => /^CAP REQ :.*sasl/.test(l))).toBe(true);
  });

  it('presents the configured client certificate over TLS and logs in with SASL EXTERNAL', async () => {
    await deliver(
      xml(
        'presence',
        { from: 'romeo@localhost/garden', to: '#capulet%localhost@irc.localhost/romeo' },
        xml('x', { xmlns: 'http://jabber.org/protocol/muc' }),
      ),
    );
    await nextLine((l) => l === 'AUTHENTICATE EXTERNAL');
    // sasl-3.1: EXTERNAL sends an empty response, the identity is the certificate.
    await nextLine((l) => l === 'AUTHENTICATE +');
    // Registered after it: the JOIN goes out.
    await nextLine((l) => l === 'JOIN #capulet');
    expect(presented).toEqual([new X509Certificate(readFileSync(CERT_FILE)).fingerprint256]);
  });
});
