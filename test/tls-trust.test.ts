import { readFileSync } from 'node:fs';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';

const dir = new URL('./fixtures/tls/', import.meta.url);

describe('test TLS fixtures', () => {
  it('are trusted by a plain tls.connect in the test workers (NODE_EXTRA_CA_CERTS)', async () => {
    const server = createServer(
      { key: readFileSync(new URL('server.key', dir)), cert: readFileSync(new URL('server.pem', dir)) },
      (s) => s.end('ok'),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'localhost' });
    await once(socket, 'secureConnect');
    expect(socket.authorized).toBe(true);
    socket.destroy();
    server.close();
  });
});
