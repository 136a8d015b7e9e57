import { afterAll, describe, expect, it } from 'vitest';
import { createConnection } from 'node:net';
import { startRedisServer, type RedisServer } from './redis-server.js';

function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    sock.once('connect', () => sock.write(`${line}\r\n`));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString());
    });
    sock.once('error', reject);
  });
}

describe('startRedisServer', () => {
  const servers: RedisServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.dispose()));
  });

  it('starts a private server on a free port other than 6379', async () => {
    const a = await startRedisServer();
    const b = await startRedisServer();
    servers.push(a, b);
    expect(a.port).not.toBe(6379);
    expect(a.port).not.toBe(b.port);
    expect(await command(a.port, 'PING')).toBe('+PONG\r\n');
    await command(a.port, 'SET k only-in-a');
    expect(await command(b.port, 'GET k')).toBe('$-1\r\n');
  });

  it('keeps data across a restart when append-only is on', async () => {
    const s = await startRedisServer({ appendOnly: true });
    servers.push(s);
    expect(await command(s.port, 'CONFIG GET appendonly')).toBe('*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n');
    expect(await command(s.port, 'CONFIG GET appendfsync')).toBe(
      '*2\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n',
    );
    expect(await command(s.port, 'SET durable yes')).toBe('+OK\r\n');
    await s.kill();
    await s.start();
    expect(await command(s.port, 'GET durable')).toBe('$3\r\nyes\r\n');
  });

  it('loses what was written when killed without append-only (so the AOF cases can fail)', async () => {
    const s = await startRedisServer();
    servers.push(s);
    expect(await command(s.port, 'SET volatile yes')).toBe('+OK\r\n');
    await s.kill();
    await s.start();
    expect(await command(s.port, 'GET volatile')).toBe('$-1\r\n');
  });
});
