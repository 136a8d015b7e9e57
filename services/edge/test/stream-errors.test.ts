import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NS } from '@switchboard/xml';
import { RawClient, STREAM_HEADER, startEdge, type TestEdge } from './harness.js';

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const TLS = 'urn:ietf:params:xml:ns:xmpp-tls';

let t: TestEdge;

beforeAll(async () => {
  t = await startEdge({
    limits: { maxStanzaBytes: 4096, maxDepth: 8, stanzasPerSecond: 5, stanzaBurst: 10 },
  });
  await t.createAccount('juliet', 'romeo-oh-romeo');
});

afterAll(async () => {
  await t.stop();
});

async function expectStreamError(client: RawClient, condition: string): Promise<void> {
  const error = await client.streamError();
  expect(error.condition).toBe(condition);
  await client.closed;
}

describe('stream setup (RFC 6120 §4, §5)', () => {
  it('offers only STARTTLS, marked required, on the plain TCP port', async () => {
    const c = await RawClient.tcp(t.ports.tcpPort);
    const features = await c.open();
    expect(features.getChild('starttls', TLS)?.getChild('required')).toBeDefined();
    expect(features.getChild('mechanisms', SASL)).toBeUndefined();
    c.destroy();
  });

  it('refuses a plaintext PLAIN attempt before TLS with encryption-required', async () => {
    const c = await RawClient.tcp(t.ports.tcpPort);
    await c.open();
    c.send(
      `<auth xmlns='${SASL}' mechanism='PLAIN'>${Buffer.from('\0juliet\0romeo-oh-romeo').toString('base64')}</auth>`,
    );
    const failure = await c.next((el) => el.is('failure', SASL), 'sasl failure');
    expect(failure.getChild('encryption-required')).toBeDefined();
    expect(c.secure).toBe(false);
    c.destroy();
  });

  it('offers SCRAM with channel binding after STARTTLS, and registration', async () => {
    const c = await RawClient.tcp(t.ports.tcpPort);
    await c.open();
    await c.starttls();
    const features = await c.open();
    expect(c.secure).toBe(true);
    const mechanisms = features
      .getChild('mechanisms', SASL)
      ?.getChildren('mechanism')
      .map((m) => m.getText());
    expect(mechanisms).toEqual([
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-1-PLUS',
      'SCRAM-SHA-256',
      'SCRAM-SHA-1',
      'PLAIN',
    ]);
    expect(
      features.getChild('sasl-channel-binding', 'urn:xmpp:sasl-cb:0')?.getChildren('channel-binding').length,
    ).toBeGreaterThan(0);
    expect(features.getChild('register', 'http://jabber.org/features/iq-register')).toBeDefined();
    expect(features.getChild('starttls', TLS)).toBeUndefined();
    c.destroy();
  });

  it('answers a stream to a domain it does not serve with host-unknown', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    c.send(STREAM_HEADER('elsewhere.example'));
    await expectStreamError(c, 'host-unknown');
  });

  it('answers a pre-1.0 stream (no version) with unsupported-version', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    c.send(
      `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS.STREAMS}' to='localhost'>`,
    );
    await expectStreamError(c, 'unsupported-version');
  });

  it('answers a wrong content namespace with invalid-namespace', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    c.send(
      `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAMS}' to='localhost' version='1.0'>`,
    );
    await expectStreamError(c, 'invalid-namespace');
  });

  it('closes on malformed XML with not-well-formed', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.open();
    c.send('<message><body>unclosed</message>');
    await expectStreamError(c, 'not-well-formed');
  });

  it('closes on an entity-expansion payload with restricted-xml (RFC 6120 §11.1)', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    c.send(
      `<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>` +
        `<stream:stream xmlns='jabber:client' xmlns:stream='${NS.STREAMS}' to='localhost' version='1.0'>`,
    );
    await expectStreamError(c, 'restricted-xml');
  });

  it('closes on a stanza before authentication with not-authorized', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.open();
    c.send(`<message to='romeo@localhost'><body>hi</body></message>`);
    await expectStreamError(c, 'not-authorized');
  });

  it('closes the stream after too many failed logins', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.open();
    const bad = Buffer.from('\0juliet\0wrong').toString('base64');
    for (let i = 0; i < 3; i++) {
      c.send(`<auth xmlns='${SASL}' mechanism='PLAIN'>${bad}</auth>`);
      const failure = await c.next((el) => el.is('failure', SASL) && !el.attrs['seen'], 'failure');
      failure.attrs['seen'] = '1';
      expect(failure.getChild('not-authorized')).toBeDefined();
    }
    await expectStreamError(c, 'policy-violation');
  });
});

