// XEP-0363 through `pnpm start`'s standalone: a real @xmpp/client user finds the service through the
// server's disco#items, requests slots over XMPP, and PUTs/GETs the bytes with Node's fetch over HTTPS.
import { randomBytes } from 'node:crypto';
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { standaloneConfigSchema, type Standalone } from '@switchboard/standalone';
import { Inbox } from '../e2e/deployments.js';
import { startStandalone, type TestStandalone } from '../support/standalone.js';

const DOMAIN = 'localhost';
const UPLOAD_DOMAIN = 'upload.localhost';
const MAX_FILE_SIZE = 100_000;
const QUOTA_BYTES = 150_000;
const NS = {
  UPLOAD: 'urn:xmpp:http:upload:0',
  DISCO_INFO: 'http://jabber.org/protocol/disco#info',
  DISCO_ITEMS: 'http://jabber.org/protocol/disco#items',
  STANZAS: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  DATA: 'jabber:x:data',
} as const;

interface User {
  iq(stanza: Element): Promise<Element>;
  stop(): Promise<void>;
}

let iqCounter = 0;

async function login(port: number, user: string): Promise<User> {
  const xmpp: Client = client({
    service: `xmpp://127.0.0.1:${port}`,
    domain: DOMAIN,
    username: user,
    password: `${user}-pass`,
    resource: 'upload-e2e',
  });
  // The library's 2 s stream-open timeout is too tight for a loaded test machine.
  (xmpp as unknown as { timeout: number }).timeout = 15_000;
  xmpp.reconnect.stop();
  const inbox = new Inbox();
  xmpp.on('stanza', (s: Element) => inbox.push(s));
  xmpp.on('error', () => undefined);
  await xmpp.start();
  expect(xmpp.isSecure()).toBe(true);
  return {
    async iq(stanza) {
      const id = `upload-e2e-${++iqCounter}`;
      stanza.attrs['id'] = id;
      await xmpp.send(stanza);
      return inbox.next((s) => s.name === 'iq' && s.attrs['id'] === id, `the answer to iq ${id}`, 15_000);
    },
    stop: () => xmpp.stop().then(() => undefined),
  };
}

function slotRequest(filename: string, size: number, contentType?: string): Element {
  return xml(
    'iq',
    { type: 'get', to: UPLOAD_DOMAIN },
    xml('request', { xmlns: NS.UPLOAD, filename, size: String(size), 'content-type': contentType }),
  );
}

interface GrantedSlot {
  readonly putUrl: string;
  readonly getUrl: string;
  readonly headers: Record<string, string>;
}

function slotOf(answer: Element): GrantedSlot {
  expect(answer.attrs['type']).toBe('result');
  const slot = answer.getChild('slot', NS.UPLOAD)!;
  const put = slot.getChild('put')!;
  const headers: Record<string, string> = {};
  for (const header of put.getChildren('header')) headers[String(header.attrs['name'])] = header.text();
  return { putUrl: String(put.attrs['url']), getUrl: String(slot.getChild('get')!.attrs['url']), headers };
}

/** The URL's host is upload.localhost, which this machine's resolver does not know: dial 127.0.0.1 (the certificate names it too). */
function dialable(url: string): string {
  const parsed = new URL(url);
  expect(parsed.hostname).toBe(UPLOAD_DOMAIN);
  parsed.hostname = '127.0.0.1';
  return parsed.toString();
}

function errorOf(answer: Element): {
  type: string | undefined;
  condition: string | undefined;
  error: Element;
} {
  expect(answer.attrs['type']).toBe('error');
  const error = answer.getChild('error')!;
  const condition = error.children.find(
    (c): c is Element => typeof c !== 'string' && c.attrs['xmlns'] === NS.STANZAS && c.name !== 'text',
  )?.name;
  return { type: String(error.attrs['type']), condition, error };
}

