import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inbox } from '@switchboard/testkit';
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

describe('slixmpp stream management (XEP-0198)', () => {
  it('enables resumable SM, gets its stanzas acked and counts what the edge delivers', async () => {
    const smScript = fileURLToPath(new URL('./slixmpp-sm.py', import.meta.url));
    const child = spawn('/usr/bin/python3', [
      smScript,
      'romeo@localhost/sm',
      'montague-42',
      String(t.ports.tcpPort),
      CA_FILE,
      'juliet@localhost',
    ]);
    const lines = new Inbox<string>();
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
    const exited = once(child, 'exit');
    try {
      const enabled = await lines.waitFor((l) => l.startsWith('enabled '), 'sm enabled', 20_000);
      expect(enabled.split(' ')[2]).toBe('True');
      // The edge counts two stanzas handled (both messages): h=2 in its <a/>.
      expect(await lines.waitFor((l) => l.startsWith('acked '), 'acks', 20_000)).toBe('acked 2');
      const start = await t.routes.waitFor(
        (e) => e.kind === 'session-start' && e.from === 'romeo@localhost/sm',
        'start',
      );
      for (const body of ['a', 'b', 'bye']) {
        await t.deliver({
          v: 1,
          kind: 'stanza',
          id: `sm-${body}`,
          sessionId: start.sessionId,
          to: 'romeo@localhost/sm',
          xml: `<message xmlns='jabber:client' from='juliet@localhost/x' to='romeo@localhost/sm' type='chat'><body>${body}</body></message>`,
          ts: Date.now(),
        });
      }
      expect(await lines.waitFor((l) => l.startsWith('handled '), 'handled count', 20_000)).toBe('handled 3');
    } finally {
      child.kill();
      await exited;
    }
  });
});
