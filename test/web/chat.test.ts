// The bundled web chat (issue 13): Converse.js from its npm package, preconfigured for this server,
// driven in headless Chromium: two people register and chat, and one chats with an @xmpp/client user.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { xml } from '@xmpp/client';
import {
  DOMAIN,
  connectXmpp,
  launchBrowser,
  screenshot,
  startServer,
  type Server,
  type XmppUser,
} from './harness.js';

const UI_TIMEOUT = 30_000;

describe('web chat', () => {
  let server: Server;
  let browser: Browser;
  const clients: XmppUser[] = [];

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    await browser?.close();
    await server?.stop();
  });

  it('serves Converse.js from the package, configured for this server and nothing else', async () => {
    const response = await fetch(`${server.origin}/`);
    expect(response.status).toBe(200);
    const page = await response.text();
    const config = JSON.parse(/converse\.initialize\((\{.*\})\);/.exec(page)?.[1] ?? 'null') as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({
      websocket_url: `ws://localhost:${server.ports.httpPort}/xmpp-websocket`,
      discover_connection_methods: false,
      view_mode: 'fullscreen',
      allow_registration: true,
      registration_domain: DOMAIN,
      default_domain: DOMAIN,
    });
    // Every script and stylesheet comes from this server (no CDN).
    const urls = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) expect(url).toMatch(/^\/converse\//);
    expect(response.headers.get('content-security-policy')).toContain("img-src 'self'");

    const script = await fetch(`${server.origin}/converse/converse.min.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect((await script.text()).length).toBeGreaterThan(100_000);
  });

  it('two people register in the browser and chat; one chats with an @xmpp/client user', async () => {
    await server.createAccount('carol', 'carol-password');
    const alice = await openChat(browser, server);
    const bob = await openChat(browser, server);
    await alice.waitForSelector('#converse-login-jid', { timeout: UI_TIMEOUT });
    await screenshot(alice, 'chat-login');
    await register(alice, 'alice', 'alice-password');
    await register(bob, 'bob', 'bob-password');
    await screenshot(alice, 'chat-logged-in');

    // Alice writes to Carol, who uses an ordinary XMPP client, and gets her answer.
    const carol = await connectXmpp(server, 'carol', 'carol-password');
    clients.push(carol);
    await openConversation(alice, `carol@${DOMAIN}`);
    await say(alice, `carol@${DOMAIN}`, 'Carol, are you there?');
    const received = await carol.next(
      (s) => s.is('message') && s.getChildText('body') === 'Carol, are you there?',
      'the web user’s message',
    );
    expect(received.attrs['from']).toMatch(new RegExp(`^alice@${DOMAIN}/`));
    await carol.xmpp.send(
      xml('message', { to: received.attrs['from'] as string, type: 'chat' }, xml('body', {}, 'Yes, on XMPP')),
    );
    await alice.waitForSelector('.chat-msg__text:has-text("Yes, on XMPP")', { timeout: UI_TIMEOUT });

    // Bob writes to Alice from his browser; she finds him in her contact list and answers.
    await openConversation(bob, `alice@${DOMAIN}`);
    await say(bob, `alice@${DOMAIN}`, 'Hello Alice, from a browser');
    await alice.click(`converse-roster a.open-chat:has-text("bob@${DOMAIN}")`, { timeout: UI_TIMEOUT });
    await alice.waitForSelector('.chat-msg__text:has-text("Hello Alice, from a browser")', {
      timeout: UI_TIMEOUT,
    });
    await say(alice, `bob@${DOMAIN}`, 'Hi Bob, browser to browser');
    await bob.waitForSelector('.chat-msg__text:has-text("Hi Bob, browser to browser")', {
      timeout: UI_TIMEOUT,
    });
    await screenshot(alice, 'chat-conversation');
  }, 120_000);

  it('can be turned off and moved', async () => {
    const other = await startServer({ edge: { web: { chatEnabled: false } } });
    const moved = await startServer({ edge: { web: { chatPath: '/chat/', allowRegistration: false } } });
    try {
      expect((await fetch(`${other.origin}/`)).status).toBe(404);
      expect((await fetch(`${other.origin}/converse/converse.min.js`)).status).toBe(404);
      const page = await (await fetch(`${moved.origin}/chat/`)).text();
      expect(page).toContain('"assets_path":"/chat/converse/"');
      expect(page).toContain('"allow_registration":false');
      expect((await fetch(`${moved.origin}/chat/converse/converse.min.css`)).status).toBe(200);
    } finally {
      await other.stop();
      await moved.stop();
    }
  });
});

async function openChat(browser: Browser, server: Server): Promise<Page> {
  // Each person gets their own context: separate cookies and IndexedDB, as two browsers would.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.origin}/`);
  return page;
}

/** XEP-0077 through Converse's own form; Converse logs in with the new account afterwards. */
async function register(page: Page, user: string, password: string): Promise<void> {
  await page.click('a.register-account', { timeout: UI_TIMEOUT });
  await page.fill('#converse-register input[name=username]', user, { timeout: UI_TIMEOUT });
  await page.fill('#converse-register input[name=password]', password);
  await page.click('#converse-register input[type=submit]');
  // Logged in: the control box shows the account's own name and the roster.
  await page.waitForSelector('converse-roster', { timeout: UI_TIMEOUT });
}

/** Converse's own route for "chat with this JID" (the same a xmpp: link opens). */
async function openConversation(page: Page, jid: string): Promise<void> {
  await page.evaluate((target) => {
    // Runs in the page (the test's own lib has no DOM types).
    (globalThis as unknown as { location: { hash: string } }).location.hash = `#converse/chat?jid=${target}`;
  }, jid);
  await page.waitForSelector(`converse-chat[jid="${jid}"] .chat-textarea`, { timeout: UI_TIMEOUT });
}

async function say(page: Page, jid: string, text: string): Promise<void> {
  const box = page.locator(`converse-chat[jid="${jid}"] .chat-textarea`);
  await box.fill(text, { timeout: UI_TIMEOUT });
  await box.press('Enter');
}
