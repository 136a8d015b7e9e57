import { afterEach, describe, expect, it } from 'vitest';
import { client } from '@xmpp/client';
import { onlineClient, RawClient, startEdge, type TestEdge } from './harness.js';

const REGISTER = 'jabber:iq:register';

let t: TestEdge | undefined;

afterEach(async () => {
  await t?.stop();
  t = undefined;
});

function registration(id: string, username: string, password: string): string {
  return `<iq type='set' id='${id}'><query xmlns='${REGISTER}'><username>${username}</username><password>${password}</password></query></iq>`;
}

describe('in-band registration (XEP-0077)', () => {
  it('registers an account that @xmpp/client can then log in with, and refuses a taken name with conflict', async () => {
    t = await startEdge();
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.open();
    // XEP-0077 §3.1 Example 1.
    c.send(`<iq type='get' id='reg1'><query xmlns='${REGISTER}'/></iq>`);
    const form = await c.next((el) => el.attrs['id'] === 'reg1', 'registration form');
    const query = form.getChild('query', REGISTER);
    expect(query?.getChild('username')).toBeDefined();
    expect(query?.getChild('password')).toBeDefined();
    expect(query?.getChild('instructions')).toBeDefined();

    c.send(registration('reg2', 'bill', 'Calliope'));
    const created = await c.next((el) => el.attrs['id'] === 'reg2', 'registration result');
    expect(created.attrs['type']).toBe('result');
    expect(await t.store.accounts.get('bill@localhost')).not.toBeNull();

    c.send(registration('reg3', 'bill', 'other'));
    const taken = await c.next((el) => el.attrs['id'] === 'reg3', 'conflict');
    expect(taken.getChild('error')?.getChild('conflict')).toBeDefined();

    c.send(`<iq type='set' id='reg4'><query xmlns='${REGISTER}'><username>bill</username></query></iq>`);
    const missing = await c.next((el) => el.attrs['id'] === 'reg4', 'not-acceptable');
    expect(missing.getChild('error')?.getChild('not-acceptable')).toBeDefined();
    c.destroy();

    const xmpp = client({
      service: `xmpps://127.0.0.1:${t.ports.tlsPort}`,
      domain: 'localhost',
      username: 'bill',
      password: 'Calliope',
      resource: 'new',
    });
    xmpp.on('error', () => undefined);
    await onlineClient(xmpp);
    expect(xmpp.jid?.toString()).toBe('bill@localhost/new');
    await xmpp.stop();
  });

  it('does not offer registration before TLS and refuses it there', async () => {
    t = await startEdge();
    const c = await RawClient.tcp(t.ports.tcpPort);
    const features = await c.open();
    expect(features.getChild('register', 'http://jabber.org/features/iq-register')).toBeUndefined();
    c.send(registration('plain', 'eve', 'secret'));
    const refused = await c.next((el) => el.attrs['id'] === 'plain', 'refusal');
    expect(refused.attrs['type']).toBe('error');
    expect(await t.store.accounts.get('eve@localhost')).toBeNull();
    c.destroy();
  });

  it('limits registrations per address', async () => {
    t = await startEdge({ registration: { perIpPerHour: 1 } });
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.open();
    c.send(registration('one', 'first', 'pw-one'));
    expect((await c.next((el) => el.attrs['id'] === 'one', 'first')).attrs['type']).toBe('result');
    c.send(registration('two', 'second', 'pw-two'));
    const second = await c.next((el) => el.attrs['id'] === 'two', 'second');
    expect(second.getChild('error')?.getChild('policy-violation')).toBeDefined();
    expect(await t.store.accounts.get('second@localhost')).toBeNull();
    c.destroy();
  });

  it('changes the password and removes the account after login (XEP-0077 §3.2, §3.3)', async () => {
    t = await startEdge();
    await t.createAccount('carol', 'old-password');
    const c = await RawClient.tls(t.ports.tlsPort);
    const full = await c.login('carol', 'old-password', 'settings');
    c.send(registration('change', 'carol', 'new-password'));
    expect((await c.next((el) => el.attrs['id'] === 'change', 'change')).attrs['type']).toBe('result');
    c.send(`<iq type='set' id='unreg'><query xmlns='${REGISTER}'><remove/></query></iq>`);
    expect((await c.next((el) => el.attrs['id'] === 'unreg', 'removal')).attrs['type']).toBe('result');
    expect((await c.streamError()).condition).toBe('not-authorized');
    await c.closed;
    expect(await t.store.accounts.get('carol@localhost')).toBeNull();
    await t.routes.waitFor((e) => e.kind === 'session-end' && e.from === full, 'session-end');
  });
});

describe('operations', () => {
  it('drains: clients get see-other-host, session-end is published, readiness drops', async () => {
    t = await startEdge({ drain: { seeOtherHost: 'edge2.localhost:5222' } });
    await t.createAccount('dave', 'pw-dave-123');
    const c = await RawClient.tls(t.ports.tlsPort);
    const full = await c.login('dave', 'pw-dave-123', 'drain');
    expect(t.edge.ready()).toBe(true);
    const drained = t.edge.drain();
    expect(t.edge.ready()).toBe(false);
    const error = await c.streamError();
    expect(error.condition).toBe('see-other-host');
    expect(error.el.getChildElements()[0]?.getText()).toBe('edge2.localhost:5222');
    c.end();
    await drained;
    expect(t.edge.connectionCount()).toBe(0);
    await t.routes.waitFor((e) => e.kind === 'session-end' && e.from === full, 'session-end');
  });

  it('closes an idle stream with connection-timeout', async () => {
    t = await startEdge({ limits: { idleTimeoutSeconds: 0.2 } });
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.open();
    expect((await c.streamError()).condition).toBe('connection-timeout');
  });

  it('sends whitespace keepalives to a quiet stream', async () => {
    t = await startEdge({ limits: { keepaliveSeconds: 0.1 } });
    const c = await RawClient.tls(t.ports.tlsPort);
    await c.open();
    await c.whitespace();
    c.destroy();
  });

  it('refuses connections past the per-address cap with policy-violation', async () => {
    t = await startEdge({ limits: { maxConnectionsPerIp: 2 } });
    const first = await RawClient.tls(t.ports.tlsPort);
    const second = await RawClient.tls(t.ports.tlsPort);
    await first.open();
    await second.open();
    const third = await RawClient.tls(t.ports.tlsPort);
    expect((await third.streamError()).condition).toBe('policy-violation');
    first.destroy();
    await first.closed;
    second.destroy();
  });
});
