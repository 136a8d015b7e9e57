// Bad input and limits at the gateway, against a real ngircd: the per-server user limit, MUC join
// errors (XEP-0045 §7.2) and messages from non-occupants, through the gateway's transport contract.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@switchboard/kit';
import { xml, type Element } from '@switchboard/xml';
import { build, type IrcGatewayApp } from '../src/app.js';
import { ircGatewaySettingsSchema, toIrcGatewayConfig } from '../src/config.js';
import { startNgircd, type Ngircd } from '../src/irc/test/ngircd.js';
import type { Memberships } from '../src/persistence/memberships.js';
import { openSqliteMemberships } from '../src/persistence/sqlite.js';
import type { Transport } from '../src/transports/index.js';

const ROOM = '#limits%127.0.0.1@irc.localhost';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

const condition = (el: Element): string | undefined =>
  el
    .getChild('error')
    ?.getChildElements()
    .find((c) => c.getNS() === NS_STANZAS && c.name !== 'text')?.name;

describe('IRC gateway limits and bad input', () => {
  const sent: Element[] = [];
  const waiters: { test: (el: Element) => boolean; resolve: (el: Element) => void }[] = [];
  let ngircd: Ngircd;
  let memberships: Memberships;
  let app: IrcGatewayApp;
  let deliver: (el: Element) => Promise<void> = () => Promise.resolve();

  const next = (test: (el: Element) => boolean): Promise<Element> => {
    const found = sent.findIndex(test);
    if (found >= 0) return Promise.resolve(sent.splice(found, 1)[0]!);
    return new Promise((resolve) => waiters.push({ test, resolve }));
  };
  const errorFor = (id: string) => (el: Element) => el.attrs['id'] === id && el.attrs['type'] === 'error';
  const join = (from: string, occupant: string, id: string): Promise<void> =>
    deliver(
      xml('presence', { from, to: occupant, id }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })),
    );

  beforeAll(async () => {
    ngircd = await startNgircd();
    memberships = openSqliteMemberships({ path: ':memory:' });
    const transport: Transport = {
      start: (onStanza) => {
        deliver = (el) => onStanza(el, { id: el.attrs['id'] ?? '' });
        return Promise.resolve();
      },
      send: (el) => {
        const waiter = waiters.find((w) => w.test(el));
        if (waiter === undefined) sent.push(el);
        else {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(el);
        }
        return Promise.resolve();
      },
      stop: () => Promise.resolve(),
    };
    const settings = ircGatewaySettingsSchema.parse({
      domain: 'irc.localhost',
      servers: { '127.0.0.1': { port: ngircd.port, tls: false } },
      maxUsersPerServer: 1,
      allowedServers: ['127.0.0.1'],
    });
    app = build(toIrcGatewayConfig(settings), {
      transport,
      memberships,
      logger: createLogger({ service: 'irc-limits', level: 'silent' }),
    });
    await app.start();
  }, 30_000);

  afterAll(async () => {
    await app?.stop();
    await memberships?.close();
    await ngircd?.stop();
  });

  it('refuses a join without a nick (jid-malformed) or with one IRC cannot carry (not-acceptable)', async () => {
    await deliver(xml('presence', { from: 'a@localhost/r', to: ROOM, id: 'no-nick' }));
    expect(condition(await next(errorFor('no-nick')))).toBe('jid-malformed');
    await join('a@localhost/r', `${ROOM}/has space`, 'bad-nick');
    const error = await next(errorFor('bad-nick'));
    expect(condition(error)).toBe('not-acceptable');
    expect(error.getChild('x', 'http://jabber.org/protocol/muc')).toBeDefined();
  });

  it('refuses servers outside allowedServers', async () => {
    await join('a@localhost/r', '#x%irc.example.net@irc.localhost/alice', 'not-allowed');
    expect(condition(await next(errorFor('not-allowed')))).toBe('not-allowed');
  });

  it('refuses a groupchat message from a non-occupant (XEP-0045 §7.4)', async () => {
    await deliver(
      xml('message', { from: 'a@localhost/r', to: ROOM, type: 'groupchat', id: 'm1' }, xml('body', {}, 'hi')),
    );
    expect(condition(await next(errorFor('m1')))).toBe('not-acceptable');
  });

  it('connects at most maxUsersPerServer users to one IRC server', async () => {
    await join('alice@localhost/r', `${ROOM}/alice`, 'alice-join');
    await next(
      (el) =>
        el.attrs['from'] === `${ROOM}/alice` &&
        el
          .getChild('x', 'http://jabber.org/protocol/muc#user')
          ?.getChildren('status')
          .some((s) => s.attrs['code'] === '110') === true,
    );
    await join('bob@localhost/r', `${ROOM}/bob`, 'bob-join');
    expect(condition(await next(errorFor('bob-join')))).toBe('service-unavailable');
    expect(app.gateway.sessionCount).toBe(1);
  });

  it('answers MUC self-pings: result while joined, not-acceptable otherwise (XEP-0410)', async () => {
    const ping = (from: string, id: string): Promise<void> =>
      deliver(
        xml('iq', { from, to: `${ROOM}/alice`, type: 'get', id }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
      );
    await ping('alice@localhost/r', 'ping-joined');
    expect((await next((el) => el.attrs['id'] === 'ping-joined')).attrs['type']).toBe('result');
    await ping('alice@localhost/other', 'ping-other');
    expect(condition(await next(errorFor('ping-other')))).toBe('not-acceptable');
  });
});
