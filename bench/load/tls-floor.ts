import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { TLS_CERT, TLS_KEY } from '../peers/peer.js';

const SERVER = fileURLToPath(new URL('./tls-floor-server.ts', import.meta.url));

function rssOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
}

/**
 * RSS per idle connection of a bare Node.js TLS server (STARTTLS-style upgrade, one exchange, no
 * XMPP), measured like the idle scenario: before, and 2 s after the last connection. Anything a
 * Node server keeps per TLS connection sits on top of this.
 */
export async function measureNodeTlsFloor(connections: number, cpu?: number): Promise<number> {
  const args = ['--import', 'tsx', SERVER, TLS_KEY, TLS_CERT];
  const child =
    cpu === undefined
      ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn('taskset', ['-c', String(cpu), process.execPath, ...args], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
  const sockets: TLSSocket[] = [];
  try {
    const port = Number(
      await new Promise<string>((resolve, reject) => {
        child.stdout.once('data', (d: Buffer) => resolve(String(d).trim()));
        child.once('exit', (code) => reject(new Error(`tls floor server exited with ${code}`)));
      }),
    );
    // Let the process settle after start-up before the baseline sample.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const pid = child.pid!;
    const before = rssOf(pid);
    const open = async (): Promise<void> => {
      const raw = netConnect(port, '127.0.0.1');
      await new Promise((resolve, reject) => raw.once('connect', resolve).once('error', reject));
      raw.write('<starttls/>');
      await new Promise((resolve) => raw.once('data', resolve));
      const tls = tlsConnect({ socket: raw, rejectUnauthorized: false });
      await new Promise((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject));
      tls.write('x');
      await new Promise((resolve) => tls.once('data', resolve));
      sockets.push(tls);
    };
    for (let i = 0; i < connections; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, connections - i) }, open));
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return (rssOf(pid) - before) / connections / 1024;
  } finally {
    for (const s of sockets) s.destroy();
    child.kill();
  }
}
