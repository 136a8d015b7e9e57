import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CA_FILE, startEdge, type TestEdge } from './harness.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('./slixmpp-client.py', import.meta.url));

let t: TestEdge;

beforeAll(async () => {
  t = await startEdge();
  await t.createAccount('romeo', 'montague-42');
});

afterAll(async () => {
  await t.stop();
});

describe('slixmpp (Debian python3-slixmpp)', () => {
  it('logs in over STARTTLS with SCRAM-SHA-256 and its message reaches the bus stamped', async () => {
    const { stdout } = await run(
      '/usr/bin/python3',
      [
        script,
        'romeo@localhost/py',
        'montague-42',
        String(t.ports.tcpPort),
        CA_FILE,
        'juliet@localhost',
        'from python',
      ],
      { timeout: 20_000 },
    );
    expect(stdout).toContain('tls yes');
    expect(stdout).toContain('mechanism SCRAM-SHA-256');
    expect(stdout).toContain('sent');
    const env = await t.routes.waitFor(
      (e) => e.kind === 'message' && e.xml.includes('from python'),
      'the message',
    );
    expect(env).toMatchObject({ from: 'romeo@localhost/py', to: 'juliet@localhost', type: 'chat' });
    await t.routes.waitFor((e) => e.kind === 'session-end' && e.from === 'romeo@localhost/py', 'session-end');
  });
});
