import { createHash, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMechanism, mechanismsFor } from './mechanisms.js';
import { channelBindingsOf, endPointHashName, serverEndPointHash } from './tls-binding.js';
import { accountsOf, contextFor, exchange } from './test/context.js';
import { ScramClient } from './test/scram-client.js';
import type { SaslContext } from './types.js';

interface TlsPair {
  server: TLSSocket;
  client: TLSSocket;
}

let pem: { key: string; cert: string };
let tlsServer: Server;
const pending: ((socket: TLSSocket) => void)[] = [];
const opened: TLSSocket[] = [];

beforeAll(async () => {
  const generated = await generate([{ name: 'commonName', value: 'example.com' }], { keySize: 2048 });
  pem = { key: generated.private, cert: generated.cert };
  tlsServer = createServer({ key: pem.key, cert: pem.cert }, (socket) => {
    opened.push(socket);
    pending.shift()?.(socket);
  });
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
});

afterAll(async () => {
  for (const socket of opened) socket.destroy();
  tlsServer.close();
  await once(tlsServer, 'close');
});

/** A real TLS connection over loopback; both ends, once the handshake is done on each. */
async function tlsPair(maxVersion: 'TLSv1.3' | 'TLSv1.2' = 'TLSv1.3'): Promise<TlsPair> {
  const serverSide = new Promise<TLSSocket>((resolve) => pending.push(resolve));
  const { port } = tlsServer.address() as AddressInfo;
  const client = connect({ host: '127.0.0.1', port, ca: pem.cert, servername: 'example.com', maxVersion });
  opened.push(client);
  await once(client, 'secureConnect');
  return { server: await serverSide, client };
}

/** What the client computes on its own end of the connection. */
const clientExporter = (socket: TLSSocket): Buffer =>
  socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
const clientEndPoint = (socket: TLSSocket): Buffer =>
  createHash('sha256').update(socket.getPeerCertificate().raw).digest();

async function plusContext(pair: TlsPair): Promise<SaslContext> {
  const { channel, bindings } = channelBindingsOf(pair.server);
  return contextFor(await accountsOf({ juliet: 'secret' }), { tls: channel, bindings });
}

