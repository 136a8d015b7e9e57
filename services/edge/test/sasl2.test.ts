import { createHmac, randomUUID } from 'node:crypto';
import { client, xml } from '@xmpp/client';
import type { Element as XmppElement } from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Element } from '@switchboard/xml';
import { RawClient, onlineClient, startEdge, type TestEdge } from './harness.js';

const SASL2 = 'urn:xmpp:sasl:2';
const BIND2 = 'urn:xmpp:bind:0';
const SM = 'urn:xmpp:sm:3';
const FAST = 'urn:xmpp:fast:0';
let t: TestEdge;
let n = 0;

beforeAll(async () => {
  t = await startEdge({ sasl2: { enabled: true } });
});
afterAll(async () => {
  await t.stop();
});

async function account(): Promise<string> {
  const user = `s2u${++n}`;
  await t.createAccount(user, 'secret');
  return user;
}

async function connect(): Promise<{ c: RawClient; features: Element }> {
  const c = await RawClient.tls(t.ports.tlsPort);
  c.closed.catch(() => undefined);
  return { c, features: await c.open() };
}

const b64 = (data: string | Buffer): string => Buffer.from(data).toString('base64');
const userAgent = (id: string): string =>
  `<user-agent id='${id}'><software>switchboard-test</software><device>raw</device></user-agent>`;

function outcome(c: RawClient): Promise<Element> {
  return c.next(
    (el) => el.getNS() === SASL2 && ['success', 'failure'].includes(el.getName()),
    'sasl2 outcome',
  );
}

/** HT-SHA-256-NONE initial response (draft-schmaus-kitten-sasl-ht §3.1). */
function htResponse(user: string, token: string): string {
  return b64(
    Buffer.concat([Buffer.from(`${user}\0`), createHmac('sha256', token).update('Initiator').digest()]),
  );
}

