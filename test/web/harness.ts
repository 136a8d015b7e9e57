// Headless Chromium from Debian (/usr/bin/chromium) driven by playwright-core (no browser download),
// against a standalone Switchboard on free ports.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { createLogger } from '@switchboard/kit';
import { build, type Standalone, type StandaloneConfigInput } from '@switchboard/standalone';
import { deriveCredentials } from '@switchboard/store';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TLS_DIR = join(ROOT, 'test/fixtures/tls');
export const DOMAIN = 'localhost';
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
/** Screenshots of every page the tests visit, to look at (issue 13). */
export const ARTIFACTS = process.env['SWITCHBOARD_ARTIFACTS'] ?? join(ROOT, 'artifacts/web');

export interface Server {
  readonly app: Standalone;
  readonly ports: Awaited<ReturnType<Standalone['start']>>;
  /** The page origin a browser uses: plain HTTP on loopback. */
  readonly origin: string;
  readonly dataDir: string;
  createAccount(user: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A standalone on free ports. The browser talks plain HTTP and ws:// on loopback, which the edge
 * counts as encrypted only with `websocket.allowInsecureLoopback` (a development setting): Chromium
 * then needs no certificate exception. TCP clients still get STARTTLS with the test CA's certificate.
 */
export async function startServer(overrides: Partial<StandaloneConfigInput> = {}): Promise<Server> {
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-web-'));
  const app = build(
    {
      domains: [DOMAIN],
      dataDir,
      logLevel: 'warn',
      ...overrides,
      edge: {
        host: '127.0.0.1',
        ports: { starttls: 0, directTls: 0, http: 0 },
        tls: { keyFile: join(TLS_DIR, 'server.key'), certFile: join(TLS_DIR, 'server.pem') },
        websocket: { allowInsecureLoopback: true },
        registration: { perIpPerHour: 1000 },
        ...overrides.edge,
      },
    },
    { logger: createLogger({ service: 'test-web', level: 'warn' }) },
  );
  const ports = await app.start();
  return {
    app,
    ports,
    origin: `http://localhost:${ports.httpPort}`,
    dataDir,
    async createAccount(user, password) {
      // One iteration would do for a test, but the page's SCRAM must match what a real account has.
      await app.store.accounts.create(`${user}@${DOMAIN}`, await deriveCredentials(password));
    },
    async stop() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    // Root in a container has no user namespace for Chromium's sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** An @xmpp/client session on the STARTTLS port, with its incoming stanzas queued. */
export interface XmppUser {
  readonly xmpp: Client;
  readonly jid: string;
  /** Resolves with the first incoming stanza (past or future) that passes `test`. */
  next(test: (s: Element) => boolean, what: string, timeoutMs?: number): Promise<Element>;
  /** Resolves when the stream is closed by the server, with the stream error's condition if any. */
  readonly closed: Promise<string>;
  stop(): Promise<void>;
}

export async function connectXmpp(
  server: Server,
  user: string,
  password: string,
  resource = 'test',
): Promise<XmppUser> {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${server.ports.tcpPort}`,
    domain: DOMAIN,
    username: user,
    password,
    resource,
    // The stream open after STARTTLS may take a while with Chromium busy on a 2-core machine (default 2 s).
    ...({ timeout: 15_000 } as object),
  });
  xmpp.reconnect.stop();
  const seen: Element[] = [];
  const waiters: { test: (s: Element) => boolean; resolve: (s: Element) => void }[] = [];
  xmpp.on('stanza', (s: Element) => {
    const waiter = waiters.find((w) => w.test(s));
    if (waiter === undefined) seen.push(s);
    else {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(s);
    }
  });
  let streamError = '';
  xmpp.on('error', (err: unknown) => {
    const condition = (err as { condition?: unknown }).condition;
    if (typeof condition === 'string') streamError = condition;
  });
  const closed = new Promise<string>((resolve) => {
    xmpp.on('disconnect', () => resolve(streamError));
  });
  await xmpp.start();
  if (!xmpp.socket || !(xmpp as unknown as { isSecure(): boolean }).isSecure()) {
    throw new Error('the test client did not get TLS');
  }
  await xmpp.send(xml('presence'));
  return {
    xmpp,
    jid: xmpp.jid?.toString() ?? `${user}@${DOMAIN}/${resource}`,
    closed,
    next(test, what, timeoutMs = 15_000) {
      const index = seen.findIndex(test);
      if (index >= 0) return Promise.resolve(seen.splice(index, 1)[0]!);
      return new Promise((resolve, reject) => {
        const waiter = {
          test,
          resolve: (s: Element) => {
            clearTimeout(timer);
            resolve(s);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`timed out waiting for ${what}`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    async stop() {
      await xmpp.stop().catch(() => undefined);
    },
  };
}