describe('XEP-0363 HTTP File Upload inside the standalone', () => {
  const logs: string[] = [];
  let standalone: TestStandalone;
  let app: Standalone;
  let juliet: User;
  let romeo: User;

  beforeAll(async () => {
    standalone = await startStandalone({
      name: 'upload-e2e',
      service: 'upload-e2e',
      logs,
      drainTimeoutSeconds: 1,
      upload: { maxFileSize: MAX_FILE_SIZE, quota: { bytes: QUOTA_BYTES } },
    });
    app = standalone.app;
    for (const user of ['juliet', 'romeo']) await standalone.createAccount(user, `${user}-pass`);
    [juliet, romeo] = await Promise.all([
      login(standalone.tcpPort, 'juliet'),
      login(standalone.tcpPort, 'romeo'),
    ]);
  });

  afterAll(async () => {
    await Promise.all([juliet, romeo].map((u) => u?.stop().catch(() => undefined)));
    await standalone?.stop();
  });

  afterEach(({ task }) => {
    if (task.result?.state === 'fail') console.error(logs.slice(-50).join(''));
  });

  it('is on by default at upload.<domain> and found through the server disco#items (XEP-0363 §2)', async () => {
    expect(app.upload?.domain).toBe(UPLOAD_DOMAIN);
    expect(standaloneConfigSchema.parse({ upload: { enabled: false } }).upload.enabled).toBe(false);
    const items = await juliet.iq(
      xml('iq', { type: 'get', to: DOMAIN }, xml('query', { xmlns: NS.DISCO_ITEMS })),
    );
    expect(
      items
        .getChild('query')
        ?.getChildren('item')
        .map((i) => String(i.attrs['jid'])),
    ).toContain(UPLOAD_DOMAIN);

    const info = await juliet.iq(
      xml('iq', { type: 'get', to: UPLOAD_DOMAIN }, xml('query', { xmlns: NS.DISCO_INFO })),
    );
    expect(info.attrs['type']).toBe('result');
    const query = info.getChild('query', NS.DISCO_INFO)!;
    expect(query.getChild('identity')?.attrs).toMatchObject({ category: 'store', type: 'file' });
    expect(query.getChildren('feature').map((f) => String(f.attrs['var']))).toContain(NS.UPLOAD);
    const form = query.getChild('x', NS.DATA)!;
    const fields = Object.fromEntries(
      form.getChildren('field').map((f) => [String(f.attrs['var']), f.getChildText('value')]),
    );
    expect(fields).toEqual({ FORM_TYPE: NS.UPLOAD, 'max-file-size': String(MAX_FILE_SIZE) });
  });

  it('grants a slot, takes the PUT with its headers and serves the same bytes back (XEP-0363 §4, §6)', async () => {
    const bytes = randomBytes(40_000);
    const slot = slotOf(
      await juliet.iq(slotRequest('très cool.bin', bytes.length, 'application/octet-stream')),
    );
    expect(slot.putUrl).toMatch(/^https:\/\/upload\.localhost:\d+\/upload\//);
    expect(slot.getUrl).toMatch(
      /^https:\/\/upload\.localhost:\d+\/upload\/[A-Za-z0-9_-]{22}\/tr%C3%A8s%20cool\.bin$/,
    );
    expect(slot.headers['Authorization']).toMatch(/^Bearer /);

    // Before the upload the file does not exist.
    expect((await fetch(dialable(slot.getUrl))).status).toBe(404);
    const put = await fetch(dialable(slot.putUrl), {
      method: 'PUT',
      headers: { ...slot.headers, 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    expect(put.status).toBe(201);
    expect(put.headers.get('access-control-allow-origin')).toBe('*');

    const get = await fetch(dialable(slot.getUrl));
    expect(get.status).toBe(200);
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
    expect(get.headers.get('content-type')).toBe('application/octet-stream');
    expect(get.headers.get('content-length')).toBe(String(bytes.length));
    expect(get.headers.get('content-disposition')).toBe(
      `attachment; filename="tr_s cool.bin"; filename*=UTF-8''tr%C3%A8s%20cool.bin`,
    );
    expect(get.headers.get('x-content-type-options')).toBe('nosniff');
    expect(get.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(get.headers.get('access-control-allow-origin')).toBe('*');

    const head = await fetch(dialable(slot.getUrl), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));

    const range = await fetch(dialable(slot.getUrl), { headers: { Range: 'bytes=100-199' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe(`bytes 100-199/${bytes.length}`);
    expect(Buffer.from(await range.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);

    // A slot takes one upload.
    const again = await fetch(dialable(slot.putUrl), {
      method: 'PUT',
      headers: { ...slot.headers, 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    expect(again.status).toBe(409);
  });

  it('answers a web client CORS preflight (XEP-0363 §7)', async () => {
    const slot = slotOf(await juliet.iq(slotRequest('avatar.png', 10, 'image/png')));
    const preflight = await fetch(dialable(slot.putUrl), {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://webclient.example',
        'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Headers': 'authorization, content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/i);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Content-Type/i);

    // Images are shown inline.
    const put = await fetch(dialable(slot.putUrl), {
      method: 'PUT',
      headers: { ...slot.headers, 'Content-Type': 'image/png' },
      body: Buffer.alloc(10, 1),
    });
    expect(put.status).toBe(201);
    const get = await fetch(dialable(slot.getUrl));
    expect(get.headers.get('content-disposition')).toMatch(/^inline;/);
    expect(get.headers.get('content-type')).toBe('image/png');
  });

  it('refuses a file over the maximum with not-acceptable and file-too-large (XEP-0363 §5)', async () => {
    const answer = await juliet.iq(slotRequest('huge.iso', MAX_FILE_SIZE + 1, 'application/x-iso9660-image'));
    const { type, condition, error } = errorOf(answer);
    expect(type).toBe('modify');
    expect(condition).toBe('not-acceptable');
    expect(error.getChild('file-too-large', NS.UPLOAD)?.getChildText('max-file-size')).toBe(
      String(MAX_FILE_SIZE),
    );
  });

  it('refuses a request without a usable file name or size with bad-request', async () => {
    expect(errorOf(await juliet.iq(slotRequest('../..', 10))).condition).toBe('bad-request');
    expect(errorOf(await juliet.iq(slotRequest('empty.txt', 0))).condition).toBe('bad-request');
  });

  it('refuses PUTs that do not match the slot: tampered token 403, wrong size 413, wrong type 400', async () => {
    const bytes = Buffer.from('a promise of exactly these bytes');
    const slot = slotOf(await juliet.iq(slotRequest('note.txt', bytes.length, 'text/plain')));
    const token = slot.headers['Authorization']!.slice('Bearer '.length);
    const [claims, signature] = token.split('.') as [string, string];
    // Claims rewritten to a bigger size, signature kept.
    const bigger = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(claims, 'base64url').toString()), n: 10 ** 9 }),
    ).toString('base64url');
    const tampered = `${bigger}.${signature}`;
    const url = new URL(dialable(slot.putUrl));
    url.searchParams.set('token', tampered);
    const forged = await fetch(url, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${tampered}`, 'Content-Type': 'text/plain' },
      body: bytes,
    });
    expect(forged.status).toBe(403);

    const noToken = new URL(dialable(slot.putUrl));
    noToken.search = '';
    expect(
      (await fetch(noToken, { method: 'PUT', headers: { 'Content-Type': 'text/plain' }, body: bytes }))
        .status,
    ).toBe(403);

    const tooLong = await fetch(dialable(slot.putUrl), {
      method: 'PUT',
      headers: { ...slot.headers, 'Content-Type': 'text/plain' },
      body: Buffer.concat([bytes, Buffer.from('!')]),
    });
    expect(tooLong.status).toBe(413);

    const wrongType = await fetch(dialable(slot.putUrl), {
      method: 'PUT',
      headers: { ...slot.headers, 'Content-Type': 'text/html' },
      body: bytes,
    });
    expect(wrongType.status).toBe(400);

    // None of that used the slot up.
    const good = await fetch(dialable(slot.putUrl), {
      method: 'PUT',
      headers: { ...slot.headers, 'Content-Type': 'text/plain' },
      body: bytes,
    });
    expect(good.status).toBe(201);
    expect(await (await fetch(dialable(slot.getUrl))).text()).toBe(bytes.toString());
  });

  it('refuses slots past the user quota with resource-constraint, per user (XEP-0363 §5)', async () => {
    const size = 60_000;
    slotOf(await romeo.iq(slotRequest('one.bin', size)));
    slotOf(await romeo.iq(slotRequest('two.bin', size)));
    const { type, condition, error } = errorOf(await romeo.iq(slotRequest('three.bin', size)));
    expect(type).toBe('wait');
    expect(condition).toBe('resource-constraint');
    expect(error.getChildText('text', NS.STANZAS)).toMatch(/quota/i);
    expect(error.getChild('retry', NS.UPLOAD)?.attrs['stamp']).toMatch(/^\d{4}-\d\d-\d\dT/);
    // A smaller file still fits; another user is not affected.
    slotOf(await romeo.iq(slotRequest('small.bin', 1000)));
    slotOf(await juliet.iq(slotRequest('mine.bin', size)));
  });
});
