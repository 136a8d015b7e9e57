import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { client, xml, type Client } from '@xmpp/client';
import type { Element as XmppElement } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@switchboard/kit';
import { build, type Standalone } from '../src/app.js';
import { runCli } from '../src/commands.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/tls/', import.meta.url));

/** Collects a client's stanzas and resolves waiters as matching ones arrive (no polling, no sleeps). */
class Inbox {
  private readonly seen: XmppElement[] = [];
  private waiters: { test: (s: XmppElement) => boolean; resolve: (s: XmppElement) => void }[] = [];

  constructor(xmpp: Client) {
    xmpp.on('stanza', (s: XmppElement) => {
      this.seen.push(s);
      this.waiters = this.waiters.filter((w) => (w.test(s) ? (w.resolve(s), false) : true));
    });
  }

  next(test: (s: XmppElement) => boolean, what: string, timeoutMs = 5000): Promise<XmppElement> {
    const found = this.seen.find(test);
    if (found) {
      this.seen.splice(this.seen.indexOf(found), 1);
      return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        test,
        resolve: (s) => {
          clearTimeout(timer);
          this.seen.splice(this.seen.indexOf(s), 1);
          resolve(s);
        },
      });
    });
  }
}

/** XEP-0199 ping to the server; resolves with the result, so everything sent before it was processed. */
function ping(xmpp: Client): Promise<unknown> {
  const caller = (xmpp as unknown as { iqCaller: { request(el: XmppElement): Promise<XmppElement> } })
    .iqCaller;
  return caller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
}

describe('standalone (pnpm start): edge + router on the in-process bus and the embedded store', () => {
  let dataDir: string;
  let app: Standalone;
  let port: number;
  const clients: Client[] = [];

  const start = async (): Promise<void> => {
    app = build(
      {
        dataDir,
        edge: {
          host: '127.0.0.1',
          ports: { starttls: 0, directTls: 0, http: 0 },
          tls: { keyFile: join(fixtures, 'server.key'), certFile: join(fixtures, 'server.pem') },
          sasl: { fakeSaltSecret: 'standalone-test-fake-salt-secret' },
        },
      },
      { logger: createLogger({ service: 'standalone-test', level: 'silent' }) },
    );
    port = (await app.start()).tcpPort;
  };

  const login = async (
    username: string,
    password: string,
    resource: string,
  ): Promise<{ xmpp: Client; inbox: Inbox }> => {
    const xmpp = client({
      service: `xmpp://127.0.0.1:${port}`,
      domain: 'localhost',
      username,
      password,
      resource,
    });
    xmpp.on('error', () => undefined);
    const inbox = new Inbox(xmpp);
    clients.push(xmpp);
    await xmpp.start();
    expect((xmpp as unknown as { isSecure(): boolean }).isSecure()).toBe(true);
    return { xmpp, inbox };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'standalone-test-'));
    await start();
    const out: string[] = [];
    for (const user of ['juliet', 'romeo']) {
      await runCli(
        ['user', 'add', `${user}@localhost`, '--password', `${user}-secret`],
        app.store,
        (l) => out.push(l),
        () => {
          throw new Error('no prompt expected');
        },
      );
    }
    expect(out).toEqual(['created juliet@localhost', 'created romeo@localhost']);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('delivers a chat message between two logged-in clients (RFC 6121 §5.1)', async () => {
    const juliet = await login('juliet', 'juliet-secret', 'balcony');
    const romeo = await login('romeo', 'romeo-secret', 'orchard');
    await juliet.xmpp.send(xml('presence'));
    await romeo.xmpp.send(xml('presence'));
    await juliet.xmpp.send(
      xml(
        'message',
        { to: 'romeo@localhost', type: 'chat', id: 'ktx72v49' },
        xml('body', {}, 'Art thou not Romeo, and a Montague?'),
      ),
    );
    const got = await romeo.inbox.next(
      (s) => s.is('message') && s.attrs.id === 'ktx72v49',
      'the chat message',
    );
    expect(got.attrs.from).toBe('juliet@localhost/balcony');
    expect(got.getChildText('body')).toBe('Art thou not Romeo, and a Montague?');
    await romeo.xmpp.stop();
    await juliet.xmpp.stop();
  });

  it('stores a message for an offline user and delivers it with a delay stamp after initial presence (XEP-0160, XEP-0203)', async () => {
    const juliet = await login('juliet', 'juliet-secret', 'balcony');
    await juliet.xmpp.send(xml('presence'));
    await juliet.xmpp.send(
      xml(
        'message',
        { to: 'romeo@localhost', type: 'chat', id: 'offline-1' },
        xml('body', {}, 'Wherefore art thou?'),
      ),
    );
    // The router acknowledges by storing; a ping round-trip after the message proves it was processed in order.
    await ping(juliet.xmpp);
    const romeo = await login('romeo', 'romeo-secret', 'orchard');
    await romeo.xmpp.send(xml('presence'));
    const got = await romeo.inbox.next(
      (s) => s.is('message') && s.attrs.id === 'offline-1',
      'the offline message',
    );
    expect(got.getChildText('body')).toBe('Wherefore art thou?');
    expect(got.getChild('delay', 'urn:xmpp:delay')?.attrs.from).toBe('localhost');
    await romeo.xmpp.stop();
    await juliet.xmpp.stop();
  });

  it('keeps accounts across a restart of the process (embedded store under dataDir)', async () => {
    await app.close();
    await start();
    const romeo = await login('romeo', 'romeo-secret', 'again');
    await romeo.xmpp.stop();
  });

  it('refuses a wrong password with not-authorized', async () => {
    const xmpp = client({
      service: `xmpp://127.0.0.1:${port}`,
      domain: 'localhost',
      username: 'romeo',
      password: 'wrong',
    });
    xmpp.on('error', () => undefined);
    await expect(xmpp.start()).rejects.toMatchObject({ condition: 'not-authorized' });
    await xmpp.stop().catch(() => undefined);
  });
});