describe('XEP-0388 SASL2 with XEP-0386 Bind 2 and XEP-0484 FAST', () => {
  it('advertises SASL2 with inline bind, sm and fast', async () => {
    const { c, features } = await connect();
    const auth = features.getChild('authentication', SASL2);
    expect(auth?.getChildren('mechanism').map((m) => m.getText())).toContain('PLAIN');
    const inline = auth?.getChild('inline');
    const bind = inline?.getChild('bind', BIND2);
    expect(
      bind
        ?.getChild('inline')
        ?.getChildren('feature')
        .map((f) => f.attrs['var']),
    ).toContain(SM);
    expect(inline?.getChild('sm', SM)).toBeDefined();
    expect(inline?.getChild('fast', FAST)?.getChildText('mechanism')).toBe('HT-SHA-256-NONE');
    c.destroy();
  });

  it('logs in, binds, enables resumable SM and issues a token in one round trip; the token logs in and resumes', async () => {
    const user = await account();
    const agent = randomUUID();
    const { c } = await connect();
    c.send(
      `<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${b64(`\0${user}\0secret`)}</initial-response>${userAgent(agent)}` +
        `<bind xmlns='${BIND2}'><tag>phone</tag><enable xmlns='${SM}' resume='true'/></bind>` +
        `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/></authenticate>`,
    );
    const success = await outcome(c);
    expect(success.getName()).toBe('success');
    const jid = `${user}@localhost/phone`;
    expect(success.getChildText('authorization-identifier')).toBe(jid);
    const enabled = success.getChild('bound', BIND2)?.getChild('enabled', SM);
    expect(enabled?.attrs['resume']).toBe('true');
    const token = success.getChild('token', FAST);
    expect(Date.parse(token?.attrs['expiry'] ?? '')).toBeGreaterThan(Date.now());
    const secret = token!.attrs['token']!;
    // No stream restart: features of the bound stream follow at once.
    await c.next((el) => el.getName() === 'features', 'features after success');
    const start = await t.routes.waitFor(
      (e) => e.kind === 'session-start' && e.from === jid,
      'session-start',
    );

    c.send(`<message to='romeo@localhost' type='chat' id='hi'><body>hi</body></message>`);
    await t.routes.waitFor((e) => e.kind === 'message' && e.stanzaId === 'hi' && e.from === jid, 'message');
    c.destroy();
    await c.closed.catch(() => undefined);
    await t.deliver({
      v: 1,
      kind: 'stanza',
      id: randomUUID(),
      sessionId: start.sessionId,
      to: jid,
      xml: `<message xmlns='jabber:client' from='romeo@localhost/x' to='${jid}' type='chat'><body>while away</body></message>`,
      ts: Date.now(),
    });

    // Reconnect: FAST token and inline resumption, one round trip.
    const again = (await connect()).c;
    again.send(
      `<authenticate xmlns='${SASL2}' mechanism='HT-SHA-256-NONE'><initial-response>${htResponse(user, secret)}</initial-response>${userAgent(agent)}` +
        `<resume xmlns='${SM}' previd='${enabled!.attrs['id']!}' h='0'/><fast xmlns='${FAST}'/></authenticate>`,
    );
    const fast = await outcome(again);
    expect(fast.getName()).toBe('success');
    // Mutual authentication: the server proves it knows the token too.
    expect(fast.getChildText('additional-data')).toBe(
      b64(createHmac('sha256', secret).update('Responder').digest()),
    );
    expect(fast.getChildText('authorization-identifier')).toBe(jid);
    expect(fast.getChild('resumed', SM)?.attrs['h']).toBe('1');
    await again.next((el) => el.is('message') && el.getChildText('body') === 'while away', 'queued message');
    expect(t.routes.all.filter((e) => e.kind === 'session-end' && e.sessionId === start.sessionId)).toEqual(
      [],
    );
    again.destroy();
  });

  it('refuses a wrong token, a token of another client, and rotates tokens', async () => {
    const user = await account();
    const agent = randomUUID();
    const login = async (body: string): Promise<Element> => {
      const { c } = await connect();
      c.send(body);
      const result = await outcome(c);
      c.destroy();
      return result;
    };
    const first = await login(
      `<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${b64(`\0${user}\0secret`)}</initial-response>${userAgent(agent)}<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/></authenticate>`,
    );
    const t1 = first.getChild('token', FAST)!.attrs['token']!;
    const withToken = (token: string, agentId = agent, extra = ''): string =>
      `<authenticate xmlns='${SASL2}' mechanism='HT-SHA-256-NONE'><initial-response>${htResponse(user, token)}</initial-response>${userAgent(agentId)}<fast xmlns='${FAST}'/>${extra}</authenticate>`;

    expect((await login(withToken(`${t1}x`))).getChild('not-authorized')).toBeDefined();
    // XEP-0484 §3: a token is bound to the client it was issued to.
    expect((await login(withToken(t1, randomUUID()))).getChild('not-authorized')).toBeDefined();
    // A new token on request; the one it replaces still works until the new one is used.
    const second = await login(
      withToken(t1, agent, `<request-token xmlns='${FAST}' mechanism='HT-SHA-256-NONE'/>`),
    );
    const t2 = second.getChild('token', FAST)!.attrs['token']!;
    expect(t2).not.toBe(t1);
    const viaOld = await login(withToken(t1));
    expect(viaOld.getName()).toBe('success');
    // Using the replaced token rotates again (§5): the oldest is gone now.
    const t3 = viaOld.getChild('token', FAST)!.attrs['token']!;
    expect((await login(withToken(t3))).getName()).toBe('success');
    expect((await login(withToken(t1))).getChild('not-authorized')).toBeDefined();
  });

  it('answers a wrong password with a SASL2 failure', async () => {
    const user = await account();
    const { c } = await connect();
    c.send(
      `<authenticate xmlns='${SASL2}' mechanism='PLAIN'><initial-response>${b64(`\0${user}\0wrong`)}</initial-response></authenticate>`,
    );
    const failure = await outcome(c);
    expect(failure.getName()).toBe('failure');
    expect(failure.getChild('not-authorized')?.getNS()).toBe('urn:ietf:params:xml:ns:xmpp-sasl');
    c.destroy();
  });

  it('@xmpp/client logs in with SASL2 + Bind 2, then reconnects with its FAST token and resumes its session', async () => {
    const user = await account();
    const xmpp = client({
      service: `xmpp://127.0.0.1:${t.ports.tcpPort}`,
      domain: 'localhost',
      username: user,
      password: 'secret',
      resource: 'laptop',
    });
    xmpp.on('error', () => undefined);
    const sent: XmppElement[] = [];
    xmpp.on('send', (el: XmppElement) => sent.push(el));
    const sm = (
      xmpp as unknown as { streamManagement: NodeJS.EventEmitter & { id: string; enabled: boolean } }
    ).streamManagement;
    try {
      await onlineClient(xmpp);
      expect(xmpp.jid?.toString()).toBe(`${user}@localhost/laptop`);
      expect(sm.enabled).toBe(true);
      expect(sm.id).not.toBe('');
      const first = sent.find((el) => el.is('authenticate', SASL2));
      expect(first?.attrs.mechanism).toBe('SCRAM-SHA-1');
      expect(first?.getChild('bind', BIND2)?.getChild('enable', SM)).toBeDefined();
      const start = await t.routes.waitFor(
        (e) => e.kind === 'session-start' && e.from === `${user}@localhost/laptop`,
        'session-start',
      );

      // The TCP connection drops without a closing stream (xmpp.disconnect() would close it
      // cleanly and end the session); the reconnect module brings it back.
      const resumed = new Promise<void>((resolve) => sm.once('resumed', () => resolve()));
      (xmpp as unknown as { socket: { socket: { destroy(): void } } }).socket.socket.destroy();
      await resumed;
      const authenticates = sent.filter((el) => el.is('authenticate', SASL2));
      expect(authenticates).toHaveLength(2);
      expect(authenticates[1]?.attrs.mechanism).toBe('HT-SHA-256-NONE');
      expect(authenticates[1]?.getChild('resume', SM)?.attrs.previd).toBe(sm.id);
      // Still the same session: deliveries reach it.
      const got = new Promise<string>((resolve) =>
        xmpp.on('stanza', (s: XmppElement) => {
          if (s.is('message')) resolve(s.getChildText('body') ?? '');
        }),
      );
      await t.deliver({
        v: 1,
        kind: 'stanza',
        id: randomUUID(),
        sessionId: start.sessionId,
        to: `${user}@localhost/laptop`,
        xml: `<message xmlns='jabber:client' from='romeo@localhost/x' to='${user}@localhost/laptop' type='chat'><body>still you</body></message>`,
        ts: Date.now(),
      });
      expect(await got).toBe('still you');
      await xmpp.send(xml('presence'));
    } finally {
      await xmpp.stop().catch(() => undefined);
    }
  });
});
