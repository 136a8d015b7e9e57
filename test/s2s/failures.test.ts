// Outbound failures and the security rules around them, against servers that misbehave on
// purpose: one that hangs, one that offers no STARTTLS, one whose TLS handshake breaks, and a
// peer whose certificate does not name its domain while dialback is switched off. Plus the
// inbound direct TLS listener (XEP-0368).
import { readFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '@switchboard/protocol';
import { Inbox } from '@switchboard/testkit';
import { parseElement, xml } from '@switchboard/xml';
import { negotiate } from '../../services/s2s/src/outbound.js';
import {
  TLS_CERT,
  TLS_KEY,
  chatEnvelope,
  eventually,
  startBlackHole,
  startS2sNode,
  type BlackHole,
  type S2sNode,
} from './harness.js';

const SB = 'sb.example.com';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

/** The bounce's error type and condition, from the envelope the s2s node published for the router. */
function bounceOf(env: Envelope): { type: string | undefined; condition: string | undefined } {
  const error = parseElement(env.xml).getChild('error');
  const condition = error?.children.find((c) => typeof c !== 'string' && c.getNS() === NS_STANZAS);
  return {
    type: error?.attrs['type'],
    condition: typeof condition === 'string' ? undefined : condition?.getName(),
  };
}

/** A TCP server that plays a scripted XMPP server and records every byte it was sent. */
async function scriptedServer(
  onData: (socket: Socket, text: string) => void,
): Promise<{ port: number; received: () => string; close(): Promise<void> }> {
  const chunks: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      chunks.push(text);
      onData(socket, text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received: () => chunks.join(''),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const STREAM_HEADER = (from: string): string =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' ` +
  `from='${from}' id='s1' version='1.0'>`;

describe('s2s outbound failures', () => {
  let hole: BlackHole;
  let noTls: Awaited<ReturnType<typeof scriptedServer>>;
  let brokenTls: Awaited<ReturnType<typeof scriptedServer>>;
  let uncertified: S2sNode;
  let local: S2sNode;

  beforeAll(async () => {
    hole = await startBlackHole();
    // Offers SASL but no STARTTLS: a downgrade a man in the middle could cause.
    noTls = await scriptedServer((socket, text) => {
      if (text.includes('<stream:stream'))
        socket.write(
          `${STREAM_HEADER('plain.example.net')}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` +
            `<mechanism>EXTERNAL</mechanism></mechanisms><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`,
        );
    });
    // Offers STARTTLS, says proceed, then answers the ClientHello with garbage.
    brokenTls = await scriptedServer((socket, text) => {
      if (text.includes('<stream:stream'))
        socket.write(
          `${STREAM_HEADER('broken.example.net')}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>` +
            `<required/></starttls></stream:features>`,
        );
      else if (text.includes('<starttls')) socket.write(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
      else socket.write('this is not TLS\r\n');
    });
    // A real server whose certificate (the test CA's, for *.example.com/net) does not name example.org.
    uncertified = await startS2sNode('peer.example.org');
    local = await startS2sNode(SB, {
      connectTimeoutMs: 1500,
      dialback: { enabled: false, allow: [], deny: [] },
      staticHosts: {
        'hang.example.net': `127.0.0.1:${hole.port}`,
        'plain.example.net': `127.0.0.1:${noTls.port}`,
        'broken.example.net': `127.0.0.1:${brokenTls.port}`,
        'peer.example.org': `127.0.0.1:${uncertified.ports.starttls}`,
      },
    });
  });

  afterAll(async () => {
    await local?.close();
    await uncertified?.close();
    await hole?.close();
    await noTls?.close();
    await brokenTls?.close();
  });

  const bounce = (id: string): Promise<Envelope> =>
    local.received.waitFor((e) => e.stanzaId === id && e.type === 'error', `bounce of ${id}`, 15_000);

  it('bounces with remote-server-timeout (type wait) when the server accepts and never answers', async () => {
    await local.send(chatEnvelope(`alice@${SB}/a`, 'bob@hang.example.net', 't1', 'anyone?'));
    await hole.connections.waitFor(() => true, 'a connection to the hanging server', 10_000);
    const error = await bounce('t1');
    expect(bounceOf(error)).toEqual({ type: 'wait', condition: 'remote-server-timeout' });
    expect(error).toMatchObject({ from: 'bob@hang.example.net', to: `alice@${SB}/a` });
    // Bounced is done with: the entry is acked.
    await eventually(async () => (await local.pending('hang.example.net')) === 0, 'the entry acked');
  });

  it('never sends a stanza in the clear to a server that offers no STARTTLS', async () => {
    await local.send(chatEnvelope(`alice@${SB}/a`, 'bob@plain.example.net', 'p1', 'secret'));
    const error = await bounce('p1');
    expect(bounceOf(error)).toEqual({ type: 'cancel', condition: 'remote-server-not-found' });
    expect(noTls.received()).toContain('<stream:stream');
    expect(noTls.received()).not.toContain('secret');
    expect(noTls.received()).not.toContain('<auth');
    expect(noTls.received()).not.toContain('db:result');
  });

  it('does not fall back to cleartext when the TLS handshake fails', async () => {
    await local.send(chatEnvelope(`alice@${SB}/a`, 'bob@broken.example.net', 'b1', 'secret'));
    const error = await bounce('b1');
    expect(bounceOf(error).condition).toBe('remote-server-not-found');
    expect(brokenTls.received()).toContain('<starttls');
    expect(brokenTls.received()).not.toContain('secret');
    // One stream header: no second, plaintext attempt.
    expect(brokenTls.received().split('<stream:stream').length - 1).toBe(1);
  });

  it('refuses a peer whose certificate does not name it when dialback is disabled', async () => {
    await local.send(chatEnvelope(`alice@${SB}/a`, 'bob@peer.example.org', 'd1', 'hello'));
    const error = await bounce('d1');
    expect(bounceOf(error).condition).toBe('remote-server-not-found');
    expect(uncertified.received.items).toHaveLength(0);
  });

  it('refuses dialback on its inbound streams when dialback is disabled', async () => {
    const context = createSecureContext({ key: await readFile(TLS_KEY), cert: await readFile(TLS_CERT) });
    await expect(
      negotiate({
        target: { host: '127.0.0.1', port: local.ports.starttls, directTls: false },
        local: 'other.example.org',
        remote: SB,
        context,
        secret: 'a-dialback-secret-of-the-peer',
        dialbackAllowed: true,
        mode: 'authenticate',
        signal: AbortSignal.timeout(10_000),
      }),
    ).rejects.toThrow(/refused our dialback key \(error\)/);
  });
});

describe('s2s idle streams', () => {
  let remote: S2sNode;
  let local: S2sNode;
  let proxy: Server;
  const opened = new Inbox<Socket>();
  const closed = new Inbox<Socket>();

  beforeAll(async () => {
    remote = await startS2sNode('idle.example.net');
    // A TCP relay in front of the remote, to see our connections open and close.
    proxy = createServer((socket) => {
      const upstream = connect(remote.ports.starttls, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
      socket.on('close', () => closed.push(socket));
      opened.push(socket);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    local = await startS2sNode(SB, {
      idleTimeoutMs: 300,
      staticHosts: { 'idle.example.net': `127.0.0.1:${(proxy.address() as AddressInfo).port}` },
    });
  });

  afterAll(async () => {
    await local?.close();
    await remote?.close();
    await new Promise<void>((resolve) => proxy?.close(() => resolve()));
  });

  it('closes an outbound stream left idle, and opens a new one for the next stanza', async () => {
    await local.send(chatEnvelope(`alice@${SB}/a`, 'bob@idle.example.net', 'i1', 'first'));
    await remote.received.waitFor((e) => e.stanzaId === 'i1', 'the first message', 10_000);
    const first = await opened.waitFor(() => true, 'the first connection', 10_000);
    await closed.waitFor((s) => s === first, 'the idle stream closed', 10_000);
    await local.send(chatEnvelope(`alice@${SB}/a`, 'bob@idle.example.net', 'i2', 'second'));
    await remote.received.waitFor((e) => e.stanzaId === 'i2', 'the second message', 10_000);
    expect(opened.items).toHaveLength(2);
  });
});

describe('s2s inbound direct TLS (XEP-0368)', () => {
  let node: S2sNode;
  let context: SecureContext;

  beforeAll(async () => {
    node = await startS2sNode(SB);
    context = createSecureContext({ key: await readFile(TLS_KEY), cert: await readFile(TLS_CERT) });
  });

  afterAll(async () => {
    await node?.close();
  });

  it('authenticates a peer with SASL EXTERNAL on the direct TLS port and takes its stanzas', async () => {
    const stream = await negotiate({
      target: { host: '127.0.0.1', port: node.ports.directTls!, directTls: true },
      local: 'peer.example.net',
      remote: SB,
      context,
      secret: 'unused-dialback-secret',
      dialbackAllowed: false,
      mode: 'authenticate',
      signal: AbortSignal.timeout(10_000),
    });
    try {
      expect(stream.method).toBe('external');
      expect(stream.conn.secure).toBe(true);
      expect(stream.conn.tls?.alpnProtocol).toBe('xmpp-server');
      stream.conn.send(
        xml(
          'message',
          { from: 'p@peer.example.net', to: `alice@${SB}`, type: 'chat', id: 'dt1' },
          xml('body', {}, 'direct'),
        ),
      );
      const env = await node.received.waitFor((e) => e.stanzaId === 'dt1', 'the message', 10_000);
      expect(env).toMatchObject({ from: 'p@peer.example.net', to: `alice@${SB}`, kind: 'message' });
    } finally {
      stream.conn.close();
    }
  });
});
