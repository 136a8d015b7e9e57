// The floor under any Node.js XMPP server's idle-connection memory: a bare Node TLS server that
// accepts a plaintext byte, upgrades the socket in place (as STARTTLS does), and answers one read.
// Run by tls-floor.ts in its own process so that its RSS can be read from /proc.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { TLSSocket, createSecureContext } from 'node:tls';

const [keyFile, certFile] = process.argv.slice(2);
if (keyFile === undefined || certFile === undefined) throw new Error('usage: tls-floor-server <key> <cert>');
const secureContext = createSecureContext({ key: readFileSync(keyFile), cert: readFileSync(certFile) });
const sockets: TLSSocket[] = [];
const server = createServer((raw) => {
  raw.setNoDelay(true);
  raw.once('data', () => {
    raw.write('<proceed/>');
    const tls = new TLSSocket(raw, { isServer: true, secureContext });
    tls.on('data', () => tls.write('ok'));
    tls.on('error', () => undefined);
    sockets.push(tls);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
});