describe('limits and stanza checks after login', () => {
  it('closes on an oversized stanza with policy-violation', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.login('juliet', 'romeo-oh-romeo', 'big');
    c.send(`<message to='romeo@localhost'><body>${'x'.repeat(8000)}</body></message>`);
    await expectStreamError(c, 'policy-violation');
    await t.routes.waitFor(
      (e) => e.kind === 'session-end' && e.from === 'juliet@localhost/big',
      'session-end',
    );
  });

  it('closes on a stanza nested past the configured depth cap with policy-violation', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.login('juliet', 'romeo-oh-romeo', 'deep');
    // Depth 8 (message + 7 levels) is within limits.maxDepth = 8, well under the default of 32.
    const nest = (levels: number): string => '<x>'.repeat(levels) + '</x>'.repeat(levels);
    c.send(`<message to='romeo@localhost' id='ok'><body>fine</body>${nest(7)}</message>`);
    await t.routes.waitFor(
      (e) => e.from === 'juliet@localhost/deep' && e.kind === 'message',
      'the depth-8 message',
    );
    c.send(`<message to='romeo@localhost' id='deep'>${nest(8)}</message>`);
    await expectStreamError(c, 'policy-violation');
  });

  it('closes on a stanza flood with policy-violation', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.login('juliet', 'romeo-oh-romeo', 'flood');
    c.send(
      Array.from(
        { length: 40 },
        (_, i) => `<message to='romeo@localhost' id='f${i}'><body>${i}</body></message>`,
      ).join(''),
    );
    await expectStreamError(c, 'policy-violation');
    const published = t.routes.all.filter((e) => e.from === 'juliet@localhost/flood' && e.kind === 'message');
    expect(published.length).toBeLessThan(40);
  });

  it('closes on a spoofed from with invalid-from (RFC 6120 §4.9.3.9)', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.login('juliet', 'romeo-oh-romeo', 'spoof');
    c.send(`<message from='romeo@localhost/orchard' to='nurse@localhost'><body>it is I</body></message>`);
    await expectStreamError(c, 'invalid-from');
    expect(t.routes.all.some((e) => e.xml.includes('it is I'))).toBe(false);
  });

  it("stamps the full JID on a stanza whose from is the client's own bare JID", async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    const full = await c.login('juliet', 'romeo-oh-romeo', 'balcony');
    c.send(`<message from='juliet@localhost' to='romeo@localhost' id='own'><body>wherefore</body></message>`);
    const env = await t.routes.waitFor((e) => e.stanzaId === 'own', 'stamped message');
    expect(env.from).toBe(full);
    expect(env.xml).toContain(`from="${full}"`);
    c.destroy();
  });

  it('answers a malformed address with jid-malformed and an iq without id with bad-request', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.login('juliet', 'romeo-oh-romeo', 'checks');
    c.send(`<message to='romeo@@localhost' id='bad-to'><body>x</body></message>`);
    const reply = await c.next((el) => el.attrs['id'] === 'bad-to', 'error reply');
    expect(reply.attrs['type']).toBe('error');
    expect(reply.getChild('error')?.getChild('jid-malformed')).toBeDefined();
    c.send(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const iqError = await c.next(
      (el) => el.is('iq') && el.attrs['type'] === 'error' && el.attrs['id'] === undefined,
      'iq error',
    );
    expect(iqError.getChild('error')?.getChild('bad-request')).toBeDefined();
    c.send(`<iq type='set' id='two'><a xmlns='urn:x'/><b xmlns='urn:y'/></iq>`);
    const two = await c.next((el) => el.attrs['id'] === 'two', 'iq error');
    expect(two.getChild('error')?.getChild('bad-request')).toBeDefined();
    c.destroy();
  });

  it('writes a delivery once even when the bus repeats it, and closes on a close order', async () => {
    const c = await RawClient.tls(t.ports.tlsPort);
    const full = await c.login('juliet', 'romeo-oh-romeo', 'deliveries');
    const start = await t.routes.waitFor(
      (e) => e.kind === 'session-start' && e.from === full,
      'session-start',
    );
    const delivery = {
      v: 1 as const,
      kind: 'stanza' as const,
      id: 'env-1',
      sessionId: start.sessionId,
      to: full,
      xml: `<message xmlns="jabber:client" from="romeo@localhost/x" to="${full}" id="once"><body>1</body></message>`,
      ts: Date.now(),
    };
    await t.deliver(delivery);
    await t.deliver(delivery);
    await t.deliver({ ...delivery, id: 'env-2', xml: delivery.xml.replace('id="once"', 'id="after"') });
    await c.next((el) => el.attrs['id'] === 'after', 'second delivery');
    expect(c.count((el) => el.attrs['id'] === 'once')).toBe(1);
    await t.deliver({
      v: 1,
      kind: 'close',
      id: 'env-3',
      sessionId: start.sessionId,
      to: full,
      condition: 'conflict',
      text: 'replaced',
      ts: Date.now(),
    });
    const error = await c.streamError();
    expect(error.condition).toBe('conflict');
    expect(error.text).toBe('replaced');
    await c.closed;
    await t.routes.waitFor((e) => e.kind === 'session-end' && e.from === full, 'session-end');
  });
});