describe('channel binding over a real TLS connection', () => {
  it('finds tls-exporter on TLS 1.3 and tls-server-end-point for an RSA-SHA256 certificate', async () => {
    const pair = await tlsPair();
    expect(channelBindingsOf(pair.server).bindings).toEqual([
      'tls-exporter',
      'tls-server-end-point',
      'tls-unique',
    ]);
    const older = await tlsPair('TLSv1.2');
    expect(channelBindingsOf(older.server).bindings).toEqual(['tls-server-end-point', 'tls-unique']);
  });

  it('hashes the server certificate with SHA-256 as RFC 5929 §4.1 prescribes for sha256WithRSAEncryption', () => {
    const der = new X509Certificate(pem.cert).raw;
    expect(endPointHashName(der)).toBe('sha256');
    const fingerprint = new X509Certificate(pem.cert).fingerprint256.replace(/:/g, '').toLowerCase();
    expect(serverEndPointHash(der)?.toString('hex')).toBe(fingerprint);
  });

  it('authenticates SCRAM-SHA-256-PLUS with tls-exporter', async () => {
    const pair = await tlsPair();
    const ctx = await plusContext(pair);
    expect(mechanismsFor({ tls: true, bindings: ctx.bindings })).toContain('SCRAM-SHA-256-PLUS');
    const client = new ScramClient({
      hash: 'sha256',
      username: 'juliet',
      password: 'secret',
      binding: { flag: 'p', type: 'tls-exporter', data: clientExporter(pair.client) },
    });
    const { outcome } = await exchange(createMechanism('SCRAM-SHA-256-PLUS', ctx), client);
    expect(outcome).toMatchObject({ kind: 'success', username: 'juliet' });
    expect(outcome.kind === 'success' && outcome.data !== undefined && client.verifies(outcome.data)).toBe(
      true,
    );
  });

  it('authenticates SCRAM-SHA-1-PLUS with tls-server-end-point', async () => {
    const pair = await tlsPair();
    const client = new ScramClient({
      hash: 'sha1',
      username: 'juliet',
      password: 'secret',
      binding: { flag: 'p', type: 'tls-server-end-point', data: clientEndPoint(pair.client) },
    });
    const { outcome } = await exchange(createMechanism('SCRAM-SHA-1-PLUS', await plusContext(pair)), client);
    expect(outcome).toMatchObject({ kind: 'success', username: 'juliet' });
  });

  it.each(['TLSv1.2', 'TLSv1.3'] as const)(
    'authenticates SCRAM-SHA-256-PLUS with tls-unique as OpenSSL clients compute it (%s)',
    async (version) => {
      const pair = await tlsPair(version);
      // An OpenSSL client (Python's ssl, slixmpp) binds to its own Finished on a full handshake.
      const data = pair.client.getFinished()!;
      expect(data.equals(pair.server.getPeerFinished()!)).toBe(true);
      const client = new ScramClient({
        hash: 'sha256',
        username: 'juliet',
        password: 'secret',
        binding: { flag: 'p', type: 'tls-unique', data },
      });
      const { outcome } = await exchange(
        createMechanism('SCRAM-SHA-256-PLUS', await plusContext(pair)),
        client,
      );
      expect(outcome).toMatchObject({ kind: 'success', username: 'juliet' });
    },
  );

  it('fails when the client bound to another TLS connection (a relaying man in the middle)', async () => {
    const victim = await tlsPair();
    const attacker = await tlsPair();
    const client = new ScramClient({
      hash: 'sha256',
      username: 'juliet',
      password: 'secret',
      binding: { flag: 'p', type: 'tls-exporter', data: clientExporter(victim.client) },
    });
    const { outcome } = await exchange(
      createMechanism('SCRAM-SHA-256-PLUS', await plusContext(attacker)),
      client,
    );
    expect(outcome).toMatchObject({
      kind: 'failure',
      condition: 'not-authorized',
      text: 'channel-bindings-dont-match',
    });
  });

  it("fails the 'y' flag while -PLUS was offered: the client was downgraded (RFC 5802 §6)", async () => {
    const pair = await tlsPair();
    const client = new ScramClient({
      hash: 'sha256',
      username: 'juliet',
      password: 'secret',
      binding: { flag: 'y' },
    });
    const { outcome } = await exchange(createMechanism('SCRAM-SHA-256', await plusContext(pair)), client);
    expect(outcome).toMatchObject({
      kind: 'failure',
      condition: 'not-authorized',
      text: 'server-does-support-channel-binding',
    });
  });

  it("accepts the 'y' flag when the server offered no channel binding", async () => {
    const ctx = contextFor(await accountsOf({ juliet: 'secret' }));
    const client = new ScramClient({
      hash: 'sha256',
      username: 'juliet',
      password: 'secret',
      binding: { flag: 'y' },
    });
    const { outcome } = await exchange(createMechanism('SCRAM-SHA-256', ctx), client);
    expect(outcome).toMatchObject({ kind: 'success', username: 'juliet' });
  });

  it('refuses a binding type that is not offered, and binding on a mechanism without -PLUS', async () => {
    const pair = await tlsPair('TLSv1.2');
    const ctx = await plusContext(pair);
    const unique = new ScramClient({
      hash: 'sha256',
      username: 'juliet',
      password: 'secret',
      binding: { flag: 'p', type: 'tls-exporter', data: Buffer.alloc(32) },
    });
    expect((await exchange(createMechanism('SCRAM-SHA-256-PLUS', ctx), unique)).outcome).toMatchObject({
      condition: 'malformed-request',
      text: 'unsupported-channel-binding-type',
    });
    const plain = new ScramClient({
      hash: 'sha256',
      username: 'juliet',
      password: 'secret',
      binding: { flag: 'p', type: 'tls-server-end-point', data: clientEndPoint(pair.client) },
    });
    expect((await exchange(createMechanism('SCRAM-SHA-256', ctx), plain)).outcome).toMatchObject({
      condition: 'malformed-request',
    });
  });

  it("refuses a -PLUS mechanism used with the 'n' flag", async () => {
    const pair = await tlsPair();
    const client = new ScramClient({ hash: 'sha256', username: 'juliet', password: 'secret' });
    const { outcome } = await exchange(
      createMechanism('SCRAM-SHA-256-PLUS', await plusContext(pair)),
      client,
    );
    expect(outcome).toMatchObject({ kind: 'failure', condition: 'malformed-request' });
  });
});
