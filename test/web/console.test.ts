// The operator console (issue 13) in headless Chromium, on a standalone whose admin HTTP API
// (docs/admin-api.md) is served on its own port, as the ops server serves it after `pnpm start`.
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastify, type FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { xml } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { TestSmsc } from '../../services/sms-gateway/src/providers/test/smsc.js';
import { registerVerified, smscCodes } from '../sms/harness.js';
import {
  DOMAIN,
  connectXmpp,
  launchBrowser,
  screenshot,
  startServer,
  type Server,
  type XmppUser,
} from './harness.js';

const ADMIN_TOKEN = 'console-test-admin-token-0123456789';
const UI_TIMEOUT = 30_000;
const SMS_DOMAIN = 'sms.localhost';
/** SMPP 3.4 §5.1.3 ESME_RSYSERR: the SMSC refuses the first submit, so the job fails. */
const ESME_RSYSERR = 0x08;

describe('operator console', () => {
  let adminHttp: HttpServer;
  let adminApp: FastifyInstance;
  let server: Server;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let smsc: TestSmsc;
  const clients: XmppUser[] = [];

  beforeAll(async () => {
    // The API's URL goes into the edge's config before the standalone exists: take a port first,
    // then hand its requests to the admin API once it is built.
    let route: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
    adminHttp = createServer((req, res) => {
      if (route === null) res.writeHead(503).end();
      else route(req, res);
    });
    await new Promise<void>((resolve) => adminHttp.listen(0, '127.0.0.1', resolve));
    const adminPort = (adminHttp.address() as AddressInfo).port;
    smsc = await TestSmsc.start();
    server = await startServer({
      admin: { token: ADMIN_TOKEN },
      sms: {
        domain: SMS_DOMAIN,
        provider: {
          kind: 'smpp',
          host: '127.0.0.1',
          port: smsc.port,
          systemId: smsc.credentials.systemId,
          password: smsc.credentials.password,
        },
        // One attempt: a refused submit is a failed job at once, for the operator to retry.
        queue: { attempts: 1 },
        http: { port: 0 },
      },
      edge: {
        web: {
          console: {
            adminApiUrl: `http://127.0.0.1:${adminPort}/admin/api/v1`,
            adminToken: ADMIN_TOKEN,
            adminJids: [`root@${DOMAIN}`],
          },
        },
      },
    });
    adminApp = fastify();
    await server.app.admin.register(adminApp);
    await adminApp.ready();
    route = (req, res) => adminApp.routing(req, res);
    await server.createAccount('root', 'root-password');
    browser = await launchBrowser();
    context = await browser.newContext();
    page = await context.newPage();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    await browser?.close();
    await server?.stop();
    await adminApp?.close();
    await new Promise((resolve) => adminHttp?.close(resolve));
    await smsc?.close();
  });

  const consoleUrl = (path = '/'): string => `${server.origin}/console${path}`;

  it('refuses everything before login, and a wrong token', async () => {
    const pageResponse = await fetch(consoleUrl('/users'), { redirect: 'manual' });
    expect(pageResponse.status).toBe(303);
    expect(pageResponse.headers.get('location')).toBe('/console/login');
    const api = await fetch(consoleUrl('/api/users'));
    expect(api.status).toBe(401);
    const create = await fetch(consoleUrl('/api/users'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jid: `mallory@${DOMAIN}`, password: 'x' }),
    });
    expect(create.status).toBe(401);

    await page.goto(consoleUrl('/login'));
    await screenshot(page, 'console-login');
    await page.fill('#token-login input[name=token]', 'not-the-admin-token-at-all');
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/console/login') && r.request().method() === 'POST'),
      page.click('#token-login button[type=submit]'),
    ]);
    expect(refused.status()).toBe(401);
    await expect(page.textContent('#login-error')).resolves.toContain('Wrong token');
    expect((await context.cookies()).map((c) => c.name)).not.toContain('switchboard_console');
  });

  it('logs in with the admin token into a session cookie that is HttpOnly, Secure and SameSite=Strict', async () => {
    await loginWithToken(page, consoleUrl('/login'));
    await page.waitForSelector('table#edges tbody tr', { timeout: UI_TIMEOUT });
    await screenshot(page, 'console-overview');
    const session = (await context.cookies()).find((c) => c.name === 'switchboard_console');
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/console' });
    expect(session?.value).not.toContain(ADMIN_TOKEN);
    await expect(page.textContent('table#routers')).resolves.toContain('standalone');
  });

  it('refuses a state change without the CSRF token, or with a forged one (403)', async () => {
    await page.goto(consoleUrl('/users'));
    const statuses = await page.evaluate(async () => {
      const post = (headers: Record<string, string>) =>
        fetch('/console/api/users', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ jid: 'mallory@localhost', password: 'mallory-password' }),
        }).then((r) => r.status);
      return [await post({}), await post({ 'x-csrf-token': 'forged-token' })];
    });
    expect(statuses).toEqual([403, 403]);
    // With the cookie but from outside the browser, without the page's token: also refused.
    const cookie = (await context.cookies()).find((c) => c.name === 'switchboard_console');
    const outside = await fetch(consoleUrl('/api/sessions/kick'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `switchboard_console=${cookie?.value ?? ''}` },
      body: JSON.stringify({ jid: `root@${DOMAIN}` }),
    });
    expect(outside.status).toBe(403);
    expect(await server.app.store.accounts.get(`mallory@${DOMAIN}`)).toBeNull();
  });

  it('creates an account from the users page; the new user logs in with an XMPP client', async () => {
    await page.goto(consoleUrl('/users'));
    await page.fill('#create-user input[name=jid]', `dave@${DOMAIN}`);
    await page.fill('#create-user input[name=password]', 'dave-password');
    await page.click('#create-user button[type=submit]');
    await page.waitForSelector(`tr[data-user="dave@${DOMAIN}"]`, { timeout: UI_TIMEOUT });
    const dave = await connectXmpp(server, 'dave', 'dave-password', 'laptop');
    clients.push(dave);
    expect(dave.jid).toBe(`dave@${DOMAIN}/laptop`);
  });

  it('shows both sessions of a user and kicks one; that client sees its stream closed', async () => {
    const phone = await connectXmpp(server, 'dave', 'dave-password', 'phone');
    clients.push(phone);
    await page.goto(consoleUrl('/users?query=dave'));
    await page.waitForSelector(`tr[data-session="dave@${DOMAIN}/laptop"]`, { timeout: UI_TIMEOUT });
    await page.waitForSelector(`tr[data-session="dave@${DOMAIN}/phone"]`, { timeout: UI_TIMEOUT });
    await screenshot(page, 'console-users');

    await page.click(`tr[data-session="dave@${DOMAIN}/phone"] button:has-text("Kick")`);
    await expect(phone.closed).resolves.toBe('policy-violation');
    await page.waitForSelector(`tr[data-session="dave@${DOMAIN}/phone"]`, {
      state: 'detached',
      timeout: UI_TIMEOUT,
    });
    await expect(page.textContent('#flash')).resolves.toContain('done');
    // The other session is still there.
    await page.waitForSelector(`tr[data-session="dave@${DOMAIN}/laptop"]`, { timeout: UI_TIMEOUT });
  });

  it('resets a password and deletes an account from the users page', async () => {
    await server.createAccount('erin', 'erin-old-password');
    await page.goto(consoleUrl('/users?query=erin'));
    const row = page.locator(`tr[data-user="erin@${DOMAIN}"]`);
    await row.locator('input[name=password]').fill('erin-new-password', { timeout: UI_TIMEOUT });
    await row.locator('button:has-text("Reset password")').click();
    await page.waitForSelector('#flash.ok', { timeout: UI_TIMEOUT });
    const erin = await connectXmpp(server, 'erin', 'erin-new-password');
    await erin.stop();

    // Deleting asks first (window.confirm); the operator accepts.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator(`tr[data-user="erin@${DOMAIN}"] button:has-text("Delete")`).click();
    await page.waitForSelector(`tr[data-user="erin@${DOMAIN}"]`, { state: 'detached', timeout: UI_TIMEOUT });
    expect(await server.app.store.accounts.get(`erin@${DOMAIN}`)).toBeNull();
  });

  it('lists a failed SMS job and retries it from the SMS page', async () => {
    const sender = await connectXmpp(server, 'dave', 'dave-password', 'sms');
    clients.push(sender);
    const iq = (stanza: Element): Promise<Element> =>
      (
        sender.xmpp as unknown as { iqCaller: { request(el: Element, t?: number): Promise<Element> } }
      ).iqCaller.request(stanza, 15_000);
    // XEP-0077 §3.1: Dave registers his own number with the gateway, then texts a phone.
    // The gateway texts a code to the number (through the test SMSC) before it registers it.
    await registerVerified({ iq }, '+15550009999', smscCodes(smsc), SMS_DOMAIN);
    const before = smsc.submits.length;
    smsc.submitStatuses.push(ESME_RSYSERR);
    await sender.xmpp.send(
      xml(
        'message',
        { to: `+15550001234@${SMS_DOMAIN}`, type: 'chat', id: 'sms-1' },
        xml('body', {}, 'Hello phone'),
      ),
    );
    await smsc.until(() => smsc.submits.length === before + 1);

    await page.goto(consoleUrl('/sms'));
    // The job may still be on its way to "failed" when the page is first drawn: reload until it is listed.
    await page.waitForFunction(
      async () => {
        const response = await fetch('/console/api/sms/jobs?state=failed');
        const body = (await response.json()) as { jobs?: { text?: string }[] };
        return (body.jobs ?? []).some((j) => j.text === 'Hello phone');
      },
      undefined,
      { timeout: UI_TIMEOUT, polling: 250 },
    );
    await page.reload();
    const row = page.locator('table#failed-jobs tbody tr', { hasText: 'Hello phone' });
    await row.waitFor({ timeout: UI_TIMEOUT });
    await expect(page.textContent('#sms-queue [data-queue="failed"]')).resolves.toBe('1');
    // The page lists every registration; the lookup narrows it to one.
    await page.fill('#registration-lookup input[name=registration]', `dave@${DOMAIN}`);
    await page.click('#registration-lookup button[type=submit]');
    await page.waitForSelector('table#sms-registrations td:has-text("+15550009999")', {
      timeout: UI_TIMEOUT,
    });
    await screenshot(page, 'console-sms');

    await row.locator('button:has-text("Retry")').click();
    await smsc.until(() => smsc.submits.length === before + 2);
    expect(smsc.submits[before + 1]?.pdu['destination_addr']).toBe(
      smsc.submits[before]?.pdu['destination_addr'],
    );
    await page.waitForSelector('#flash.ok', { timeout: UI_TIMEOUT });
    // Back in the queue: no longer among the failed jobs.
    await page.waitForSelector('table#failed-jobs tbody tr', { state: 'detached', timeout: UI_TIMEOUT });
  });

  it('renders the IRC, components and metrics pages from the API', async () => {
    await page.goto(consoleUrl('/irc'));
    await page.waitForSelector('main h1:has-text("IRC")', { timeout: UI_TIMEOUT });
    await screenshot(page, 'console-irc');
    await page.goto(consoleUrl('/components'));
    await page.waitForSelector('table#components', { timeout: UI_TIMEOUT });
    await screenshot(page, 'console-components');
    await page.goto(consoleUrl('/metrics'));
    // Two polls drawn: the chart is live, not a still picture.
    await page.waitForFunction(
      () => {
        // Runs in the page (the test's own lib has no DOM types).
        const doc = (
          globalThis as unknown as {
            document: { querySelector(s: string): { getAttribute(n: string): string | null } | null };
          }
        ).document;
        return Number(doc.querySelector('svg[data-chart="sessions"]')?.getAttribute('data-samples')) >= 2;
      },
      undefined,
      { timeout: UI_TIMEOUT },
    );
    await expect(page.textContent('output[data-latest="sessions"]')).resolves.toMatch(/^\d+$/);
    await screenshot(page, 'console-metrics');
  });

  it('logs in with an admin account’s XMPP password, and not with a wrong one or a non-admin account', async () => {
    const other = await browser.newContext();
    try {
      const tab = await other.newPage();
      await tab.goto(consoleUrl('/login'));
      await tab.fill('#account-login input[name=jid]', `dave@${DOMAIN}`);
      await tab.fill('#account-login input[name=password]', 'dave-password');
      await tab.click('#account-login button[type=submit]');
      await expect(tab.textContent('#login-error')).resolves.toContain('Wrong account or password');
      await tab.fill('#account-login input[name=jid]', `root@${DOMAIN}`);
      await tab.fill('#account-login input[name=password]', 'wrong-password');
      await tab.click('#account-login button[type=submit]');
      await expect(tab.textContent('#login-error')).resolves.toContain('Wrong account or password');
      await tab.fill('#account-login input[name=jid]', `root@${DOMAIN}`);
      await tab.fill('#account-login input[name=password]', 'root-password');
      await tab.click('#account-login button[type=submit]');
      await tab.waitForSelector('table#edges', { timeout: UI_TIMEOUT });
      await expect(tab.textContent('header .who')).resolves.toContain(`root@${DOMAIN}`);

      // Logging out drops the session: the console sends the browser back to the login page.
      await tab.click('header button:has-text("Log out")');
      await tab.waitForSelector('#token-login', { timeout: UI_TIMEOUT });
      expect((await other.cookies()).map((c) => c.name)).not.toContain('switchboard_console');
      await tab.goto(consoleUrl('/'));
      await tab.waitForSelector('#token-login', { timeout: UI_TIMEOUT });
    } finally {
      await other.close();
    }
  });
});

async function loginWithToken(page: Page, loginUrl: string): Promise<void> {
  await page.goto(loginUrl);
  await page.fill('#token-login input[name=token]', ADMIN_TOKEN);
  await page.click('#token-login button[type=submit]');
}
